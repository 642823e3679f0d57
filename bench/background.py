"""An asyncio server running in its own thread and loop, for the benchmark's helper processes."""

from __future__ import annotations

import asyncio
import threading


class BackgroundServer:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None
        self.port = None

    async def _serve(self):
        """Start listening on 127.0.0.1, any port; return the server."""
        raise NotImplementedError

    def start(self):
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
