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

from bench.background import BackgroundServer

# A held request goes on by itself after this long, so a failing test cannot hang the stack.
HOLD_MAX_SECONDS = 30


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """One HTTP/1.1 message with a Content-Length body: (head, body); None at the end of the stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head, body


class DynamoGate(BackgroundServer):
    def __init__(self, upstream_port: int):
        super().__init__()
        self.upstream_port = upstream_port
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

    async def _serve(self):
        return await asyncio.start_server(self._relay, "127.0.0.1", 0, backlog=1024)

    async def _relay(self, reader, writer):
        upstream = None
        try:
            while True:
                request = await _read_message(reader)
                if request is None:
                    return
                rule = self._rule
                if rule is not None and rule(*request):
                    self._rule = None  # only the first match waits
                    self.held.set()
                    try:
                        await asyncio.wait_for(self._release.wait(), HOLD_MAX_SECONDS)
                    except asyncio.TimeoutError:
                        pass
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                up_reader, up_writer = upstream
                up_writer.write(request[0] + request[1])
                await up_writer.drain()
                response = await _read_message(up_reader)
                if response is None:
                    return
                writer.write(response[0] + response[1])
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            if upstream is not None:
                upstream[1].close()
