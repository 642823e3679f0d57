"""Server-side limits as plain arithmetic, no I/O: the per-connection message bucket and the login
back-off. The stores keep their state; chat.py and accounts.py enforce them; settings.Limits
holds their numbers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageLimit:
    """A token bucket per connection: `burst` messages at once, then `rate` per second."""

    burst: float
    rate: float

    def take(self, tokens: float | None, updated_ms: int | None, now_ms: int) -> float | None:
        """Tokens left after one message, or None when the bucket is empty (refuse the message)."""
        if tokens is None or updated_ms is None:
            tokens = self.burst  # a new connection starts with a full bucket
        else:
            tokens = min(self.burst, tokens + max(0, now_ms - updated_ms) / 1000 * self.rate)
        if tokens < 1:
            return None
        return tokens - 1

    def retry_after_seconds(self, tokens: float | None, updated_ms: int | None, now_ms: int) -> float:
        if tokens is None or updated_ms is None or self.rate <= 0:
            return 1.0
        current = min(self.burst, tokens + max(0, now_ms - updated_ms) / 1000 * self.rate)
        return max(0.0, (1 - current) / self.rate)


@dataclass(frozen=True)
class LoginLimit:
    """After `max_failures` failed logins within `window_seconds` for a username (or from one
    address), logins are refused until the window ends; the answer is the same as a wrong password."""

    max_failures: int
    window_seconds: int

    def locked(self, failures: int) -> bool:
        return failures >= self.max_failures
