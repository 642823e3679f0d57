"""The physical limit: a bare asyncio `websockets` broadcast server, no Lambda, no database.
Same frames in and out as wschat (clients send sendmessage, everyone in the room gets a message)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse

import websockets
from websockets.asyncio.server import broadcast, serve


class BareServer:
    def __init__(self):
        self.rooms: dict[str, set] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None
        self.port = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _handle(self, connection):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(connection.request.path).query)
        room = query.get("room", ["general"])[0]
        members = self.rooms.setdefault(room, set())
        members.add(connection)
        try:
            async for raw in connection:
                frame = json.loads(raw)
                if frame.get("action") == "sendmessage":
                    out = json.dumps({"type": "message", "room": room, "message": frame["message"],
                                      "clientMsgId": frame.get("clientMsgId"), "sentAt": time.time()})
                    broadcast(self.rooms[room], out)
                elif frame.get("action") == "join":
                    await connection.send(json.dumps({"type": "welcome", "room": room}))
        except websockets.ConnectionClosed:
            pass
        finally:
            members.discard(connection)

    def start(self) -> "BareServer":
        self.thread.start()
        async def start():
            return await serve(self._handle, "127.0.0.1", 0, max_queue=None)

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def main() -> None:
    server = BareServer().start()
    print(server.port, flush=True)
    server.thread.join()


if __name__ == "__main__":
    main()
