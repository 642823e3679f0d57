"""Messages: sendmessage (store, then deliver; the mentions it records), history pages, the batch
a `fanout` invocation delivers, and the heartbeat's answer."""

from __future__ import annotations

from typing import Callable

from handler import log, protocol
from handler.broadcast import Broadcaster
from handler.chat.activity import Activity
from handler.chat.departures import Departures
from handler.chat.live_connections import LiveConnections
from handler.chat.message_frames import message_frame
from handler.chat.quotes import Quotes
from handler.chat.rate_limits import RateLimiter
from handler.chat.replies import Replies
from handler.chat.side_pool import side_pool
from handler.errors import StorageUnavailable
from handler.guard import quietly
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.settings import Limits
from handler.store.budgets import BudgetStore, Spending
from handler.store.connections import Connection, ConnectionStore, Member
from handler.store.messages import AlongsideMoved, MessageStore, StoredMessage
from handler.store.read_markers import MarkerStore
from handler.store.rooms import RoomsStore

# How many times sendmessage reads the sender's budget again when another of their tabs spent it
# between its read and its write, before it answers rate_limited.
SEND_ATTEMPTS = 3


class Messaging:
    def __init__(
        self, connections: ConnectionStore, messages: MessageStore, budgets: BudgetStore, rooms: RoomsStore,
        markers: MarkerStore, *, broadcaster: Broadcaster, live: LiveConnections, limiter: RateLimiter,
        replies: Replies, departures: Departures, quotes: Quotes, limits: Limits, clock: Callable[[], int],
    ):
        self.connections = connections
        self.messages = messages
        self.budgets = budgets
        self.rooms = rooms
        self.markers = markers
        self.broadcaster = broadcaster
        self.live = live
        self.limiter = limiter
        self.replies = replies
        self.departures = departures
        self.quotes = quotes
        self.limits = limits
        self.clock = clock
        # The users of the room who are elsewhere hear of each message (`activity` frames).
        self.activity = Activity(connections, rooms, broadcaster.sender, limits, clock)
        self.message_budget = limits.message
        self.history_budget = limits.history

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
        if request.room is not None and request.room != conn.room:
            # Typed in another room than the one this connection is in now (a page that switched,
            # or fell back, with messages queued): stored nowhere, so that no text ever lands in
            # a room it was not written for. The client keeps it for its own room.
            log.add(wrongRoom=True)
            raise ProtocolError(ErrorCode.WRONG_ROOM,
                                f"this connection is in {conn.room or 'no room'}, not {request.room}: nothing was stored",
                                room=conn.room or None, clientMsgId=request.client_msg_id)
        self.live.check_may_send(conn)
        self.limiter.refuse_if_waiting("message", "too many messages", spending.wait_ms)
        # Only a reply reads more (the quoted message); a plain message costs what it always did.
        reply_to = self.quotes.quoted(conn.room, request.reply_to) if request.reply_to else None
        # The audience lookup runs while the message is written. Nothing is posted before the
        # write succeeded, so a posted message is always in history.
        audience = side_pool.submit(self.connections.room_members, conn.room)
        # So does, once a minute per room and process, the room's last activity (the rooms list's
        # order, the directory's). Nothing counts messages per message: unread counts are counted
        # from the messages (handler/read_markers.py).
        now = self.clock()
        touched = side_pool.submit(self.rooms.touch, conn.room, now) if self.rooms.touch_due(conn.room, now) else None
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
            self.limiter.spend_or_refuse("message", identity.username, self.message_budget, "too many messages")
            return message_frame(stored)
        # The message is stored: from here on the sender gets its copy whatever else fails (an
        # error now would make it send the text again, as a new message).
        frame = message_frame(stored)
        log.count("MessagesStored")
        # Everyone else in the room gets a post; the sender's own connection gets the response
        # (the index may not even list a connection that joined a moment ago).
        try:
            everyone = audience.result()
        except StorageUnavailable:
            log.warning("could not read the room's members: the message is stored, not posted")
            log.count("StorageUnavailable")
            log.fail("delivery failed")
            everyone = []
        others = [member for member in everyone if member.connection_id != connection_id]
        # Mentions are recorded while the message is delivered (after its write: a mention always
        # names a stored message); a message without one makes no write for them.
        mentioned = self._record_mentions(conn.room, stored)
        # The room's users elsewhere are told beside the room's own posts, not after them: the
        # sender's answer waits for neither more than for the slower of the two.
        elsewhere = side_pool.submit(self.activity.tell, stored)
        posted, gone = self.broadcaster.deliver(conn.room, others, frame) if others else (0, [])
        log.add(room=conn.room, messageId=stored.id, members=len(everyone), postedHere=posted, gone=len(gone))
        if touched is not None and not self._touched(touched):
            # Once more: a room whose activity lags its messages by more than a minute could have
            # its unread count skipped (handler/read_markers.py).
            quietly(self.rooms.touch, conn.room, now)
        self._mentions_recorded(mentioned)
        elsewhere.result()  # never raises (Activity.tell); a Lambda may be frozen once it returns
        if gone:
            quietly(self.departures.drop_gone_members, conn.room, gone)
        return frame

    def _sender_and_budget(self, connection_id: str, username: str) -> tuple[Connection, Spending]:
        """The sender's live row and what a message would spend of their budget, in one read."""
        conn, budget = self.connections.get_connection_and_limit(connection_id, self.budgets.key("message", username))
        return self.live.alive(connection_id, conn), self.budgets.spending(
            "message", username, self.message_budget, self.clock(), budget)

    def _store_message(self, conn: Connection, identity: Identity, request: protocol.SendMessage,
                       reply_to: dict | None = None, alongside: dict | None = None) -> tuple[StoredMessage, bool]:
        """(the stored message, True), or (the original, False) when its clientMsgId is a repeat.
        `alongside`: written with the message or not at all (the sender's budget)."""
        fields = dict(room=conn.room, sender=identity.username, message=request.message,
                      client_msg_id=request.client_msg_id, sent_at_ms=self.clock(), reply_to=reply_to,
                      alongside=alongside)
        if request.client_msg_id is None:
            return self.messages.append_message(**fields), True
        return self.messages.append_message_once(**fields, window_seconds=self.limits.client_msg_id_seconds)

    def _record_mentions(self, room: str, stored: StoredMessage) -> list:
        """One write per user the message mentions (protocol.mentions), on the side pool. A
        mentioned user who may not read the room (a private room's non-member) gets a row too, but
        `rooms` never shows them a room they may not read."""
        names = protocol.mentions(stored.message, stored.sender)
        if names:
            log.add(mentions=len(names))
        now = self.clock()
        return [side_pool.submit(self.markers.mention, protocol.mention_key(name), room, stored.id, now)
                for name in names]

    @staticmethod
    def _mentions_recorded(pending: list) -> None:
        """Wait for the mention writes (a Lambda may be frozen once it returns); a failed one is
        logged: the message itself is stored and delivered."""
        for future in pending:
            try:
                future.result()
            except StorageUnavailable:
                log.warning("could not record a mention")

    @staticmethod
    def _touched(touched) -> bool:
        """Wait for the room's update; a failed one is logged (the message itself is stored)."""
        if touched is None:
            return False
        try:
            touched.result()
            return True
        except StorageUnavailable:
            log.warning("could not update the room's activity")
            return False

    def history(self, connection_id: str, identity: Identity, request: protocol.HistoryQuery) -> None:
        self.limiter.spend_or_refuse("history", identity.username, self.history_budget, "too many history requests")
        conn = self.live.get(connection_id)
        if not conn.room:
            # Only the connection's room, which join or $connect authorized, is ever read.
            raise ProtocolError(ErrorCode.FORBIDDEN, "this connection is in no room: join one first")
        keep = protocol.Keep.NEWEST
        if request.after is not None:
            messages, has_more = self.messages.messages_after(conn.room, request.after, request.limit)
            keep = protocol.Keep.OLDEST
        elif request.before is not None:
            messages, has_more = self.messages.messages_before(conn.room, request.before, request.limit)
        else:
            messages, has_more = self.messages.recent_messages(conn.room, request.limit)
        messages = self.quotes.current(conn.room, messages)
        page = protocol.history_frame(room=conn.room, messages=[message_frame(m, identity.username) for m in messages],
                                      has_more=has_more, keep=keep)
        self.replies.reply(connection_id, page)
        log.add(room=conn.room, messages=len(page["messages"]), hasMore=page["hasMore"])

    def deliver_batch(self, room: str, members: list[Member], frame: dict) -> int:
        """Deliver one batch of a big room's broadcast (the `fanout` function); return how many were gone."""
        gone = self.broadcaster.deliver(room, members, frame, split=False)[1]  # the batch, whole, here
        if gone:
            self.departures.drop_gone_members(room, gone)
        log.add(room=room, members=len(members), gone=len(gone))
        return len(gone)

    def heartbeat(self) -> dict:
        """The heartbeat's answer, which the route hands back as its response (no post)."""
        return protocol.heartbeat_frame(server_time=protocol.iso_utc(self.clock()))
