"""Answering a connection: its reply, an error frame, and a frame posted to several connections
(a user's tabs, the connections a kick moved); connections found gone on the way are dropped."""

from __future__ import annotations

from typing import Callable

from handler import log, protocol
from handler.errors import ConnectionGone, FrameTooLarge, SendFailed, StorageUnavailable
from handler.protocol import ErrorCode
from handler.sender import Sender


class Replies:
    def __init__(self, sender: Sender, drop_gone: Callable[[list[str]], list[str]]):
        self.sender = sender
        # Departures.drop_gone: forget connections API Gateway says are gone, and tell their rooms.
        self.drop_gone = drop_gone

    def reply(self, connection_id: str, frame: dict) -> None:
        """Send the asker its reply. One the management API refuses as too large (a bug: replies are
        built under protocol.FRAME_BUDGET_BYTES) is logged, and the asker told, never left waiting."""
        try:
            self.sender.send(connection_id, frame)
        except FrameTooLarge as exc:
            log.error("reply too large for API Gateway", frameType=frame.get("type"), bytes=exc.size)
            self.reply_error(connection_id, ErrorCode.INTERNAL, f"the {frame.get('type')} reply was too large to send")

    def reply_error(self, connection_id: str, code: ErrorCode, message: str, fields: dict | None = None) -> None:
        """Tell the sender what went wrong; if even that fails there is no one left to tell."""
        try:
            self.sender.send(connection_id, {**protocol.error_frame(code, message), **(fields or {})})
        except ConnectionGone:
            self.drop_gone([connection_id])
        except (SendFailed, StorageUnavailable):
            log.warning("could not deliver an error frame", code=code.value)

    def tell_connections(self, connection_ids: list[str], frame: dict) -> None:
        """Post `frame` to each of these connections, and drop those found gone."""
        if not connection_ids:
            return
        result = self.sender.broadcast(connection_ids, frame)
        if result.gone:
            self.drop_gone(result.gone)
