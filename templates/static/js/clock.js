// The page's clocks: when the connection opened, how long the session has run, and the deadlines
// that end it (the token's expiry, a session limit, the opt-in auto-disconnect). Times only: the
// chat page shows them and acts when one is due.

export function formatClock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// 75 -> "1:15", 3725 -> "1:02:05"; a deadline already past shows as "0:00".
export function formatDuration(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export class SessionClock {
  // login: {expiresAtMs, sessionLimitSeconds} from the token (session.js).
  constructor({ expiresAtMs, sessionLimitSeconds }) {
    this.tokenExpiresAtMs = expiresAtMs;
    this.sessionLimitMs = sessionLimitSeconds ? sessionLimitSeconds * 1000 : null;
    this.firstConnectedAt = null; // the session timer counts from here, across reconnects
    this.connectedAt = null; // this connection's start (a Date), as the server saw it
    this.sessionEndsAtMs = null;
    this.autoDeadline = null;
  }

  // A welcome frame: the connection's start, and the session limit if there is one.
  connected(welcome, now = Date.now()) {
    this.connectedAt = new Date(welcome.connectedAt);
    this.firstConnectedAt ??= now;
    // The limit counts from the first connection: reconnecting does not extend it. The server's
    // time comes first; the token's limit stands in when the welcome has none.
    if (this.sessionEndsAtMs !== null) return;
    if (welcome.sessionEndsAt) this.sessionEndsAtMs = Date.parse(welcome.sessionEndsAt);
    else if (this.sessionLimitMs) this.sessionEndsAtMs = now + this.sessionLimitMs;
  }

  // Disconnect after `minutes` from now; anything but a positive number switches it off.
  setAutoDisconnect(minutes, now = Date.now()) {
    const valid = Number.isFinite(minutes) && minutes > 0;
    this.autoDeadline = valid ? now + minutes * 60_000 : null;
  }

  // Seconds on each clock; null for a clock that does not run (not connected yet, no limit, no
  // auto-disconnect).
  read(now = Date.now()) {
    const until = (ms) => (ms === null ? null : (ms - now) / 1000);
    return {
      session: this.firstConnectedAt === null ? null : (now - this.firstConnectedAt) / 1000,
      token: until(this.tokenExpiresAtMs),
      limit: until(this.sessionEndsAtMs),
      auto: until(this.autoDeadline),
    };
  }

  // What has run out: "token_expired" or "session_limit" (the server's SessionEnd codes, as the
  // server would end the session for the same cause), "auto", or null.
  due(now = Date.now()) {
    if (now >= this.tokenExpiresAtMs) return "token_expired";
    if (this.sessionEndsAtMs !== null && now >= this.sessionEndsAtMs) return "session_limit";
    if (this.autoDeadline !== null && now >= this.autoDeadline) return "auto";
    return null;
  }
}
