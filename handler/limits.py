"""Server-side limits as plain arithmetic, no I/O: the per-connection message bucket and the login
back-off. storage.py keeps their state; chat.py and http_auth.py enforce them."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class MessageLimit:
    """A token bucket per connection: `burst` messages at once, then `rate` per second."""

    burst: float
    rate: float

    @classmethod
    def from_env(cls) -> "MessageLimit":
        return cls(burst=_env_float("WSCHAT_MESSAGE_BURST", 10), rate=_env_float("WSCHAT_MESSAGE_RATE", 2))

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

    @classmethod
    def from_env(cls) -> "LoginLimit":
        return cls(
            max_failures=int(_env_float("WSCHAT_LOGIN_MAX_FAILURES", 5)),
            window_seconds=int(_env_float("WSCHAT_LOGIN_WINDOW_SECONDS", 900)),
        )

    def locked(self, failures: int) -> bool:
        return failures >= self.max_failures
