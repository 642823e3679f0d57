"""The connection a request comes from, as its row says now: known, within its deadline (an
expired session is ended on the spot), and whether it may send (in a room, not muted)."""

from __future__ import annotations

from typing import Callable

from handler import protocol
from handler.errors import SessionExpired
from handler.protocol import ErrorCode, ProtocolError
from handler.store.connections import Connection, ConnectionStore


def expiry_reason(conn: Connection, now_s: int) -> protocol.SessionEnd:
    """Why a connection past its deadline ends: its token expired, or its session limit ran out."""
    return protocol.SessionEnd.TOKEN_EXPIRED if conn.expires_at <= now_s else protocol.SessionEnd.SESSION_LIMIT


class LiveConnections:
    def __init__(self, connections: ConnectionStore, clock: Callable[[], int],
                 end_connection: Callable[[str, protocol.SessionEnd], bool]):
        self.connections = connections
        self.clock = clock
        # Housekeeping.end_connection: a session found past its deadline is closed, and told why.
        self.end_connection = end_connection

    def get(self, connection_id: str) -> Connection:
        """The connection's row, or `not_connected`; a session past its deadline is ended."""
        return self.alive(connection_id, self.connections.get_connection(connection_id))

    def alive(self, connection_id: str, conn: Connection | None) -> Connection:
        """`conn` (the row just read), or `not_connected`; a session past its deadline is ended."""
        if conn is None:
            raise ProtocolError(ErrorCode.NOT_CONNECTED, "this connection is no longer known; reconnect")
        if self.clock() // 1000 >= conn.deadline:
            self.end_connection(conn.connection_id, expiry_reason(conn, self.clock() // 1000))
            raise SessionExpired()
        return conn

    def check_may_send(self, conn: Connection) -> None:
        """A kicked or banned connection is in no room; a muted user waits. Both from the row."""
        if not conn.room:
            raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is in no room: join one first")
        if conn.muted_until > self.clock():
            raise protocol.refusal(ErrorCode.MUTED, f"you are muted in {conn.room}", until_ms=conn.muted_until)

    def in_room(self, connection_id: str, room: str | None) -> Connection:
        """The live connection, which must be in `room` (when named) and may send there."""
        conn = self.get(connection_id)
        if room is not None and room != conn.room:
            raise ProtocolError(ErrorCode.FORBIDDEN, f"this connection is not in room {room!r}; join it first")
        # Whoever may not send (a kicked or banned connection, in no room; a muted user) may not
        # edit, react or type either.
        self.check_may_send(conn)
        return conn
