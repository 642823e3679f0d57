"""The scenarios of every function, by function (infra/functions.yml's names), as the family
modules register them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.iam_scenarios.world import World

SCENARIOS: dict[str, list[Callable[["World"], None]]] = {}
# Functions whose scenarios make no AWS call: they answer from the event alone, in their route's
# response (a two-way route), so their roles grant nothing but their logs.
CALLS_NOTHING = {"heartbeat"}


def scenario(function: str):
    """Register a scenario of `function` (infra/functions.yml's name)."""

    def register(run: Callable[["World"], None]):
        SCENARIOS.setdefault(function, []).append(run)
        return run

    return register
