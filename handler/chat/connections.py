"""A connection coming in and moving: $connect (the row, the session, the room told) and `join`
(the welcome, with the room's online users, recent history and the user's read marker).

$connect refuses with ConnectRefused (handler/chat/refusals.py); the entry layer answers the
status API Gateway refuses the upgrade with.
"""

from __future__ import annotations

from typing import Callable

from handler import log, protocol
from handler.chat.admission import RoomAdmission
from handler.chat.departures import Departures, online_users
from handler.chat.live_connections import LiveConnections
from handler.chat.message_frames import message_frame
from handler.chat.quotes import Quotes
from handler.chat.rate_limits import RateLimiter
from handler.chat.refusals import ConnectRefusal, ConnectRefused
from handler.chat.replies import Replies
from handler.chat.side_pool import side_pool
from handler.guard import quietly
from handler.limits import Budget
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.sender import Sender
from handler.settings import Limits
from handler.store.connections import Connection, ConnectionStore
from handler.store.messages import MessageStore
from handler.store.read_markers import MarkerStore
from handler.store.sessions import SessionStore


class Connections:
    def __init__(
        self, connections: ConnectionStore, sessions: SessionStore, messages: MessageStore, markers: MarkerStore, *,
        sender: Sender, live: LiveConnections, admission: RoomAdmission, departures: Departures, replies: Replies,
        limiter: RateLimiter, quotes: Quotes, limits: Limits, clock: Callable[[], int],
        is_revoked: Callable[[Identity], bool], is_admin: Callable[[str], bool],
    ):
        self.connections = connections
        self.sessions = sessions
        self.messages = messages
        self.markers = markers
        self.live = live
        self.admission = admission
        self.departures = departures
        self.replies = replies
        self.sender = sender
        self.limiter = limiter
        self.quotes = quotes
        self.limits = limits
        self.clock = clock
        # Whether a token was revoked by a logout, or its refresh family ended (wired by the app).
        self.is_revoked = is_revoked
        # Whether an account is a site admin (AccountsStore.is_admin).
        self.is_admin = is_admin
        self.join_budget = limits.join

    def connect(
        self, *, connection_id: str, identity: Identity, room: str, source_ip: str | None, user_agent: str | None
    ) -> Connection:
        now = self.clock()
        session_ends_at = self._session_deadline(identity, now)
        if session_ends_at is not None and session_ends_at <= now // 1000:
            raise ConnectRefused(ConnectRefusal.SESSION_OVER, protocol.SessionEnd.SESSION_LIMIT.text)
        # Before the row is written: a connection refused here never appears in the room.
        try:
            muted_until = self.admission.admit(room, identity.username)
        except ProtocolError as refused:
            raise ConnectRefused(ConnectRefusal.NOT_ADMITTED, refused.message, code=refused.code.value) from None
        # A role on the account, read once per connection: revoking it takes effect on the next one.
        admin = bool(not identity.guest and self.is_admin(identity.username))
        conn = Connection(
            connection_id=connection_id,
            username=identity.username,
            guest=identity.guest,
            room=room,
            connected_at_ms=now,
            expires_at=identity.expires_at,
            session_ends_at=session_ends_at,
            jti=identity.jti,
            admin=admin,
            muted_until=muted_until,
            family=identity.family,
        )
        self.connections.put_connection(conn)
        try:
            self._admit(conn, identity)
        except Exception:
            quietly(self.connections.delete_connection, connection_id)  # its ttl removes it if this fails
            raise
        self.sessions.start_session(conn, source_ip=source_ip, user_agent=user_agent)
        # The new connection cannot receive frames until $connect returns; it gets its welcome
        # when it sends `join`. The others hear about it now.
        members = self.connections.room_members(room)
        self.departures.announce_joined(room, identity.username, members, connection_id)
        log.add(room=room, guest=identity.guest, online=len(members))
        return conn

    def _session_deadline(self, identity: Identity, now_ms: int) -> int | None:
        """When a session-limited token's session ends: fixed by its first connection, so that a
        reconnect (a reloaded page) does not start the limit again."""
        if identity.session_limit_seconds <= 0:
            return None
        proposed = now_ms // 1000 + identity.session_limit_seconds
        if not identity.jti:
            return proposed
        return self.sessions.session_deadline(identity.jti, proposed, keep_until=identity.expires_at)

    def _admit(self, conn: Connection, identity: Identity) -> None:
        """Refuse a connection whose row is written but which must not stay: a revoked token, or
        one connection too many for its user."""
        # Checked again now that the row is written: a logout that revoked the token after the
        # authorizer looked either sees this row (it reads the by-user index after revoking) or
        # is seen here. The sweep covers the index's lag (see Housekeeping.log_out).
        if self.is_revoked(identity):
            raise ConnectRefused(ConnectRefusal.REVOKED, "token revoked")
        limit = self.limits.max_connections_per_user
        others = [cid for cid, _ in self.connections.user_connections(identity.username) if cid != conn.connection_id]
        if len(others) < limit:
            return
        # Rows whose $disconnect was lost must not lock a user out: ask API Gateway about each
        # (a heartbeat frame; a gone one answers 410 and is dropped), then count again.
        probe = self.sender.broadcast(others, protocol.heartbeat_frame(server_time=protocol.iso_utc(self.clock())))
        dropped = set(self.departures.drop_gone(probe.gone)) if probe.gone else set()
        alive = len(others) - len(dropped)
        log.add(otherConnections=alive, droppedGone=len(dropped))
        if alive >= limit:
            raise ConnectRefused(ConnectRefusal.TOO_MANY_CONNECTIONS,
                                 f"too many connections: at most {limit} per user; close one and try again")

    def join(self, connection_id: str, identity: Identity, request: protocol.Join) -> None:
        self.limiter.spend_or_refuse("join", identity.username, self.join_budget, "too many joins")
        conn = self.live.get(connection_id)
        room = request.room or conn.room
        if not room:
            raise ProtocolError(ErrorCode.BAD_REQUEST, 'this connection is in no room: name one ("room")')
        moved = room != conn.room
        if moved:
            old_room = conn.room
            # A refusal leaves the connection where it was.
            muted_until = self.admission.admit(room, identity.username)
            conn = self.connections.move_connection(connection_id, room, muted_until)
            if conn is None:
                raise ProtocolError(ErrorCode.NOT_CONNECTED, "this connection is no longer known; reconnect")
            # No `left` in the old room nor `joined` in the new: a room switch changes nobody's
            # presence, which is the team's (a user is online while any connection is: `members`,
            # `rooms`), and a joined/left notice per switch was noise in every room.
        # The user's read marker, read beside the room's members and history.
        marker = side_pool.submit(self.markers.marker, identity.username, room)
        members = self.connections.room_members(room)
        online = online_users(members)
        history, older = self.messages.recent_messages(room, protocol.HISTORY_ON_JOIN)
        last_read = marker.result()
        session_ends_at = protocol.iso_utc(conn.session_ends_at * 1000) if conn.session_ends_at else None
        welcome = protocol.welcome_frame(
            user=identity.username,
            room=room,
            connection_id=connection_id,
            connected_at=protocol.iso_utc(conn.connected_at_ms),
            expires_at=protocol.iso_utc(conn.expires_at * 1000),
            session_ends_at=session_ends_at,
            online=online,
            history=[message_frame(message, identity.username) for message in self.quotes.current(room, history)],
            has_more=older,
            last_read=last_read.read_id if last_read else None,
            admin=conn.admin,
            muted_until=protocol.iso_utc(conn.muted_until) if conn.muted_until > self.clock() else None,
        )
        self.replies.reply(connection_id, welcome)
        if moved:
            log.add(fromRoom=old_room)
        log.add(room=room, online=len(online), history=len(welcome["history"]), hasMore=welcome["hasMore"])
