"""Moderation: what setrole, kick, ban, unban, mute, deletemessage and modlog do (the
`moderation` function). Every action is written to the room's moderation log, which its
moderators, its owner and site admins read with `modlog`.

Where a kicked or banned user's connections go: into no room (their row loses its `room`, so no
broadcast reaches them and sendmessage and history answer `forbidden`); each gets `kicked` or
`banned`, and the client joins another room. A kick from a private room ends the membership; a
ban also refuses every later join or `?room=` connect (`banned`) until an unban or its end.
"""

from __future__ import annotations

from handler import log, protocol
from handler.chat.housekeeping import EVICT_RECHECK_SECONDS
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.rooms import RoomActions, Standing, Target
from handler.store.followups import FollowUp
from handler.store.rooms import user_key


class ModerationService(RoomActions):
    @property
    def _minute_ms(self) -> int:
        return self.limits.moderation_minute_seconds * 1000

    def set_role(self, connection_id: str, identity: Identity, request: protocol.RoomUser) -> None:
        conn = self._actor(connection_id, identity)
        standing = self._moderator(request.room, conn, least=protocol.ROLE_RANKS["owner"])
        if standing.dm:
            raise ProtocolError(ErrorCode.FORBIDDEN, "a direct conversation has no roles to give")
        target = self._target(request.user)
        now = self.clock()
        if request.role == "owner":
            record = standing.access.record
            if record is None or record.owner is None:
                raise ProtocolError(ErrorCode.FORBIDDEN, f"{request.room} has no owner to hand it over")
            if user_key(record.owner) == target.key:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{target.username} owns {request.room} already")
            outcome = self.rooms.transfer(room=request.room, old=(record.owner, user_key(record.owner)),
                                          new=(target.username, target.key), now_ms=now,
                                          max_owned=self.limits.max_owned_rooms)
            if outcome == "too_many":
                raise ProtocolError(ErrorCode.FORBIDDEN, f"{target.username} owns {self.limits.max_owned_rooms} rooms already")
            if outcome != "done":
                raise ProtocolError(ErrorCode.FORBIDDEN, "the room changed hands meanwhile")
        else:
            self._outranks(standing, request.room, target, conn)
            self._not_its_owner(standing, target)
            self.rooms.set_role(request.room, target.key, target.username, request.role, now)
        self.rooms.log(request.room, actor=identity.username, action="setrole", target=target.username, now_ms=now,
                       role=request.role)
        self.replies.reply(connection_id, protocol.done_frame(action="setrole", room=request.room, user=target.username,
                                                              role=request.role))
        log.add(room=request.room, role=request.role)

    def _moderating(self, connection_id: str, identity: Identity, request: protocol.RoomUser) -> tuple[Standing, Target]:
        """What kick, ban, unban and mute check first: the actor moderates the room, and outranks
        the user they act on. Returns the actor's standing and that user."""
        conn = self._actor(connection_id, identity)
        standing = self._moderator(request.room, conn)
        target = self._target(request.user)
        self._outranks(standing, request.room, target, conn)
        return standing, target

    def kick(self, connection_id: str, identity: Identity, request: protocol.RoomUser) -> None:
        standing, target = self._moderating(connection_id, identity, request)
        self._not_its_owner(standing, target)
        moved = self._kick(standing, target, protocol.kicked_frame(room=request.room, by=identity.username))
        self.rooms.log(request.room, actor=identity.username, action="kick", target=target.username, now_ms=self.clock())
        self.replies.reply(connection_id, protocol.done_frame(action="kick", room=request.room, user=target.username))
        log.add(room=request.room, connections=moved)

    @staticmethod
    def _not_its_owner(standing, target) -> None:
        """Only a site admin outranks a room's owner, and even they may not demote, kick or ban
        one: the room's record would still name an owner without the role. They hand the room
        over first (setrole owner), after which the old owner is a moderator like any other."""
        record = standing.access.record
        if record is not None and record.owner and user_key(record.owner) == target.key:
            raise ProtocolError(ErrorCode.FORBIDDEN,
                                f"{target.username} owns {standing.room}: make someone else its owner first")

    def _kick(self, standing, target, frame: dict) -> int:
        if standing.private:
            self.rooms.remove_member(standing.room, target.key)
        moved = self._remove_from_room(standing.room, target.username, frame)
        # The by-user index lags its table (on AWS): a connection that joined a moment ago may be
        # missing above. Where the user may not come back (a private room, a ban), the sweep looks
        # again (Housekeeping.settle_eviction).
        if standing.private or frame.get("type") == "banned":
            self.follow_ups.schedule(FollowUp("evict", (standing.room, target.username),
                                              self.clock() // 1000 + EVICT_RECHECK_SECONDS))
        return moved

    def ban(self, connection_id: str, identity: Identity, request: protocol.RoomUser) -> None:
        standing, target = self._moderating(connection_id, identity, request)
        self._not_its_owner(standing, target)
        now = self.clock()
        until = now + request.minutes * self._minute_ms if request.minutes else None
        # The ban first: a join racing with the kick below meets it.
        self.rooms.ban(request.room, target.key, target.username, until_ms=until, by=identity.username, now_ms=now)
        until_text = protocol.iso_utc(until) if until else None
        moved = self._kick(standing, target, protocol.banned_frame(room=request.room, by=identity.username,
                                                                   until=until_text))
        self.rooms.log(request.room, actor=identity.username, action="ban", target=target.username, now_ms=now,
                       minutes=request.minutes)
        self.replies.reply(connection_id, protocol.done_frame(action="ban", room=request.room, user=target.username,
                                                              until=until_text))
        log.add(room=request.room, connections=moved)

    def unban(self, connection_id: str, identity: Identity, request: protocol.RoomUser) -> None:
        _, target = self._moderating(connection_id, identity, request)
        if not self.rooms.unban(request.room, target.key):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"{target.username} is not banned from {request.room}")
        self.rooms.log(request.room, actor=identity.username, action="unban", target=target.username, now_ms=self.clock())
        self.replies.reply(connection_id, protocol.done_frame(action="unban", room=request.room, user=target.username))
        log.add(room=request.room)

    def mute(self, connection_id: str, identity: Identity, request: protocol.RoomUser) -> None:
        _, target = self._moderating(connection_id, identity, request)
        now = self.clock()
        until = now + request.minutes * self._minute_ms
        self.rooms.mute(request.room, target.key, target.username, until_ms=until, by=identity.username, now_ms=now)
        # Their connections in the room carry it, so that sendmessage refuses without a read.
        for connection_id_in in self.connections.user_connections_in(target.username, request.room):
            self.connections.set_muted(connection_id_in, request.room, until)
        # They learn of it at once, on every tab (one in another room too: it may switch to this
        # one), so that no page offers a composer whose message would bounce (issue 19).
        self._notify_user(target.username, protocol.muted_frame(room=request.room, by=identity.username,
                                                                until=protocol.iso_utc(until)))
        # The by-user index lags its table (on AWS), and a join at the same moment may have read
        # "not muted" before the mute was written: the sweep looks again (Housekeeping.settle_mute).
        self.follow_ups.schedule(FollowUp("mute", (request.room, target.username),
                                          now // 1000 + EVICT_RECHECK_SECONDS))
        self.rooms.log(request.room, actor=identity.username, action="mute", target=target.username, now_ms=now,
                       minutes=request.minutes)
        self.replies.reply(connection_id, protocol.done_frame(action="mute", room=request.room, user=target.username,
                                                              until=protocol.iso_utc(until)))
        log.add(room=request.room)

    def delete_message(self, connection_id: str, identity: Identity, request: protocol.DeleteMessage) -> None:
        conn = self._actor(connection_id, identity)
        standing = self._readable(request.room, conn)
        message = self.messages.message(request.room, request.id)
        if message is None or message.deleted_at is not None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such message")
        own = user_key(message.sender) == user_key(identity.username)
        if not own:
            if standing.rank < protocol.ROLE_RANKS["moderator"]:
                raise ProtocolError(ErrorCode.FORBIDDEN, "only its author or a moderator may delete a message")
            author = self.accounts.account(message.sender)
            author_rank = protocol.ADMIN_RANK if author and author[1] else \
                protocol.ROLE_RANKS.get(self.rooms.role(request.room, user_key(message.sender)) or "member", 0)
            if author_rank >= standing.rank:
                raise ProtocolError(ErrorCode.FORBIDDEN, f"{message.sender} has a role at least as high as yours")
        now = self.clock()
        if not self.messages.delete_message(request.room, request.id, by=identity.username, at_ms=now):
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such message")
        frame = protocol.deleted_frame(room=request.room, id=request.id, by=identity.username)
        members = self.connections.room_members(request.room)
        # Inline (never handed to `fanout`): this function's role posts, and invokes nothing.
        _, gone = self.broadcaster.deliver(request.room, members, frame, split=False)
        if conn.room != request.room:
            self.replies.reply(connection_id, frame)
        if not own:
            self.rooms.log(request.room, actor=identity.username, action="deletemessage", target=message.sender,
                           now_ms=now, messageId=request.id)
        if gone:
            self.departures.drop_gone_members(request.room, gone)
        log.add(room=request.room, own=own)

    def modlog(self, connection_id: str, identity: Identity, request: protocol.RoomOnly) -> None:
        conn = self._actor(connection_id, identity)
        self._moderator(request.room, conn)
        if request.cursor is not None and not protocol.is_message_id(request.cursor):
            raise ProtocolError(ErrorCode.BAD_REQUEST, '"before" must be an entry id of an earlier page')
        entries, more = self.rooms.modlog(request.room, request.cursor, protocol.MODLOG_PAGE)
        self.replies.reply(connection_id, protocol.modlog_frame(room=request.room, entries=entries, has_more=more))
        log.add(room=request.room, entries=len(entries))
