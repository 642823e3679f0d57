"""The physical limit: a bare asyncio `websockets` broadcast server, no Lambda, no database.
Same frames in and out as wschat (clients send sendmessage, everyone in the room gets a message)."""

from __future__ import annotations

import json
import time
import urllib.parse

import websockets
from websockets.asyncio.server import broadcast, serve

from bench.background import BackgroundServer


class BareServer(BackgroundServer):
    def __init__(self):
        super().__init__()
        self.rooms: dict[str, set] = {}

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

    async def _serve(self):
        return await serve(self._handle, "127.0.0.1", 0, max_queue=None)


def main() -> None:
    server = BareServer().start()
    print(server.port, flush=True)
    server.thread.join()


if __name__ == "__main__":
    main()
