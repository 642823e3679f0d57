"""Rooms: what createroom, invite, leave, dm, rooms and members do (the `rooms` function), over
the rooms store, the accounts store (who exists, who is a site admin), the connection and message
stores, and the chat service's public collaborators (replies, rate limits, live connections,
departures).

Who may do what is decided here, from DynamoDB, never from what the client claims:

- A private room admits its members only: `join` and `$connect` check (RoomAdmission.admit) and
  the result stays on the connection row; history and sendmessage only ever use the connection's
  own room. A non-member learns only that the room exists (`forbidden`, `room_exists`).
- Roles rank member < moderator < owner < site admin (protocol.ROLE_RANKS, ADMIN_RANK); an action
  on another user needs a rank above theirs. A site admin's rank is on the connection row, read
  from the account at $connect. Admins moderate every room, but a private room still admits only
  its members: an admin acts on it by name without reading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from handler import log, protocol
from handler.chat.service import Chat
from handler.chat.side_pool import side_pool
from handler.limits import Budget
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.read_markers import unread_entries
from handler.settings import Limits
from handler.store.accounts import AccountsStore
from handler.store.connections import Connection, ConnectionStore
from handler.store.followups import FollowUpStore
from handler.store.messages import MessageStore
from handler.store.read_markers import MarkerStore
from handler.store.rooms import Access, RoomsStore, user_key


@dataclass(frozen=True)
class Standing:
    """The actor in a room: the room's access record for them and their rank there."""

    room: str
    access: Access
    rank: int  # -1: a non-member of a private room (who may do nothing there)

    @property
    def private(self) -> bool:
        return self.access.record.private if self.access.record else protocol.is_dm_room(self.room)

    @property
    def dm(self) -> bool:
        return bool(self.access.record and self.access.record.dm_users) or protocol.is_dm_room(self.room)


@dataclass(frozen=True)
class Target:
    username: str  # as registered
    key: str
    admin: bool


class RoomActions:
    """What room actions and moderation share: budgets, the actor's standing, the target user."""

    def __init__(self, chat: Chat, *, rooms: RoomsStore, accounts: AccountsStore, connections: ConnectionStore,
                 messages: MessageStore, follow_ups: FollowUpStore, markers: MarkerStore, limits: Limits,
                 clock: Callable[[], int]):
        # What they use of the chat service: its public collaborators, never its internals.
        self.replies = chat.replies
        self.limiter = chat.limiter
        self.live = chat.live
        self.departures = chat.departures
        self.broadcaster = chat.broadcaster
        self.rooms = rooms
        self.accounts = accounts
        self.connections = connections
        self.messages = messages
        self.follow_ups = follow_ups
        self.markers = markers
        self.limits = limits
        self.clock = clock
        self.action_budget = limits.room_action
        self.create_budget = limits.room_create
        self.invited_budget = limits.invite_target

    def _actor(self, connection_id: str, identity: Identity) -> Connection:
        self.limiter.spend_or_refuse("room", identity.username, self.action_budget, "too many room actions")
        return self.live.get(connection_id)

    def _standing(self, room: str, conn: Connection) -> Standing:
        access = self.rooms.access(room, user_key(conn.username), self.clock())
        standing = Standing(room, access, 0)
        if conn.admin:
            rank = protocol.ADMIN_RANK
        elif access.banned_until is not None:
            # Banned from the room: no role in it, whatever the membership says (a public room's
            # ban keeps the membership), so not a moderator of it nor a reader of its lists.
            rank = -1
        elif access.role is not None:
            rank = protocol.ROLE_RANKS.get(access.role, 0)
        else:
            rank = -1 if standing.private else 0
        return Standing(room, access, rank)

    def _readable(self, room: str, conn: Connection) -> Standing:
        """The standing of someone who may see the room's lists: anyone in a public room, a
        member (or a site admin) in a private one."""
        standing = self._standing(room, conn)
        if standing.rank < 0:
            if standing.access.banned_until is not None:
                raise ProtocolError(ErrorCode.FORBIDDEN, f"you are banned from {room}")
            raise ProtocolError(ErrorCode.FORBIDDEN, f"{room} is a private room: members only")
        return standing

    def _moderator(self, room: str, conn: Connection, *, least: int = protocol.ROLE_RANKS["moderator"]) -> Standing:
        standing = self._standing(room, conn)
        if standing.rank < least:
            raise ProtocolError(ErrorCode.FORBIDDEN, f"your role in {room} does not allow that")
        return standing

    def _target(self, username: str) -> Target:
        found = self.accounts.account(username)
        if found is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"there is no user {username}")
        name, admin = found
        return Target(name, user_key(name), admin)

    def _rank_of(self, room: str, target: Target) -> int:
        if target.admin:
            return protocol.ADMIN_RANK
        return protocol.ROLE_RANKS.get(self.rooms.role(room, target.key) or "member", 0)

    def _outranks(self, standing: Standing, room: str, target: Target, conn: Connection) -> None:
        if user_key(conn.username) == target.key:
            raise ProtocolError(ErrorCode.FORBIDDEN, "not on yourself")
        if self._rank_of(room, target) >= standing.rank:
            raise ProtocolError(ErrorCode.FORBIDDEN, f"{target.username} has a role in {room} at least as high as yours")

    def _notify_user(self, username: str, frame: dict) -> None:
        """Post a frame to every connection of the user (an invitation: wherever they are)."""
        self.replies.tell_connections([cid for cid, _ in self.connections.user_connections(username)], frame)

    def _remove_from_room(self, room: str, username: str, frame: dict | None) -> int:
        """Take the user's connections out of the room (into no room), tell each why, and tell
        the room they left; return how many there were."""
        moved = []
        for connection_id in self.connections.user_connections_in(username, room):
            if self.connections.evict(connection_id, room) is not None:
                moved.append(connection_id)
        if moved and frame is not None:
            self.replies.tell_connections(moved, frame)
        if moved:
            self.departures.announce_left(room, [username])
        return len(moved)

    def _mine(self, identity: Identity) -> tuple[list[dict], bool]:
        """The user's rooms: their memberships, and the public rooms they have read (handler/read_markers.py),
        each with its unread count and mention flag; most recently active first."""
        markers = side_pool.submit(self.markers.markers, identity.username)
        memberships, more = self.rooms.memberships(user_key(identity.username), protocol.ROOMS_MINE_MAX)
        marked = markers.result()
        # A room with a mention but no marker or membership is not listed: no need for its record.
        named = list(dict.fromkeys([m.room for m in memberships] + [m.room for m in marked if m.read_id]))
        records = {}
        for start in range(0, len(named), protocol.ROOMS_MINE_MAX):  # BatchGetItem takes 100 keys
            # Strongly consistent: a room's last activity decides whether its unread messages are
            # counted (handler/read_markers.py), and a touch of a moment ago must count.
            records.update(self.rooms.records(named[start:start + protocol.ROOMS_MINE_MAX], consistent=True))
        mine = []
        for membership in memberships:
            record = records.get(membership.room)
            entry = {"room": membership.room, "visibility": record.visibility if record else "public",
                     "role": membership.role, "dm": membership.dm_with is not None,
                     "topic": record.topic if record else None,
                     "lastActivityAt": protocol.iso_utc(record.last_activity_ms) if record and record.last_activity_ms else None}
            if membership.dm_with is not None:
                entry["with"] = membership.dm_with
            mine.append(entry)
        # A DM's entry says whether the other user is online (anywhere: presence is the team's).
        dms = [entry for entry in mine if "with" in entry]
        for entry, online in zip(dms, side_pool.map(self.connections.online, [e["with"] for e in dms])):
            entry["online"] = online
        mine = unread_entries(mine, memberships, marked, records, self.messages.newest_after)
        mine.sort(key=lambda e: e["lastActivityAt"] or "", reverse=True)
        more = more or len(mine) > protocol.ROOMS_MINE_MAX
        return mine[:protocol.ROOMS_MINE_MAX], more


class RoomService(RoomActions):
    """createroom, invite, leave, dm, rooms, members."""

    def create_room(self, connection_id: str, identity: Identity, request: protocol.CreateRoom) -> None:
        conn = self._actor(connection_id, identity)
        if identity.guest:
            raise ProtocolError(ErrorCode.FORBIDDEN, "guests cannot create rooms; sign up to own one")
        self.limiter.spend_or_refuse("create", identity.username, self.create_budget, "too many new rooms")
        room = request.room
        # The room every connection without ?room= enters: nobody may own it (site admins moderate it).
        if room == protocol.DEFAULT_ROOM:
            raise ProtocolError(ErrorCode.ROOM_EXISTS, f"{room} is everyone's room")
        if self.messages.has_messages(room):
            raise ProtocolError(ErrorCode.ROOM_EXISTS, f"{room} exists already")
        # Someone in a room nobody created yet would find it owned around them (made private, or
        # they banned from it): a room with other people in it is taken, public or private.
        others = [m for m in self.connections.room_members(room) if m.username != identity.username]
        if others:
            raise ProtocolError(ErrorCode.ROOM_EXISTS, f"{room} exists already (people are in it)")
        now = self.clock()
        outcome = self.rooms.create_room(room=room, visibility=request.visibility, topic=request.topic,
                                         owner=identity.username, owner_key=user_key(identity.username), now_ms=now,
                                         max_owned=self.limits.max_owned_rooms)
        if outcome == "exists":
            raise ProtocolError(ErrorCode.ROOM_EXISTS, f"{room} exists already")
        if outcome == "too_many":
            raise ProtocolError(ErrorCode.FORBIDDEN, f"you own {self.limits.max_owned_rooms} rooms already")
        self.replies.reply(connection_id, protocol.room_frame(
            room=room, visibility=request.visibility, topic=request.topic, owner=identity.username, role="owner",
            created_at=protocol.iso_utc(now)))
        log.add(room=room, visibility=request.visibility, user=conn.username)

    def invite(self, connection_id: str, identity: Identity, request: protocol.RoomUser) -> None:
        conn = self._actor(connection_id, identity)
        standing = self._moderator(request.room, conn)
        if standing.dm:
            raise ProtocolError(ErrorCode.FORBIDDEN, "a direct conversation is for its two users only")
        target = self._target(request.user)
        # A member already is not invited again: no frame, no log entry (an invitation is an
        # unasked frame on every connection of its target, so it must not repeat at will).
        new = self.rooms.role(request.room, target.key) is None
        if new:
            # What one user may be sent, from everyone: a flood of invitations is refused.
            self.limiter.spend_or_refuse("invited", target.key, self.invited_budget, f"{target.username} has had too many invitations")
            new = self.rooms.add_member(request.room, target.key, target.username, "member", self.clock())
        if new:
            self.rooms.log(request.room, actor=identity.username, action="invite", target=target.username,
                           now_ms=self.clock())
            record = standing.access.record
            self._notify_user(target.username, protocol.invited_frame(
                room=request.room, by=identity.username, visibility=record.visibility if record else "public"))
        self.replies.reply(connection_id, protocol.done_frame(action="invite", room=request.room, user=target.username))
        log.add(room=request.room, new=new)

    def leave(self, connection_id: str, identity: Identity, request: protocol.RoomOnly) -> None:
        self._actor(connection_id, identity)
        key = user_key(identity.username)
        role = self.rooms.role(request.room, key)
        if role is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"you are not a member of {request.room}")
        if role == "owner":
            raise ProtocolError(ErrorCode.FORBIDDEN, "the owner hands the room over first (setrole ... owner)")
        self.rooms.remove_member(request.room, key)
        record = self.rooms.record(request.room)
        private = record.private if record else protocol.is_dm_room(request.room)
        if private:
            # Out of a private room, the user's connections (this one too) are in no room.
            self._remove_from_room(request.room, identity.username, None)
        self.replies.reply(connection_id, protocol.done_frame(action="leave", room=request.room, user=identity.username))
        log.add(room=request.room)

    def dm(self, connection_id: str, identity: Identity, username: str) -> None:
        self._actor(connection_id, identity)
        if identity.guest:
            raise ProtocolError(ErrorCode.FORBIDDEN, "guests cannot open direct conversations; sign up")
        target = self._target(username)
        me = user_key(identity.username)
        if target.key == me:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a direct conversation needs another user")
        room = protocol.dm_room(me, target.key)
        now = self.clock()
        if self.rooms.record(room) is None:
            self.limiter.spend_or_refuse("create", identity.username, self.create_budget, "too many new rooms")
        created = self.rooms.open_dm(room=room, users=((identity.username, me), (target.username, target.key)),
                                     now_ms=now)
        # The other side hears of it only when it is new. One who left it is not put back (nor
        # told): they come back by opening it themselves.
        if created:
            self._notify_user(target.username, protocol.invited_frame(
                room=room, by=identity.username, visibility="private", dm_with=identity.username))
        self.replies.reply(connection_id, protocol.room_frame(
            room=room, visibility="private", topic=None, owner=None, role="member",
            created_at=protocol.iso_utc(now) if created else None, dm_with=target.username))
        log.add(room=room, created=created)

    def list_rooms(self, connection_id: str, identity: Identity, after: str | None) -> None:
        self._actor(connection_id, identity)
        mine, mine_more = self._mine(identity)
        entries, more = self.rooms.directory(after, protocol.DIRECTORY_PAGE)
        counts = list(side_pool.map(self.connections.count_in_room, [e.room for e in entries]))
        directory = [{"room": e.room, "topic": e.topic, "online": count, "lastActivityAt": protocol.iso_utc(e.active_at_ms),
                      "cursor": e.cursor} for e, count in zip(entries, counts)]
        frame = protocol.rooms_frame(mine=mine, mine_more=mine_more, directory=directory, directory_more=more)
        self.replies.reply(connection_id, frame)
        log.add(mine=len(frame["mine"]), directory=len(frame["directory"]))

    def members(self, connection_id: str, identity: Identity, request: protocol.RoomOnly) -> None:
        conn = self._actor(connection_id, identity)
        self._readable(request.room, conn)
        after = user_key(request.cursor) if request.cursor else None  # `after`: the last user of a page
        rows, more = self.rooms.members(request.room, after, protocol.MEMBERS_PAGE)
        # Presence for the team: a member is online if any of their connections is, in any room
        # (one by-user Query of at most one item per member on the page, side by side).
        online = list(side_pool.map(self.connections.online, [name for _, name, _ in rows]))
        frame = protocol.members_frame(room=request.room, members=[
            {"user": name, "role": role, "online": here} for (_, name, role), here in zip(rows, online)],
            has_more=more)
        self.replies.reply(connection_id, frame)
        log.add(room=request.room, members=len(frame["members"]))
