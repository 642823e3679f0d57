"""Closing what must close, from the server side: connections past their deadline (the `sweep`
function, every minute), the connections of a logged-out token, and the sweep's second looks
after a logout, a kick, a ban or a mute (follow-ups), for connections the by-user index did not
show yet."""

from __future__ import annotations

from typing import Callable

from handler import log, protocol
from handler.chat.admission import RoomAdmission
from handler.chat.departures import Departures
from handler.chat.live_connections import expiry_reason
from handler.chat.replies import Replies
from handler.errors import ConnectionGone, SendFailed
from handler.protocol import ErrorCode, ProtocolError
from handler.sender import Sender
from handler.store.connections import ConnectionStore
from handler.store.followups import FollowUp, FollowUpStore
from handler.store.sessions import SessionStore

# A logout closes what the by-user index shows; an index lags its table (on AWS a GSI is
# eventually consistent, usually well under a second), so the sweep looks again this much later.
LOGOUT_RECHECK_SECONDS = 5
# A kick or ban finds the user's connections the same way, and the sweep looks again as late.
EVICT_RECHECK_SECONDS = 5
# A logout follow-up names a token id, or this and a refresh family (a jti never holds a colon).
FAMILY_PREFIX = "fam:"


class Housekeeping:
    def __init__(self, connections: ConnectionStore, sessions: SessionStore, follow_ups: FollowUpStore, *,
                 sender: Sender, departures: Departures, replies: Replies, admission: RoomAdmission,
                 clock: Callable[[], int]):
        self.connections = connections
        self.sessions = sessions
        self.follow_ups = follow_ups
        self.departures = departures
        self.replies = replies
        self.sender = sender
        self.admission = admission
        self.clock = clock

    def end_connection(self, connection_id: str, reason: protocol.SessionEnd) -> bool:
        """Close a connection from the server side: tell it why, record the reason, tell the room.

        The session row gets its reason before the close, whose $disconnect then finds no row.
        """
        why = reason.text
        try:
            self.sender.send(connection_id, protocol.session_end_frame(reason))
        except (ConnectionGone, SendFailed):
            pass
        deleted = self.connections.delete_connection(connection_id)
        if deleted is not None:
            self.sessions.end_session(connection_id, room=deleted.room or "", ended_at_ms=self.clock(), reason=why)
            self.departures.announce_left(deleted.room, [deleted.username])
        try:
            self.sender.close(connection_id)
        except SendFailed:
            # Still open, and its user still listening: the invocation failed (the sweep's next
            # run finds the row gone, so nothing would close it again).
            log.warning("could not close a connection")
            log.fail("close failed")
        log.add(room=deleted.room if deleted else None, reason=why)
        return deleted is not None

    def sweep_expired(self) -> int:
        """The `sweep` function: close every connection whose token or session limit has run out,
        and do the follow-ups that are due; return how many connections were closed."""
        now_s = self.clock() // 1000
        closed = 0
        expired, follow_ups = self.follow_ups.due(now_s)
        for conn in expired:
            # The index may lag its table (on AWS a GSI is eventually consistent): a connection
            # whose token was just renewed (`renew`) is looked at in its row before it is closed.
            current = self.connections.get_connection(conn.connection_id)
            if current is not None and current.deadline > now_s:
                continue
            closed += self.end_connection(conn.connection_id, expiry_reason(current or conn, now_s))
        for follow_up in follow_ups:
            if follow_up.kind == "logout" and len(follow_up.subject) == 2:
                closed += self._close_token(*follow_up.subject)
            elif follow_up.kind == "presence" and len(follow_up.subject) == 2:
                self.departures.settle_presence(*follow_up.subject)
            elif follow_up.kind == "evict" and len(follow_up.subject) == 2:
                self.settle_eviction(*follow_up.subject)
            elif follow_up.kind == "mute" and len(follow_up.subject) == 2:
                self.settle_mute(*follow_up.subject)
            self.follow_ups.finish(follow_up)
        log.add(followUps=len(follow_ups))
        return closed

    def log_out(self, username: str, jti: str | None, family: str | None = None) -> int:
        """Close the connections opened with a revoked token (POST /logout), or with any token of a
        revoked refresh family, now and once more when the sweep runs LOGOUT_RECHECK_SECONDS later."""
        token = FAMILY_PREFIX + family if family else jti
        if not token:
            return 0
        closed = self._close_token(username, token)
        self.follow_ups.schedule(FollowUp("logout", (username, token), self.clock() // 1000 + LOGOUT_RECHECK_SECONDS))
        return closed

    def _close_token(self, username: str, token: str) -> int:
        """`token`: a jti, or FAMILY_PREFIX and a refresh family (every connection of that sign-in)."""
        family = token[len(FAMILY_PREFIX):] if token.startswith(FAMILY_PREFIX) else None
        closed = 0
        for connection_id, connection_jti in self.connections.user_connections(username):
            if family:
                # The by-user index does not hold the family: the row itself (a user has at most
                # max_connections_per_user of them).
                conn = self.connections.get_connection(connection_id)
                matches = conn is not None and conn.family == family
            else:
                matches = connection_jti == token
            if matches:
                closed += self.end_connection(connection_id, protocol.SessionEnd.LOGGED_OUT)
        return closed

    def settle_eviction(self, room: str, username: str) -> int:
        """The second look after a kick or ban (a follow-up, EVICT_RECHECK_SECONDS later): a
        connection of the user that the by-user index did not show yet (a join at the same
        moment) is taken out of the room too, if the user may still not be in it. Returns how
        many were."""
        ids = self.connections.user_connections_in(username, room)
        if not ids:
            return 0
        try:
            self.admission.admit(room, username)
            return 0  # allowed again (a kick from a public room, an unban, a new invitation)
        except ProtocolError as refused:
            code, until = refused.code, refused.fields.get("until")
        moved = [cid for cid in ids if self.connections.evict(cid, room) is not None]
        frame = protocol.banned_frame(room=room, by=None, until=until) \
            if code is ErrorCode.BANNED else protocol.kicked_frame(room=room, by=None)
        if moved:
            self.replies.tell_connections(moved, frame)
            self.departures.announce_left(room, [username])
        log.add(evicted=len(moved))
        return len(moved)

    def settle_mute(self, room: str, username: str) -> int:
        """The second look after a mute (a follow-up, EVICT_RECHECK_SECONDS later): a connection
        of the user in the room that the mute did not mark (the by-user index did not show it
        yet, or its join read the mute state just before the mute) is marked now, if the mute
        still holds. Returns how many were."""
        ids = self.connections.user_connections_in(username, room)
        if not ids:
            return 0
        until = self.admission.muted_until(room, username)
        marked = sum(self.connections.set_muted(cid, room, until) for cid in ids) if until else 0
        log.add(muted=marked)
        return marked
