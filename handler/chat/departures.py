"""Who leaves a room and what the room hears: $disconnect, connections API Gateway says are gone,
the `joined` and `left` presence frames, and the presence follow-ups the sweep settles.

Presence frames about one user in one room are limited (Limits.presence), so that
switching rooms cannot multiply posts: a change over the limit is held back, and a follow-up makes
the sweep tell the room the user's state as it is then, if it differs from the last frame sent
(the `note` of the budget). A closed connection's `left` waits for the presence grace, so that a
reload says nothing.
"""

from __future__ import annotations

import math
from typing import Callable

from handler import log, protocol
from handler.broadcast import Broadcaster
from handler.limits import Budget
from handler.settings import Limits
from handler.store.budgets import BudgetStore
from handler.store.connections import ConnectionStore, Member
from handler.store.followups import FollowUp, FollowUpStore
from handler.store.sessions import SessionStore

# A connection still inside its $connect is already in the table but not yet open, and the
# management API answers 410 for it too; so rows younger than this are kept when found gone. A
# connection that really died young is removed by its $disconnect, a later send, or its ttl.
GONE_GRACE_MS = 10_000


def online_users(members: list[Member]) -> list[str]:
    """The presence list: each user once, however many tabs they have open."""
    return sorted({member.username for member in members if member.username})


def presence_follow_up(room: str, username: str, due: int = 0) -> FollowUp:
    return FollowUp("presence", (room, username), due)


class Departures:
    def __init__(self, connections: ConnectionStore, sessions: SessionStore, follow_ups: FollowUpStore,
                 budgets: BudgetStore, broadcaster: Broadcaster, limits: Limits, clock: Callable[[], int]):
        self.connections = connections
        self.sessions = sessions
        self.follow_ups = follow_ups
        self.budgets = budgets
        self.broadcaster = broadcaster
        self.limits = limits
        self.clock = clock
        self.presence_budget = limits.presence

    def disconnect(self, connection_id: str, reason: str = "client closed") -> None:
        conn = self.connections.delete_connection(connection_id)
        if conn is None:
            return  # already cleaned up (a stale member found during a send, or an expiry)
        self.sessions.end_session(connection_id, room=conn.room or "", ended_at_ms=self.clock(), reason=reason)
        self.announce_left(conn.room, [conn.username], deferred=True)
        log.add(room=conn.room, reason=reason)

    # -- connections found gone ----------------------------------------------------------------

    def drop_gone(self, connection_ids: list[str]) -> list[str]:
        """Forget connections that API Gateway says are gone (known by id only), and tell their
        rooms; return the ids dropped (a young one is kept, see GONE_GRACE_MS)."""
        left_by_room: dict[str, list[str]] = {}
        dropped = []
        now = self.clock()
        for connection_id in connection_ids:
            conn = self.connections.delete_connection(connection_id, connected_before_ms=now - GONE_GRACE_MS)
            if conn is None:
                continue
            dropped.append(connection_id)
            self.sessions.end_session(connection_id, room=conn.room or "", ended_at_ms=now, reason="gone")
            if conn.room:
                left_by_room.setdefault(conn.room, []).append(conn.username)
        for room, usernames in left_by_room.items():
            self.announce_left(room, usernames, cascade=False)
        return dropped

    def drop_gone_members(self, room: str, gone: list[Member], *, cascade: bool = True) -> None:
        """Forget gone members found by a broadcast: one batch delete after the send, then their
        sessions. `cascade`: tell the room (a `left` that finds more gone members stops there)."""
        now = self.clock()
        stale = [m for m in gone if m.connected_at_ms < now - GONE_GRACE_MS]
        if not stale:
            return
        self.connections.delete_connections([m.connection_id for m in stale])
        for member in stale:
            self.sessions.end_session(member.connection_id, room=room, ended_at_ms=now, reason="gone")
        log.add(dropped=len(stale))
        if cascade:
            self.announce_left(room, [m.username for m in stale], cascade=False)

    # -- presence ------------------------------------------------------------------------------

    def announce_joined(self, room: str, username: str, members: list[Member], connection_id: str, *,
                        moved: bool = False) -> None:
        # Another tab of the same user is in the room already: they have not just joined.
        if any(m.username == username and m.connection_id != connection_id for m in members):
            return
        # Their last tab closed moments ago and its `left` is still held for the grace (a reload):
        # the sweep settles it, telling the room only what changed (nothing, if they are back).
        if self.limits.presence_grace_seconds > 0 and self.follow_ups.pending(presence_follow_up(room, username)):
            log.add(presenceSettledLater=True)
            return
        self._broadcast_presence(room, "joined", username, online_users(members), members, exclude=connection_id,
                                 moved=moved)

    def announce_left(self, room: str | None, usernames: list[str], *, cascade: bool = True,
                      deferred: bool = False, moved: bool = False) -> None:
        """Tell the room who left. `deferred` (a closed connection): not now, but after the presence
        grace, through a follow-up the sweep settles, so that a reload says nothing."""
        if not room:
            return  # a connection in no room (kicked) leaves none
        members = self.connections.room_members(room)
        online = online_users(members)
        for username in dict.fromkeys(usernames):
            # Another tab of the same user is still in the room: they have not left.
            if username in online:
                continue
            if deferred and self.limits.presence_grace_seconds > 0:
                if len(members) <= self.limits.presence_max_room:
                    self.follow_ups.schedule(presence_follow_up(
                        room, username, self.clock() // 1000 + self.limits.presence_grace_seconds))
                continue
            self._broadcast_presence(room, "left", username, online, members, exclude=None, cascade=cascade,
                                     moved=moved)

    def settle_presence(self, room: str, username: str) -> None:
        """A presence follow-up: tell the room the user's presence as it is now, if the last frame
        about them said otherwise."""
        members = self.connections.room_members(room)
        online = online_users(members)
        event = "joined" if username in online else "left"
        note = self.budgets.note("presence", f"{room}#{username}")
        # No note (its item expired, long after the last frame about them): the room was last told
        # "joined" when they came; a `left` held for a reload that came back says nothing.
        if len(members) > self.limits.presence_max_room or note == event or (note is None and event == "joined"):
            return
        targets = [member for member in members if member.username != username]
        if not targets or not self._presence_allowed(room, username, event):
            return  # no one to tell, or held back again (a new follow-up is scheduled)
        frame = protocol.presence_frame(event=event, user=username, room=room, online=online)
        _, gone = self.broadcaster.deliver(room, targets, frame)
        if gone:
            self.drop_gone_members(room, gone, cascade=False)

    def _broadcast_presence(
        self, room, event, username, online, members, *, exclude: str | None, cascade: bool = True,
        moved: bool = False,
    ) -> None:
        if len(members) > self.limits.presence_max_room:
            return
        targets = [member for member in members if member.connection_id != exclude]
        if not targets or not self._presence_allowed(room, username, event):
            return
        frame = protocol.presence_frame(event=event, user=username, room=room, online=online, moved=moved)
        # Inline, never handed to `fanout`: a room that gets presence is small (presence_max_room).
        _, gone = self.broadcaster.deliver(room, targets, frame, split=False)
        if gone:
            self.drop_gone_members(room, gone, cascade=cascade)

    def _presence_allowed(self, room: str, username: str, event: str) -> bool:
        now = self.clock()
        wait_ms = self.budgets.spend("presence", f"{room}#{username}", self.presence_budget, now, note=event)
        if wait_ms is None:
            return True
        self.follow_ups.schedule(FollowUp("presence", (room, username), math.ceil((now + wait_ms) / 1000)))
        log.add(presenceHeldBack=event)
        return False
