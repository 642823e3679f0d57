"""Spending a user's per-kind budget (messages, joins, room actions, ...), or refusing the request
with `rate_limited` and how long to wait."""

from __future__ import annotations

from typing import Callable

from handler import log
from handler.limits import Budget
from handler.protocol import ErrorCode, ProtocolError
from handler.store.budgets import BudgetStore


class RateLimiter:
    def __init__(self, budgets: BudgetStore, clock: Callable[[], int]):
        self.budgets = budgets
        self.clock = clock

    def spend_or_refuse(self, kind: str, username: str, budget: Budget, what: str) -> None:
        """Spend one of the user's `kind` budget, or refuse the request with `rate_limited`."""
        self.refuse_if_waiting(kind, what, self.budgets.spend(kind, username, budget, self.clock()))

    @staticmethod
    def refuse_if_waiting(kind: str, what: str, wait_ms: int | None) -> None:
        """Refuse with `rate_limited` when the budget allows nothing for `wait_ms` more."""
        if wait_ms is None:
            return
        log.add(rateLimited=kind)
        raise ProtocolError(ErrorCode.RATE_LIMITED, f"{what}: wait {max(wait_ms / 1000, 0.5):.1f} s",
                            retryAfterMs=wait_ms)
