"""A pass-through proxy between the functions and DynamoDB Local that can hold back one request.

It makes an interleaving happen on purpose: `hold(rule)` stops the first request whose head and
body match `rule` until `release()`; everything else passes at once. The functions reach
DynamoDB through it when the stack's WSCHAT_DDB_PORT names its port (the stack itself creates the
tables on the real port).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Callable

from bench.proxy import DelayProxy

# A held request goes on by itself after this long, so a failing test cannot hang the stack.
HOLD_MAX_SECONDS = 30


class DynamoGate(DelayProxy):
    """The benchmark's relay (bench/proxy.py) with no delay, holding back the request a rule picks."""

    def __init__(self, upstream_port: int):
        super().__init__(upstream_port, 0)
        self.held = threading.Event()  # set once the rule's request is being held
        self._rule: Callable[[bytes, bytes], bool] | None = None
        self._release: asyncio.Event | None = None

    def hold(self, rule: Callable[[bytes, bytes], bool]) -> None:
        """Hold the next request for which rule(head, body) is true."""

        async def arm():
            self._release = asyncio.Event()

        asyncio.run_coroutine_threadsafe(arm(), self.loop).result(5)
        self.held.clear()
        self._rule = rule

    def release(self) -> None:
        self._rule = None
        if self._release is not None:
            self.loop.call_soon_threadsafe(self._release.set)

    async def before_forward(self, head: bytes, body: bytes) -> None:
        rule = self._rule
        if rule is not None and rule(head, body):
            self._rule = None  # only the first match waits
            self.held.set()
            try:
                await asyncio.wait_for(self._release.wait(), HOLD_MAX_SECONDS)
            except asyncio.TimeoutError:
                pass
