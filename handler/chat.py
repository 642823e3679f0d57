"""The chat service: what each WebSocket route, the sweep and logout do, over the chat store,
the sender and the broadcaster.

No API Gateway event shapes here and no botocore: entry points turn events into calls on Chat,
and Chat raises ProtocolError for anything the client got wrong.
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from handler import log, protocol
from handler.broadcast import Broadcaster
from handler.chat_features import ChatFeatures
from handler.errors import ConnectionGone, FrameTooLarge, SendFailed, SessionExpired, StorageUnavailable
from handler.guard import Refused, quietly
from handler.limits import Budget
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.sender import Sender
from handler.settings import Limits
from handler.store.budgets import BudgetStore, Spending
from handler.store.chat import AlongsideMoved, ChatStore, Connection, FollowUp, Member
from handler.store.rooms import RoomsStore, user_key
from handler.store.unread import MarkerStore


# How long a new connection is protected from being dropped as gone (see Chat.drop_gone).
GONE_GRACE_MS = 10_000
# A logout closes what the by-user index shows; an index lags its table (on AWS a GSI is
# eventually consistent, usually well under a second), so the sweep looks again this much later.
LOGOUT_RECHECK_SECONDS = 5
# A kick or ban finds the user's connections the same way, and the sweep looks again as late.
EVICT_RECHECK_SECONDS = 5
# A logout follow-up names a token id, or this and a refresh family (a jti never holds a colon).
FAMILY_PREFIX = "fam:"

# How many times sendmessage reads the sender's budget again when another of their tabs spent it
# between its read and its write, before it answers rate_limited.
SEND_ATTEMPTS = 3

# Runs a DynamoDB read beside a write (sendmessage's store and audience lookup).
_side_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="side")


def _expiry_reason(conn: Connection, now_s: int) -> protocol.SessionEnd:
    return protocol.SessionEnd.TOKEN_EXPIRED if conn.expires_at <= now_s else protocol.SessionEnd.SESSION_LIMIT


def online_users(members: list[Member]) -> list[str]:
    """The presence list: each user once, however many tabs they have open."""
    return sorted({member.username for member in members if member.username})


class Chat(ChatFeatures):
    def __init__(
        self, store: ChatStore, sender: Sender, broadcaster: Broadcaster, limits: Limits, clock: Callable[[], int],
        *, budgets: BudgetStore, is_revoked: Callable[[Identity], bool],
        verify: Callable[[str], Identity] | None = None,
        rooms: RoomsStore | None = None, is_admin: Callable[[str], bool] | None = None,
        markers: MarkerStore | None = None,
    ):
        self.store = store
        self.sender = sender
        self.broadcaster = broadcaster
        self.limits = limits
        self.clock = clock
        self.budgets = budgets
        # Whether a token was revoked by a logout, or its refresh family ended (wired by the app).
        self.is_revoked = is_revoked
        # A token checked exactly as the $connect authorizer checks one (App.verified): `renew`.
        self.verify = verify
        self.message_budget = Budget(limits.message_burst, limits.message_rate)
        self.join_budget = Budget(limits.join_burst, limits.join_rate)
        self.history_budget = Budget(limits.history_burst, limits.history_rate)
        self.presence_budget = Budget(limits.presence_burst, limits.presence_rate)
        # Rooms and moderation (handler/rooms.py): who may be in a room, and the site admins
        # (AccountsStore.is_admin, wired by the app). Without them every room is public.
        self.rooms = rooms
        self.is_admin = is_admin
        # Read markers and mentions (handler/unread.py): welcome's lastRead, sendmessage's mentions.
        self.markers = markers
        self._feature_budgets()

    # -- connection lifecycle ------------------------------------------------------------------

    def connect(
        self, *, connection_id: str, identity: Identity, room: str, source_ip: str | None, user_agent: str | None
    ) -> Connection:
        now = self.clock()
        session_ends_at = self._session_deadline(identity, now)
        if session_ends_at is not None and session_ends_at <= now // 1000:
            raise Refused(401, protocol.SessionEnd.SESSION_LIMIT.text)
        # Before the row is written: a connection refused here never appears in the room.
        try:
            muted_until = self.admit_to_room(room, identity.username)
        except ProtocolError as refused:
            raise Refused(403, refused.message, code=refused.code.value) from None
        # A role on the account, read once per connection: revoking it takes effect on the next one.
        admin = bool(self.is_admin and not identity.guest and self.is_admin(identity.username))
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
        self.store.put_connection(conn)
        try:
            self._admit(conn, identity)
        except Exception:
            quietly(self.store.delete_connection, connection_id)  # its ttl removes it if this fails
            raise
        self.store.start_session(conn, source_ip=source_ip, user_agent=user_agent)
        # The new connection cannot receive frames until $connect returns; it gets its welcome
        # when it sends `join`. The others hear about it now.
        members = self.store.room_members(room)
        self._announce_joined(room, identity.username, members, connection_id)
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
        return self.store.session_deadline(identity.jti, proposed, keep_until=identity.expires_at)

    def _admit(self, conn: Connection, identity: Identity) -> None:
        """Refuse a connection whose row is written but which must not stay: a revoked token, or
        one connection too many for its user."""
        # Checked again now that the row is written: a logout that revoked the token after the
        # authorizer looked either sees this row (it reads the by-user index after revoking) or
        # is seen here. The sweep covers the index's lag (see log_out).
        if self.is_revoked(identity):
            raise Refused(403, "token revoked")
        limit = self.limits.max_connections_per_user
        others = [cid for cid, _ in self.store.user_connections(identity.username) if cid != conn.connection_id]
        if len(others) < limit:
            return
        # Rows whose $disconnect was lost must not lock a user out: ask API Gateway about each
        # (a heartbeat frame; a gone one answers 410 and is dropped), then count again.
        probe = self.sender.broadcast(others, protocol.heartbeat_frame(server_time=protocol.iso_utc(self.clock())))
        dropped = set(self.drop_gone(probe.gone)) if probe.gone else set()
        alive = len(others) - len(dropped)
        log.add(otherConnections=alive, droppedGone=len(dropped))
        if alive >= limit:
            raise Refused(429, f"too many connections: at most {limit} per user; close one and try again")

    def admit_to_room(self, room: str, username: str) -> int:
        """Whether the user may be in `room` (checked at $connect and join, and kept on the
        connection row): raise `forbidden` for a private room they are not a member of, `banned`
        while a ban holds; else return until when (epoch ms, 0: not) they are muted there."""
        if self.rooms is None:
            return 0
        access = self.rooms.access(room, user_key(username), self.clock())
        private = access.record.private if access.record else protocol.is_dm_room(room)
        if private and access.role is None:
            raise protocol.refusal(ErrorCode.FORBIDDEN, f"{room} is a private room: members only")
        if access.banned_until is not None:
            raise protocol.refusal(ErrorCode.BANNED, f"you are banned from {room}", until_ms=access.banned_until)
        return access.muted_until

    def disconnect(self, connection_id: str, reason: str = "client closed") -> None:
        conn = self.store.delete_connection(connection_id)
        if conn is None:
            return  # already cleaned up (a stale member found during a send, or an expiry)
        self.store.end_session(connection_id, room=conn.room or "", ended_at_ms=self.clock(), reason=reason)
        self._announce_left(conn.room, [conn.username], deferred=True)
        log.add(room=conn.room, reason=reason)

    # -- routes --------------------------------------------------------------------------------

    def join(self, connection_id: str, identity: Identity, request: protocol.Join) -> None:
        self._spend("join", identity.username, self.join_budget, "too many joins")
        conn = self._live_connection(connection_id)
        room = request.room or conn.room
        if not room:
            raise ProtocolError(ErrorCode.BAD_REQUEST, 'this connection is in no room: name one ("room")')
        moved = room != conn.room
        if moved:
            old_room = conn.room
            # A refusal leaves the connection where it was.
            muted_until = self.admit_to_room(room, identity.username)
            conn = self.store.move_connection(connection_id, room, muted_until)
            if conn is None:
                raise ProtocolError(ErrorCode.NOT_CONNECTED, "this connection is no longer known; reconnect")
            self._announce_left(old_room, [identity.username])
        # The user's read marker, read beside the room's members and history.
        marker = _side_pool.submit(self.markers.marker, identity.username, room) if self.markers else None
        members = self.store.room_members(room)
        online = online_users(members)
        history, older = self.store.recent_messages(room, protocol.HISTORY_ON_JOIN)
        last_read = marker.result() if marker else None
        session_ends_at = protocol.iso_utc(conn.session_ends_at * 1000) if conn.session_ends_at else None
        welcome = protocol.welcome_frame(
            user=identity.username,
            room=room,
            connection_id=connection_id,
            connected_at=protocol.iso_utc(conn.connected_at_ms),
            expires_at=protocol.iso_utc(conn.expires_at * 1000),
            session_ends_at=session_ends_at,
            online=online,
            history=[message.frame(identity.username) for message in self._current_quotes(room, history)],
            has_more=older,
            last_read=last_read.read_id if last_read else None,
            admin=conn.admin,
        )
        self._reply(connection_id, welcome)
        if moved:
            # Joining the room it connected to was announced at $connect already.
            self._announce_joined(room, identity.username, members, connection_id)
            log.add(fromRoom=old_room)
        log.add(room=room, online=len(online), history=len(welcome["history"]), hasMore=welcome["hasMore"])

    def send_message(self, connection_id: str, identity: Identity, request: protocol.SendMessage) -> dict:
        """Store and deliver a message; return the sender's own copy of it, which the route hands
        back as its response (a two-way route: API Gateway sends it to the asker without a post)."""
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return self._send_message(connection_id, identity, request)
            except AlongsideMoved:
                # Another tab of the sender spent the budget meanwhile (or its write is under
                # way): read again.
                log.add(budgetMoved=attempt)
        log.add(rateLimited="message")
        raise ProtocolError(ErrorCode.RATE_LIMITED, "too many messages at once: try again",
                            retryAfterMs=self.message_budget.interval_ms)

    def _send_message(self, connection_id: str, identity: Identity, request: protocol.SendMessage) -> dict:
        # One read, the connection's row with the sender's message budget; a refusal writes
        # nothing, and an allowed message spends the budget in the transaction that stores it.
        conn, spending = self._sender_and_budget(connection_id, identity.username)
        self._check_may_send(conn)
        self._over_budget("message", "too many messages", spending.wait_ms)
        # Only a reply reads more (the quoted message); a plain message costs what it always did.
        reply_to = self._quoted(conn.room, request.reply_to) if request.reply_to else None
        # The audience lookup runs while the message is written. Nothing is posted before the
        # write succeeded, so a posted message is always in history.
        audience = _side_pool.submit(self.store.room_members, conn.room)
        # So does, once a minute per room and process, the room's last activity (the rooms list's
        # order, the directory's). Nothing counts messages per message: unread counts are counted
        # from the messages (handler/unread.py).
        now = self.clock()
        touched = (_side_pool.submit(self.rooms.touch, conn.room, now)
                   if self.rooms and self.rooms.touch_due(conn.room, now) else None)
        try:
            stored, new = self._store_message(conn, identity, request, reply_to, spending.action)
        except Exception:
            self._touched(touched)
            raise
        if not new:
            # A repeat (a client resending after a reconnect): only its sender hears, the original.
            # It wrote nothing, so it spends its budget here: repeats are no cheaper to flood with.
            self._touched(touched)
            log.add(room=conn.room, messageId=stored.id, repeated=True)
            self._spend("message", identity.username, self.message_budget, "too many messages")
            return stored.frame()
        # The message is stored: from here on the sender gets its copy whatever else fails (an
        # error now would make it send the text again, as a new message).
        frame = stored.frame()
        # Everyone else in the room gets a post; the sender's own connection gets the response
        # (the index may not even list a connection that joined a moment ago).
        try:
            everyone = audience.result()
        except StorageUnavailable:
            log.warning("could not read the room's members: the message is stored, not posted")
            everyone = []
        others = [member for member in everyone if member.connection_id != connection_id]
        # Mentions are recorded while the message is delivered (after its write: a mention always
        # names a stored message); a message without one makes no write for them.
        mentioned = self._record_mentions(conn.room, stored)
        posted, gone = self.broadcaster.deliver(conn.room, others, frame) if others else (0, [])
        log.add(room=conn.room, messageId=stored.id, members=len(everyone), postedHere=posted, gone=len(gone))
        if touched is not None and not self._touched(touched):
            # Once more: a room whose activity lags its messages by more than a minute could have
            # its unread count skipped (handler/unread.py).
            quietly(self.rooms.touch, conn.room, now)
        self._mentions_recorded(mentioned)
        if gone:
            quietly(self.drop_gone_members, conn.room, gone)
        return frame

    def _record_mentions(self, room: str, stored) -> list:
        """One write per user the message mentions (protocol.mentions), on the side pool. A
        mentioned user who may not read the room (a private room's non-member) gets a row too, but
        `rooms` never shows them a room they may not read."""
        if self.markers is None:
            return []
        names = protocol.mentions(stored.message, stored.sender)
        if names:
            log.add(mentions=len(names))
        now = self.clock()
        return [_side_pool.submit(self.markers.mention, protocol.mention_key(name), room, stored.id, now)
                for name in names]

    def _mentions_recorded(self, pending: list) -> None:
        """Wait for the mention writes (a Lambda may be frozen once it returns); a failed one is
        logged: the message itself is stored and delivered."""
        for future in pending:
            try:
                future.result()
            except StorageUnavailable:
                log.warning("could not record a mention")

    def _check_may_send(self, conn: Connection) -> None:
        """A kicked or banned connection is in no room; a muted user waits. Both from the row."""
        if not conn.room:
            raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is in no room: join one first")
        if conn.muted_until > self.clock():
            raise protocol.refusal(ErrorCode.MUTED, f"you are muted in {conn.room}", until_ms=conn.muted_until)

    def _touched(self, touched) -> bool:
        """Wait for the room's update; a failed one is logged (the message itself is stored)."""
        if touched is None:
            return False
        try:
            touched.result()
            return True
        except StorageUnavailable:
            log.warning("could not update the room's activity")
            return False

    def _quoted(self, room: str, message_id: str) -> dict:
        """What a reply's frame says of the message it answers, which must be in the same room."""
        quoted = self.store.message(room, message_id)
        if quoted is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "replyTo: no message with that id in this room")
        if quoted.deleted_at:
            raise ProtocolError(ErrorCode.NOT_FOUND, "replyTo: that message was deleted")
        return protocol.reply_ref(id=quoted.id, sender=quoted.sender, message=quoted.message)

    def _current_quotes(self, room: str, messages: list) -> list:
        """A page's replies with their quotes as the quoted messages are now: the excerpt of an
        edited one follows the edit, and a deleted (or expired) one leaves no text behind
        (`{"id", "sender", "deleted": true}`). One BatchGetItem for the quoted messages that are
        not in the page; nothing for a page without replies."""
        quoted = [m.reply_to["id"] for m in messages if m.reply_to and m.deleted_at is None]
        if not quoted:
            return messages
        in_page = {m.id: (None if m.deleted_at else m.message) for m in messages}
        texts = {i: in_page[i] for i in quoted if i in in_page}
        missing = [i for i in dict.fromkeys(quoted) if i not in texts]
        if missing:
            texts.update(self.store.quoted_texts(room, missing[:protocol.HISTORY_MAX_LIMIT]))
        current = []
        for message in messages:
            if message.reply_to and message.deleted_at is None:
                reply = message.reply_to
                text = texts.get(reply["id"])
                quote = protocol.reply_ref(id=reply["id"], sender=reply["sender"], message=text) if text is not None \
                    else protocol.deleted_reply_ref(id=reply["id"], sender=reply["sender"])
                message = dataclasses.replace(message, reply_to=quote)
            current.append(message)
        return current

    def _store_message(self, conn: Connection, identity: Identity, request: protocol.SendMessage,
                       reply_to: dict | None = None, alongside: dict | None = None):
        """(the stored message, True), or (the original, False) when its clientMsgId is a repeat.
        `alongside`: written with the message or not at all (the sender's budget)."""
        fields = dict(room=conn.room, sender=identity.username, message=request.message,
                      client_msg_id=request.client_msg_id, sent_at_ms=self.clock(), reply_to=reply_to,
                      alongside=alongside)
        if request.client_msg_id is None:
            return self.store.append_message(**fields), True
        return self.store.append_message_once(**fields, window_seconds=self.limits.client_msg_id_seconds)

    def history(self, connection_id: str, identity: Identity, request: protocol.HistoryQuery) -> None:
        self._spend("history", identity.username, self.history_budget, "too many history requests")
        conn = self._live_connection(connection_id)
        if not conn.room:
            # Only the connection's room, which join or $connect authorized, is ever read.
            raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is in no room: join one first")
        keep = protocol.Keep.NEWEST
        if request.after is not None:
            messages, has_more = self.store.messages_after(conn.room, request.after, request.limit)
            keep = protocol.Keep.OLDEST
        elif request.before is not None:
            messages, has_more = self.store.messages_before(conn.room, request.before, request.limit)
        else:
            messages, has_more = self.store.recent_messages(conn.room, request.limit)
        messages = self._current_quotes(conn.room, messages)
        page = protocol.history_frame(room=conn.room, messages=[m.frame(identity.username) for m in messages],
                                      has_more=has_more,
                                      keep=keep)
        self._reply(connection_id, page)
        log.add(room=conn.room, messages=len(page["messages"]), hasMore=page["hasMore"])

    def deliver_batch(self, room: str, members: list[Member], frame: dict) -> int:
        """Deliver one batch of a big room's broadcast (the `fanout` function); return how many were gone."""
        gone = self.broadcaster.deliver(room, members, frame, split=False)[1]  # the batch, whole, here
        if gone:
            self.drop_gone_members(room, gone)
        log.add(room=room, members=len(members), gone=len(gone))
        return len(gone)

    def heartbeat(self) -> dict:
        """The heartbeat's answer, which the route hands back as its response (no post)."""
        return protocol.heartbeat_frame(server_time=protocol.iso_utc(self.clock()))

    def _reply(self, connection_id: str, frame: dict) -> None:
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

    # -- housekeeping --------------------------------------------------------------------------

    # A connection still inside its $connect is already in the table but not yet open, and the
    # management API answers 410 for it too; so rows younger than GONE_GRACE_MS are kept. A
    # connection that really died young is removed by its $disconnect, a later send, or its ttl.

    def drop_gone(self, connection_ids: list[str]) -> list[str]:
        """Forget connections that API Gateway says are gone (known by id only), and tell their
        rooms; return the ids dropped (a young one is kept, see above)."""
        left_by_room: dict[str, list[str]] = {}
        dropped = []
        now = self.clock()
        for connection_id in connection_ids:
            conn = self.store.delete_connection(connection_id, connected_before_ms=now - GONE_GRACE_MS)
            if conn is None:
                continue
            dropped.append(connection_id)
            self.store.end_session(connection_id, room=conn.room or "", ended_at_ms=now, reason="gone")
            if conn.room:
                left_by_room.setdefault(conn.room, []).append(conn.username)
        for room, usernames in left_by_room.items():
            self._announce_left(room, usernames, cascade=False)
        return dropped

    def drop_gone_members(self, room: str, gone: list[Member], *, cascade: bool = True) -> None:
        """Forget gone members found by a broadcast: one batch delete after the send, then their sessions."""
        now = self.clock()
        stale = [m for m in gone if m.connected_at_ms < now - GONE_GRACE_MS]
        if not stale:
            return
        self.store.delete_connections([m.connection_id for m in stale])
        for member in stale:
            self.store.end_session(member.connection_id, room=room, ended_at_ms=now, reason="gone")
        log.add(dropped=len(stale))
        if cascade:
            self._announce_left(room, [m.username for m in stale], cascade=False)

    def live_connection(self, connection_id: str) -> Connection:
        """The connection's row, or `not_connected`; a session past its deadline is ended."""
        return self._live_connection(connection_id)

    def _sender_and_budget(self, connection_id: str, username: str) -> tuple[Connection, Spending]:
        """The sender's live row and what a message would spend of their budget, in one read."""
        conn, budget = self.store.get_connection_and_limit(connection_id, self.budgets.key("message", username))
        return self._alive(connection_id, conn), self.budgets.spending(
            "message", username, self.message_budget, self.clock(), budget)

    def _live_connection(self, connection_id: str) -> Connection:
        return self._alive(connection_id, self.store.get_connection(connection_id))

    def _alive(self, connection_id: str, conn: Connection | None) -> Connection:
        if conn is None:
            raise ProtocolError(ErrorCode.NOT_CONNECTED, "this connection is no longer known; reconnect")
        if self.clock() // 1000 >= conn.deadline:
            self.end_connection(conn.connection_id, _expiry_reason(conn, self.clock() // 1000))
            raise SessionExpired()
        return conn

    def end_connection(self, connection_id: str, reason: protocol.SessionEnd) -> bool:
        """Close a connection from the server side: tell it why, record the reason, tell the room.

        The session row gets its reason before the close, whose $disconnect then finds no row.
        """
        why = reason.text
        try:
            self.sender.send(connection_id, protocol.session_end_frame(reason))
        except (ConnectionGone, SendFailed):
            pass
        deleted = self.store.delete_connection(connection_id)
        if deleted is not None:
            self.store.end_session(connection_id, room=deleted.room or "", ended_at_ms=self.clock(), reason=why)
            self._announce_left(deleted.room, [deleted.username])
        try:
            self.sender.close(connection_id)
        except SendFailed:
            log.warning("could not close a connection")
        log.add(room=deleted.room if deleted else None, reason=why)
        return deleted is not None

    def sweep_expired(self) -> int:
        """The `sweep` function: close every connection whose token or session limit has run out,
        and do the follow-ups that are due; return how many connections were closed."""
        now_s = self.clock() // 1000
        closed = 0
        expired, follow_ups = self.store.due(now_s)
        for conn in expired:
            # The index may lag its table (on AWS a GSI is eventually consistent): a connection
            # whose token was just renewed (`renew`) is looked at in its row before it is closed.
            current = self.store.get_connection(conn.connection_id)
            if current is not None and current.deadline > now_s:
                continue
            closed += self.end_connection(conn.connection_id, _expiry_reason(current or conn, now_s))
        for follow_up in follow_ups:
            if follow_up.kind == "logout" and len(follow_up.subject) == 2:
                closed += self._close_token(*follow_up.subject)
            elif follow_up.kind == "presence" and len(follow_up.subject) == 2:
                self._settle_presence(*follow_up.subject)
            elif follow_up.kind == "evict" and len(follow_up.subject) == 2:
                self.settle_eviction(*follow_up.subject)
            elif follow_up.kind == "mute" and len(follow_up.subject) == 2:
                self.settle_mute(*follow_up.subject)
            self.store.finish(follow_up)
        log.add(followUps=len(follow_ups))
        return closed

    def log_out(self, username: str, jti: str | None, family: str | None = None) -> int:
        """Close the connections opened with a revoked token (POST /logout), or with any token of a
        revoked refresh family, now and once more when the sweep runs LOGOUT_RECHECK_SECONDS later."""
        token = FAMILY_PREFIX + family if family else jti
        if not token:
            return 0
        closed = self._close_token(username, token)
        self.store.schedule(FollowUp("logout", (username, token), self.clock() // 1000 + LOGOUT_RECHECK_SECONDS))
        return closed

    def _close_token(self, username: str, token: str) -> int:
        """`token`: a jti, or FAMILY_PREFIX and a refresh family (every connection of that sign-in)."""
        family = token[len(FAMILY_PREFIX):] if token.startswith(FAMILY_PREFIX) else None
        closed = 0
        for connection_id, connection_jti in self.store.user_connections(username):
            if family:
                # The by-user index does not hold the family: the row itself (a user has at most
                # max_connections_per_user of them).
                conn = self.store.get_connection(connection_id)
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
        ids = self.store.user_connections_in(username, room)
        if not ids:
            return 0
        try:
            self.admit_to_room(room, username)
            return 0  # allowed again (a kick from a public room, an unban, a new invitation)
        except ProtocolError as refused:
            code, until = refused.code, refused.fields.get("until")
        moved = [cid for cid in ids if self.store.evict(cid, room) is not None]
        frame = protocol.banned_frame(room=room, by=None, until=until) \
            if code is ErrorCode.BANNED else protocol.kicked_frame(room=room, by=None)
        if moved:
            result = self.sender.broadcast(moved, frame)
            if result.gone:
                self.drop_gone(result.gone)
            self._announce_left(room, [username])
        log.add(evicted=len(moved))
        return len(moved)

    def settle_mute(self, room: str, username: str) -> int:
        """The second look after a mute (a follow-up, EVICT_RECHECK_SECONDS later): a connection
        of the user in the room that the mute did not mark (the by-user index did not show it
        yet, or its join read the mute state just before the mute) is marked now, if the mute
        still holds. Returns how many were."""
        ids = self.store.user_connections_in(username, room)
        if not ids or self.rooms is None:
            return 0
        until = self.rooms.access(room, user_key(username), self.clock()).muted_until
        marked = sum(self.store.set_muted(cid, room, until) for cid in ids) if until else 0
        log.add(muted=marked)
        return marked

    def _spend(self, kind: str, username: str, budget: Budget, what: str) -> None:
        """Spend one of the user's `kind` budget, or refuse the request with `rate_limited`."""
        self._over_budget(kind, what, self.budgets.spend(kind, username, budget, self.clock()))

    def _over_budget(self, kind: str, what: str, wait_ms: int | None) -> None:
        """Refuse with `rate_limited` when the budget allows nothing for `wait_ms` more."""
        if wait_ms is None:
            return
        log.add(rateLimited=kind)
        raise ProtocolError(ErrorCode.RATE_LIMITED, f"{what}: wait {max(wait_ms / 1000, 0.5):.1f} s",
                            retryAfterMs=wait_ms)

    def _announce_joined(self, room: str, username: str, members: list[Member], connection_id: str) -> None:
        # Another tab of the same user is in the room already: they have not just joined.
        if any(m.username == username and m.connection_id != connection_id for m in members):
            return
        # Their last tab closed moments ago and its `left` is still held for the grace (a reload):
        # the sweep settles it, telling the room only what changed (nothing, if they are back).
        if self.limits.presence_grace_seconds > 0 and self.store.pending(self._presence_follow_up(room, username)):
            log.add(presenceSettledLater=True)
            return
        self._broadcast_presence(room, "joined", username, online_users(members), members, exclude=connection_id)

    def _announce_left(self, room: str | None, usernames: list[str], *, cascade: bool = True,
                       deferred: bool = False) -> None:
        """Tell the room who left. `deferred` (a closed connection): not now, but after the presence
        grace, through a follow-up the sweep settles, so that a reload says nothing."""
        if not room:
            return  # a connection in no room (kicked) leaves none
        members = self.store.room_members(room)
        online = online_users(members)
        for username in dict.fromkeys(usernames):
            # Another tab of the same user is still in the room: they have not left.
            if username in online:
                continue
            if deferred and self.limits.presence_grace_seconds > 0:
                if len(members) <= self.limits.presence_max_room:
                    self.store.schedule(self._presence_follow_up(
                        room, username, self.clock() // 1000 + self.limits.presence_grace_seconds))
                continue
            self._broadcast_presence(room, "left", username, online, members, exclude=None, cascade=cascade)

    @staticmethod
    def _presence_follow_up(room: str, username: str, due: int = 0) -> FollowUp:
        return FollowUp("presence", (room, username), due)

    def _broadcast_presence(
        self, room, event, username, online, members, *, exclude: str | None, cascade: bool = True
    ) -> None:
        if len(members) > self.limits.presence_max_room:
            return
        targets = [member for member in members if member.connection_id != exclude]
        if not targets or not self._presence_allowed(room, username, event):
            return
        frame = protocol.presence_frame(event=event, user=username, room=room, online=online)
        # Inline, never handed to `fanout`: a room that gets presence is small (presence_max_room).
        _, gone = self.broadcaster.deliver(room, targets, frame, split=False)
        if gone:
            self.drop_gone_members(room, gone, cascade=cascade)

    # Presence frames about one user in one room are limited (presence_burst, presence_rate), so
    # that switching rooms cannot multiply posts: a change over the limit is held back, and a
    # follow-up makes the sweep tell the room the user's state as it is then, if it differs from
    # the last frame sent (the `note` of the budget).

    def _presence_allowed(self, room: str, username: str, event: str) -> bool:
        now = self.clock()
        wait_ms = self.budgets.spend("presence", f"{room}#{username}", self.presence_budget, now, note=event)
        if wait_ms is None:
            return True
        self.store.schedule(FollowUp("presence", (room, username), math.ceil((now + wait_ms) / 1000)))
        log.add(presenceHeldBack=event)
        return False

    def _settle_presence(self, room: str, username: str) -> None:
        members = self.store.room_members(room)
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
