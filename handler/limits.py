"""Server-side limits as plain arithmetic, no I/O: rate budgets (messages, joins, history requests,
presence frames) and the login back-off. The stores keep their state; chat.py and accounts.py
enforce them; settings.Limits holds their numbers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """`burst` actions at once, then `rate` a second, for one subject (a user, a user in a room).

    The state is one number per subject, `tat` (epoch ms): when the subject's budget will be full
    again (the "theoretical arrival time" of the generic cell rate algorithm). Each action moves
    it one interval (1/rate) later, starting from now if it lies in the past; an action is refused
    while `tat` lies more than burst-1 intervals ahead. Unlike a token bucket (tokens and a time)
    this needs no read before the write: BudgetStore spends with a conditional update, so that
    two actions at once can never both take the last place.
    """

    burst: float
    rate: float  # actions a second, > 0

    @property
    def interval_ms(self) -> int:
        return max(1, round(1000 / self.rate))

    @property
    def tolerance_ms(self) -> int:
        """How far ahead of now `tat` may lie for one more action to be allowed."""
        return max(0, round((self.burst - 1) * self.interval_ms))

    def spend(self, tat_ms: int | None, now_ms: int) -> int | None:
        """The new `tat` after one more action, or None when the budget is spent (refuse it)."""
        if tat_ms is None or tat_ms <= now_ms:
            return now_ms + self.interval_ms  # idle long enough: the budget is full
        if tat_ms - now_ms <= self.tolerance_ms:
            return tat_ms + self.interval_ms
        return None

    def retry_after_ms(self, tat_ms: int, now_ms: int) -> int:
        """How long a refused subject waits until its next action is allowed (at least 1 ms)."""
        return max(1, tat_ms - self.tolerance_ms - now_ms)


@dataclass(frozen=True)
class LoginLimit:
    """After `max_failures` failed logins within `window_seconds` for a username (or from one
    address), logins are refused until the window ends; the answer is the same as a wrong password."""

    max_failures: int
    window_seconds: int

    def locked(self, failures: int) -> bool:
        return failures >= self.max_failures
