"""Server-side limits as plain arithmetic, no I/O: rate budgets (messages, joins, history requests,
presence frames) and the login policy. The stores keep their state; chat.py and accounts.py
enforce them; settings.Limits holds their numbers."""

from __future__ import annotations

import ipaddress
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
class LoginPolicy:
    """How failed logins are limited (docs/reliability.md, "Abuse"). Every login attempt reserves
    a failure in its counters before the password is checked, and a success gives it back, so
    concurrent guesses can never check more passwords than the limits allow.

    - per (username, address): `pair_max_failures` within `window_seconds`, then that address
      is refused for that name (429) until the window ends;
    - per address, over all names: `address_max_failures` within `window_seconds`, then refused
      (429) for every name it has not logged in as lately;
    - per username, over all addresses: past `slowdown_after` failures within
      `slowdown_window_seconds`, attempts take turns, one per `delay_seconds(failures)` (429 with
      Retry-After for the others). Addresses the user has not logged in from lately share the
      name's turns; each known address has turns of its own, so attempts from elsewhere never
      hold up the owner's own address. Never a lockout.

    An address the user logged in from (or registered from) within `known_address_days` is
    "known" for that user: it skips the per-address limit and has its own turns; the pair limit
    applies to it as to any address.
    """

    pair_max_failures: int
    address_max_failures: int
    window_seconds: int
    slowdown_after: int
    slowdown_window_seconds: int
    slowdown_base_seconds: int
    slowdown_max_seconds: int
    known_address_days: int

    def delay_seconds(self, failures: int) -> int:
        """The wait before the next attempt from an unknown address, once the username has
        `failures` (this attempt included): none up to the threshold, then doubling, capped."""
        over = failures - self.slowdown_after
        if over <= 0:
            return 0
        # The exponent is capped so that a huge count is still cheap arithmetic.
        return min(self.slowdown_max_seconds, self.slowdown_base_seconds * 2 ** min(over - 1, 40))

    @property
    def known_address_seconds(self) -> int:
        return self.known_address_days * 86400


def address_group(address: str) -> str:
    """The unit an address is counted in: an IPv4 address itself, an IPv6 address's /64 (one
    subscriber's network: counting single IPv6 addresses would give an attacker 2^64 of them)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
