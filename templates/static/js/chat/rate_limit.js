// How long a message refused by the rate limit waits before it goes again.

// A rate_limited frame says how long to wait in retryAfterMs; a server that sends none gets this
// (the default limit refills a message every 500 ms), and a zero or tiny wait is stretched to the
// floor, so that a refused message is never resent in a busy loop.
export const RATE_LIMIT_WAIT_FALLBACK_MS = 1_000;
export const RATE_LIMIT_WAIT_FLOOR_MS = 250;

export function rateLimitWaitMs(frame) {
  const ms = frame.retryAfterMs;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return RATE_LIMIT_WAIT_FALLBACK_MS;
  return Math.max(ms, RATE_LIMIT_WAIT_FLOOR_MS);
}
