"""ChatStore: connections (ActiveConnections), sessions (SessionHistory) and messages (MessageHistory).

ActiveConnections holds one row per open connection, with three indexes: by-room (a message's
audience), by-user (a user's connections) and by-deadline (what the sweep must do). The sweep's
other work lives there too, as follow-up rows: a key `due#<kind>#...` and a deadline, but no
room or user, so that only the by-deadline index holds them (see FollowUp).
SessionHistory keeps one row per connection after it closed. MessageHistory holds messages by
room, sorted by their time-ordered id.

Two kinds of short-lived item go to the Limits table: the session deadline of each token
(`session#<jti>`), and each user's recent client message ids (`sent#<username>#<clientMsgId>`).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from handler import protocol
from handler.settings import Retention, Tables
from handler.store.dynamo import (ConditionFailed, ReadCounter, Table, get_across, get_bool, get_n, get_s, n, s,
                                  transact_write)
from handler.errors import StorageUnavailable, WschatError

ROOM_INDEX = "by-room"
USER_INDEX = "by-user"
DEADLINE_INDEX = "by-deadline"
# The by-deadline index spreads rows over this many partitions ("0".."9") so that none is hot.
SWEEP_SHARDS = 10
# API Gateway closes every connection within 2 hours; a row left behind by a lost $disconnect
# expires an hour after that.
CONNECTION_ROW_TTL_SECONDS = 3 * 3600
# Follow-up rows are keyed by this prefix; API Gateway's connection ids never contain "#".
FOLLOW_UP_PREFIX = "due#"
# A follow-up the sweep never got to (the schedule stopped) is removed this long after it was due.
FOLLOW_UP_TTL_SECONDS = 3600
# How many message ids a store tries before it gives up (an id clash is one in 16 million).
APPEND_ATTEMPTS = 3


class AlongsideMoved(WschatError):
    """The action to be written with a message (the sender's budget) no longer held: it changed
    since it was read (another tab of the sender spent it meanwhile). Nothing was written."""


@dataclass(frozen=True)
class Connection:
    connection_id: str
    username: str
    guest: bool
    room: str
    connected_at_ms: int
    expires_at: int  # epoch seconds: the token's exp
    session_ends_at: int | None  # epoch seconds, for session-limited users
    jti: str | None = None  # the token's id: logout revokes it
    # Rooms and moderation: a site admin (read from the user's account at $connect), and until
    # when (epoch ms; 0: not) the user is muted in the connection's room, which join sets and
    # mute updates, so that sendmessage needs no read of its own for either.
    admin: bool = False
    muted_until: int = 0
    family: str | None = None  # the token's refresh family: a logout or a reuse ends them all

    @property
    def deadline(self) -> int:
        """When this connection must end: token expiry or session limit, whichever is first."""
        if self.session_ends_at is None:
            return self.expires_at
        return min(self.expires_at, self.session_ends_at)


@dataclass(frozen=True)
class Member:
    """A connection as a room's audience sees it (what the by-room index projects)."""

    connection_id: str
    username: str
    connected_at_ms: int = 0


@dataclass(frozen=True)
class FollowUp:
    """Work for the sweep, due at `due` (epoch s): a row `due#<kind>#<subject...>` in ActiveConnections.

    Kinds: "logout" (username, jti): close that token's connections again, for those the by-user
    index did not show yet when the logout ran; "presence" (room, username): tell the room the
    user's presence as it is now, if frames about it were held back, or once the grace after their
    last connection closed is over (a `left` a reload must not send).
    """

    kind: str
    subject: tuple[str, ...]
    due: int

    @property
    def key(self) -> str:
        return FOLLOW_UP_PREFIX + "#".join((self.kind, *self.subject))


@dataclass(frozen=True)
class StoredMessage:
    id: str
    room: str
    sender: str
    message: str
    sent_at: str
    client_msg_id: str | None
    # Message features (issue 13): the quoted message ({id, sender, excerpt}), when it was last
    # edited, and its reactions (emoji -> users, in the order first used).
    reply_to: dict | None = None
    edited_at: str | None = None
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # A deleted message keeps its id, sender and time, and says when and by whom (a tombstone).
    deleted_at: str | None = None
    deleted_by: str | None = None

    def frame(self, viewer: str | None = None) -> dict:
        """The message frame; `viewer`: the user a welcome or history page is for (each reaction
        then says whether they are among its users)."""
        if self.deleted_at is not None:
            return protocol.tombstone_frame(id=self.id, room=self.room, sender=self.sender, sent_at=self.sent_at,
                                            deleted_at=self.deleted_at, deleted_by=self.deleted_by or "")
        return protocol.message_frame(
            id=self.id, room=self.room, sender=self.sender, message=self.message,
            sent_at=self.sent_at, client_msg_id=self.client_msg_id, reply_to=self.reply_to,
            edited_at=self.edited_at,
            reactions=protocol.reactions_list({e: list(u) for e, u in self.reactions}, viewer),
            # From the text, as it reads now: no stored list to keep in step with edits.
            mentions=protocol.mentions(self.message, self.sender),
        )


class EditRefused(Exception):
    """Raised when an edit or a reaction finds no message to change: `reason` is "missing"
    (no such id in the room), "deleted" or "not_author"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ReactionRefused(Exception):
    """Raised when a reaction would pass a bound: `reason` is "kinds" or "users"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ChatStore:
    def __init__(self, client, tables: Tables, retention: Retention, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.connections = Table(client, tables.connections, self.reads)
        self.sessions = Table(client, tables.sessions, self.reads)
        self.messages = Table(client, tables.messages, self.reads)
        self.limits = Table(client, tables.limits, self.reads)
        self.client = client
        self.retention = retention
        self._id_lock = threading.Lock()
        self._last_id_ms = 0

    # -- connections ---------------------------------------------------------------------------

    def put_connection(self, conn: Connection) -> None:
        item = {
            "connectionId": s(conn.connection_id),
            "username": s(conn.username),
            "guest": {"BOOL": conn.guest},
            "room": s(conn.room),
            "connectedAt": n(conn.connected_at_ms),
            "expiresAt": n(conn.expires_at),
            "ttl": n(conn.connected_at_ms // 1000 + CONNECTION_ROW_TTL_SECONDS),
            "deadline": n(conn.deadline),
            "sweepShard": s(str(secrets.randbelow(SWEEP_SHARDS))),
        }
        if conn.session_ends_at is not None:
            item["sessionEndsAt"] = n(conn.session_ends_at)
        if conn.jti:
            item["jti"] = s(conn.jti)
        if conn.admin:
            item["admin"] = {"BOOL": True}
        if conn.muted_until:
            item["mutedUntil"] = n(conn.muted_until)
        if conn.family:
            item["family"] = s(conn.family)
        self.connections.put("put_connection", item)

    def get_connection(self, connection_id: str) -> Connection | None:
        # Strongly consistent: a row just moved to another room must not be read as it was
        # (DynamoDB's default read may be a second behind).
        item = self.connections.get("get_connection", {"connectionId": s(connection_id)}, consistent=True)
        return _connection(item) if item else None

    def get_connection_and_limit(self, connection_id: str, limit_key: dict) -> tuple[Connection | None, dict | None]:
        """The connection's row and one Limits item (a budget) in one strongly consistent read."""
        row, limit = get_across(self.client, "get_connection_and_limit", self.reads,
                                [(self.connections.name, {"connectionId": s(connection_id)}),
                                 (self.limits.name, limit_key)])
        return (_connection(row) if row else None), limit

    def delete_connection(self, connection_id: str, *, connected_before_ms: int | None = None) -> Connection | None:
        """Remove the row and return what it held, or None if it was already gone.

        With `connected_before_ms`, a row that connected at or after that moment is kept (and None
        returned): see Chat.drop_gone.
        """
        condition = {}
        if connected_before_ms is not None:
            condition = {
                "ConditionExpression": "connectedAt < :cutoff",
                "ExpressionAttributeValues": {":cutoff": n(connected_before_ms)},
            }
        try:
            response = self.connections.delete(
                "delete_connection", {"connectionId": s(connection_id)}, ReturnValues="ALL_OLD", **condition
            )
        except ConditionFailed:
            return None
        item = response.get("Attributes")
        return _connection(item) if item else None

    def move_connection(self, connection_id: str, room: str, muted_until: int = 0) -> Connection | None:
        """Put the connection in another room (with the user's mute there); None if the row is gone."""
        try:
            response = self.connections.update(
                "move_connection", {"connectionId": s(connection_id)},
                UpdateExpression="SET room = :room, mutedUntil = :muted",
                ConditionExpression="attribute_exists(connectionId)",
                ExpressionAttributeValues={":room": s(room), ":muted": n(muted_until)},
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        return _connection(response["Attributes"])

    def room_members(self, room: str) -> list[Member]:
        """Every connection in the room: a Query on the by-room index, all pages followed."""
        items = self.connections.query(
            "room_members", IndexName=ROOM_INDEX,
            KeyConditionExpression="room = :room", ExpressionAttributeValues={":room": s(room)},
        )
        return [Member(get_s(i, "connectionId"), get_s(i, "username", ""), get_n(i, "connectedAt", 0)) for i in items]

    def user_connections(self, username: str) -> list[tuple[str, str | None]]:
        """(connectionId, jti) of every open connection of the user (the by-user index)."""
        items = self.connections.query(
            "user_connections", IndexName=USER_INDEX,
            KeyConditionExpression="username = :u", ExpressionAttributeValues={":u": s(username)},
        )
        return [(get_s(i, "connectionId"), get_s(i, "jti")) for i in items]

    def renew_connection(self, connection_id: str, *, expires_at: int, deadline: int, jti: str | None,
                         family: str | None) -> bool:
        """Give an open connection a renewed token's expiry (its deadline with it, for the sweep);
        False if the row is gone."""
        # Every name through a placeholder: some (deadline) are DynamoDB reserved words.
        names = {"#exp": "expiresAt", "#deadline": "deadline", "#id": "connectionId"}
        values = {":exp": n(expires_at), ":deadline": n(deadline)}
        update = "SET #exp = :exp, #deadline = :deadline"
        for attribute, value in (("jti", jti), ("family", family)):
            if value:
                update += f", #{attribute} = :{attribute}"
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = s(value)
        try:
            self.connections.update(
                "renew_connection", {"connectionId": s(connection_id)}, UpdateExpression=update,
                ConditionExpression="attribute_exists(#id)", ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ConditionFailed:
            return False
        return True

    def due(self, now_s: int) -> tuple[list[Connection], list[FollowUp]]:
        """What the sweep must do by now: connections whose deadline has passed, and follow-ups
        due. One Query per shard of the by-deadline index."""
        connections, follow_ups = [], []
        for shard in range(SWEEP_SHARDS):
            items = self.connections.query(
                "expired_connections", IndexName=DEADLINE_INDEX,
                KeyConditionExpression="sweepShard = :shard AND deadline <= :now",
                ExpressionAttributeValues={":shard": s(str(shard)), ":now": n(now_s)},
            )
            for i in items:
                key = get_s(i, "connectionId")
                if key.startswith(FOLLOW_UP_PREFIX):
                    kind, _, subject = key[len(FOLLOW_UP_PREFIX):].partition("#")
                    # The last part may hold anything (a jti): split only the first off.
                    parts = tuple(subject.split("#", 1)) if subject else ()
                    follow_ups.append(FollowUp(kind, parts, get_n(i, "deadline", 0)))
                    continue
                connections.append(Connection(
                    connection_id=key, username=get_s(i, "username", ""), guest=False,
                    room=get_s(i, "room", ""), connected_at_ms=0, expires_at=get_n(i, "expiresAt", 0),
                    session_ends_at=None,
                ))
        return connections, follow_ups

    def expired_connections(self, now_s: int) -> list[Connection]:
        """Connections whose deadline has passed."""
        return self.due(now_s)[0]

    def schedule(self, follow_up: FollowUp) -> None:
        """Put a follow-up row; one already there for the same work is replaced (one row per key)."""
        if not follow_up.kind.isalpha() or any("#" in part for part in follow_up.subject[:-1]):
            raise ValueError(f"a follow-up's kind and leading parts may not hold '#': {follow_up.key!r}")
        self.connections.put("schedule_follow_up", {
            "connectionId": s(follow_up.key),
            "deadline": n(follow_up.due),
            "sweepShard": s(str(secrets.randbelow(SWEEP_SHARDS))),
            "ttl": n(follow_up.due + FOLLOW_UP_TTL_SECONDS),
        })

    def pending(self, follow_up: FollowUp) -> bool:
        """Whether a follow-up for the same work (its kind and subject; `due` aside) is waiting."""
        return self.connections.get("pending_follow_up", {"connectionId": s(follow_up.key)}, consistent=True) is not None

    def finish(self, follow_up: FollowUp) -> None:
        """Remove a follow-up that was done, unless it was scheduled again (for later) meanwhile."""
        try:
            self.connections.delete(
                "finish_follow_up", {"connectionId": s(follow_up.key)},
                ConditionExpression="deadline = :due", ExpressionAttributeValues={":due": n(follow_up.due)},
            )
        except ConditionFailed:
            pass

    def delete_connections(self, connection_ids: list[str]) -> None:
        """Remove many rows at once (gone members found by a broadcast)."""
        self.connections.delete_many("delete_connections", [{"connectionId": s(cid)} for cid in connection_ids])

    # -- sessions ------------------------------------------------------------------------------

    def session_deadline(self, jti: str, ends_at: int, keep_until: int) -> int:
        """The session deadline (epoch s) of the token `jti`: the first one proposed for it.

        One write that keeps what is there (if_not_exists): every connection of the token, and
        every reconnect with it, gets the deadline its first connection got. `keep_until` is when
        the token expires; no one can connect with it after that.
        """
        response = self.limits.update(
            "session_deadline", {"key": s(f"session#{jti}")},
            UpdateExpression="SET endsAt = if_not_exists(endsAt, :ends), #ttl = if_not_exists(#ttl, :keep)",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":ends": n(ends_at), ":keep": n(keep_until)},
            ReturnValues="ALL_NEW",
        )
        return get_n(response["Attributes"], "endsAt")


    def start_session(self, conn: Connection, *, source_ip: str | None, user_agent: str | None) -> None:
        item = {
            "connectionId": s(conn.connection_id),
            "username": s(conn.username),
            "guest": {"BOOL": conn.guest},
            "room": s(conn.room),
            "connectedAt": s(protocol.iso_utc(conn.connected_at_ms)),
            "connectedAtEpoch": n(conn.connected_at_ms // 1000),
            "expiresAt": n(conn.expires_at),
            "ttl": n(conn.connected_at_ms // 1000 + self.retention.session_days * 86400),
        }
        if source_ip:
            item["sourceIp"] = s(source_ip[:64])
        if user_agent:
            item["userAgent"] = s(user_agent[:512])
        self.sessions.put("start_session", item)

    def end_session(self, connection_id: str, *, room: str, ended_at_ms: int, reason: str) -> None:
        """Record when and why the session ended. A second call for the same session is a no-op.

        The duration is computed by DynamoDB from the row's own start, so callers need only the id.
        """
        try:
            self.sessions.update(
                "end_session", {"connectionId": s(connection_id)},
                UpdateExpression=(
                    "SET disconnectedAt = :at, durationSeconds = :end - connectedAtEpoch, reason = :r, lastRoom = :room"
                ),
                ConditionExpression="attribute_exists(connectedAtEpoch) AND attribute_not_exists(disconnectedAt)",
                ExpressionAttributeValues={
                    ":at": s(protocol.iso_utc(ended_at_ms)), ":end": n(ended_at_ms // 1000), ":r": s(reason),
                    ":room": s(room),
                },
            )
        except ConditionFailed:
            pass

    # -- messages ------------------------------------------------------------------------------

    def append_message(
        self, *, room: str, sender: str, message: str, client_msg_id: str | None, sent_at_ms: int,
        reply_to: dict | None = None, alongside: dict | None = None,
    ) -> StoredMessage:
        """Store a message under a new time-ordered id and return it: one write, no counter.

        The condition makes a clash of two messages in the same millisecond with the same random
        suffix (one in 16 million) a retry instead of an overwrite. `alongside`: a transaction
        action written with the message or not at all (the sender's budget); AlongsideMoved if
        its condition did not hold.
        """
        id_ms = self._next_id_ms(sent_at_ms)
        for _ in range(APPEND_ATTEMPTS):
            stored, item = self._new_message(id_ms, room, sender, message, client_msg_id, sent_at_ms, reply_to)
            try:
                if alongside is None:
                    self.messages.put("append_message", item, ConditionExpression="attribute_not_exists(id)")
                else:
                    transact_write(self.client, "append_message", [
                        {"Put": {"TableName": self.messages.name, "Item": item,
                                 "ConditionExpression": "attribute_not_exists(id)"}},
                        alongside,
                    ])
                return stored
            except ConditionFailed as failed:
                if alongside is not None and failed.stopped_at(1):
                    raise AlongsideMoved("append_message") from None
                continue
        raise StorageUnavailable("append_message: no free id")

    def append_message_once(
        self, *, room: str, sender: str, message: str, client_msg_id: str, sent_at_ms: int, window_seconds: int,
        reply_to: dict | None = None, alongside: dict | None = None,
    ) -> tuple[StoredMessage, bool]:
        """Store a message unless its sender stored one with the same client_msg_id in the last
        `window_seconds`: (the new message, True), or (the one stored then, False).

        One transaction of two conditional puts, the claim `sent#<sender>#<clientMsgId>` (Limits)
        and the message: both are written or neither, so a claim always names a stored message,
        and of two sends of one id at once one is stored. A repeat costs one read more (the
        original message, by the id its claim holds). `alongside` as in append_message: a repeat
        writes nothing, so spends nothing.
        """
        now_s = sent_at_ms // 1000
        claim_key = {"key": s(f"sent#{sender}#{client_msg_id}")}
        id_ms = self._next_id_ms(sent_at_ms)
        for _ in range(APPEND_ATTEMPTS):
            stored, item = self._new_message(id_ms, room, sender, message, client_msg_id, sent_at_ms, reply_to)
            claim = {**claim_key, "room": s(room), "id": s(stored.id), "ttl": n(now_s + window_seconds)}
            try:
                transact_write(self.client, "append_message_once", [
                    {"Put": {
                        "TableName": self.limits.name, "Item": claim,
                        # An expired claim that TTL has not removed yet counts as none.
                        "ConditionExpression": "attribute_not_exists(#key) OR #ttl <= :now",
                        "ExpressionAttributeNames": {"#key": "key", "#ttl": "ttl"},
                        "ExpressionAttributeValues": {":now": n(now_s)},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }},
                    {"Put": {"TableName": self.messages.name, "Item": item,
                             "ConditionExpression": "attribute_not_exists(id)"}},
                    *([alongside] if alongside is not None else []),
                ])
                return stored, True
            except ConditionFailed as failed:
                if alongside is not None and failed.stopped_at(2) and not failed.failed_at(0):
                    raise AlongsideMoved("append_message_once") from None
                claimed = failed.reasons[0] if failed.reasons else {}
                if claimed.get("Code") != "ConditionalCheckFailed":
                    continue  # an id clash, or a conflict with a transaction on the same claim: again
                old = claimed.get("Item") or self.limits.get("sent_claim", claim_key, consistent=True) or {}
                original = self._message(get_s(old, "room", ""), get_s(old, "id", ""))
                if original is not None:
                    return original, False
                # The claim expired between the write and the read: the window is over, store anew.
        raise StorageUnavailable("append_message_once: no free id")

    def _next_id_ms(self, sent_at_ms: int) -> int:
        with self._id_lock:
            # Strictly increasing within this process, so that two messages of one millisecond
            # keep their order; the random suffix keeps processes apart.
            self._last_id_ms = max(sent_at_ms, self._last_id_ms + 1)
            return self._last_id_ms

    def _new_message(self, id_ms, room, sender, message, client_msg_id, sent_at_ms,
                     reply_to=None) -> tuple[StoredMessage, dict]:
        stored = StoredMessage(
            id=protocol.new_message_id(id_ms, secrets.token_hex(3)), room=room, sender=sender, message=message,
            sent_at=protocol.iso_utc(sent_at_ms), client_msg_id=client_msg_id, reply_to=reply_to,
        )
        item = {
            "room": s(room),
            "id": s(stored.id),
            "sender": s(sender),
            "message": s(message),
            "sentAt": s(stored.sent_at),
            "ttl": n(sent_at_ms // 1000 + self.retention.message_days * 86400),
        }
        if client_msg_id is not None:
            item["clientMsgId"] = s(client_msg_id)
        if reply_to is not None:
            item["replyTo"] = {"M": {key: s(value) for key, value in reply_to.items()}}
        return stored, item

    def message(self, room: str, message_id: str) -> StoredMessage | None:
        """One message of the room (a tombstone too: see deleted_at), or None."""
        return self._message(room, message_id)

    # -- message features (issue 13) ---------------------------------------------------------------

    def edit_message(self, *, room: str, message_id: str, sender: str, message: str, edited_at_ms: int) -> StoredMessage:
        """Replace the text of `sender`'s message; raise EditRefused if there is none to change.

        One conditional update: the message exists, is not deleted (a tombstone has `deletedAt`)
        and is the sender's. What failed is read from the item the refusal returns.
        """
        try:
            response = self.messages.update(
                "edit_message", {"room": s(room), "id": s(message_id)},
                UpdateExpression="SET message = :m, editedAt = :at",
                ConditionExpression="attribute_exists(id) AND attribute_not_exists(deletedAt) AND sender = :me",
                ExpressionAttributeValues={":m": s(message), ":at": s(protocol.iso_utc(edited_at_ms)), ":me": s(sender)},
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as refused:
            raise EditRefused(_refusal(refused.item)) from None
        return _message(response["Attributes"])

    def toggle_reaction(
        self, *, room: str, message_id: str, user: str, emoji: str, kinds_max: int, users_max: int
    ) -> tuple[bool, int]:
        """Add the user's `emoji` to the message, or take it back if it is there: (added, count).

        Read, then a write conditioned on the version read (`reactionsVersion`), tried again if
        another reaction came in between: the list stays bounded and no toggle is lost.
        """
        key = {"room": s(room), "id": s(message_id)}
        for _ in range(5):
            item = self.messages.get("reaction_read", key, consistent=True)
            if not item or "deletedAt" in item:
                raise EditRefused("deleted" if item else "missing")
            reactions = _reactions(item)
            users = list(reactions.get(emoji, ()))
            added = user not in users
            if added:
                if emoji not in reactions and len(reactions) >= kinds_max:
                    raise ReactionRefused("kinds")
                if len(users) >= users_max:
                    raise ReactionRefused("users")
                users.append(user)
            else:
                users.remove(user)
            if users:
                reactions[emoji] = tuple(users)
            else:
                reactions.pop(emoji, None)
            version = get_n(item, "reactionsVersion", 0)
            stored = {"L": [{"M": {"e": s(e), "u": {"L": [s(u) for u in us]}}} for e, us in reactions.items()]}
            try:
                self.messages.update(
                    "toggle_reaction", key,
                    UpdateExpression="SET reactions = :r, reactionsVersion = :next",
                    ConditionExpression=(
                        "attribute_exists(id) AND attribute_not_exists(deletedAt) AND "
                        "(attribute_not_exists(reactionsVersion) OR reactionsVersion = :version)"
                    ),
                    ExpressionAttributeValues={":r": stored, ":next": n(version + 1), ":version": n(version)},
                )
            except ConditionFailed:
                continue  # another reaction (or a delete) came in between: read again
            return added, len(users)
        raise StorageUnavailable("toggle_reaction: contention")

    def _message(self, room: str, message_id: str) -> StoredMessage | None:
        if not room or not message_id:
            return None
        item = self.messages.get("message", {"room": s(room), "id": s(message_id)}, consistent=True)
        return _message(item) if item else None

    def quoted_texts(self, room: str, message_ids: list[str]) -> dict[str, str | None]:
        """The current text of up to 100 of the room's messages (a page's quoted ones), by id, in
        one BatchGetItem that reads only id, text and deletion: None for a deleted one; an id
        that is gone (expired) is left out."""
        ids = list(dict.fromkeys(message_ids))
        if not ids:
            return {}
        items = self.messages.get_many(
            "quoted_texts", [{"room": s(room), "id": s(message_id)} for message_id in ids],
            ProjectionExpression="id, #message, deletedAt", ExpressionAttributeNames={"#message": "message"})
        return {get_s(item, "id"): None if "deletedAt" in item else get_s(item, "message", "") for item in items}

    def recent_messages(self, room: str, limit: int) -> tuple[list[StoredMessage], bool]:
        """The last `limit` messages, oldest first, and whether older ones exist."""
        return self._page(room, None, {}, limit, newest_first=True)

    def messages_before(self, room: str, before: str, limit: int) -> tuple[list[StoredMessage], bool]:
        return self._page(room, "id < :before", {":before": s(before)}, limit, newest_first=True)

    def messages_after(self, room: str, after: str, limit: int) -> tuple[list[StoredMessage], bool]:
        return self._page(room, "id > :after", {":after": s(after)}, limit, newest_first=False)

    def _page(self, room, condition, values, limit, *, newest_first) -> tuple[list[StoredMessage], bool]:
        items = list(self.messages.query(
            "messages",
            KeyConditionExpression="room = :room" + (f" AND {condition}" if condition else ""),
            ExpressionAttributeValues={":room": s(room), **values},
            ScanIndexForward=not newest_first,
            # Strongly consistent: a catch-up after a reconnect must see a message stored a moment
            # ago, or the client never gets it (it was not connected to receive it live).
            ConsistentRead=True,
            # One extra item tells whether there is more without a second request.
            limit=limit + 1,
        ))
        has_more = len(items) > limit
        messages = [_message(item) for item in items[:limit]]
        if newest_first:
            messages.reverse()
        return messages, has_more

    # -- rooms and moderation ------------------------------------------------------------------

    def user_connections_in(self, username: str, room: str) -> list[str]:
        """The ids of the user's connections in `room` (the by-user index, which projects room)."""
        items = self.connections.query(
            "user_connections", IndexName=USER_INDEX,
            KeyConditionExpression="username = :u", ExpressionAttributeValues={":u": s(username)},
        )
        return [get_s(i, "connectionId") for i in items if get_s(i, "room") == room]

    def evict(self, connection_id: str, room: str) -> Connection | None:
        """Take the connection out of `room` into no room (a kick, a ban, a left private room);
        None if it is no longer there."""
        try:
            response = self.connections.update(
                "evict_connection", {"connectionId": s(connection_id)},
                UpdateExpression="REMOVE room, mutedUntil", ConditionExpression="room = :room",
                ExpressionAttributeValues={":room": s(room)}, ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        return _connection(response["Attributes"])

    def set_muted(self, connection_id: str, room: str, until_ms: int) -> bool:
        """Mark the connection muted until then, if it is still in `room`."""
        try:
            self.connections.update(
                "mute_connection", {"connectionId": s(connection_id)},
                UpdateExpression="SET mutedUntil = :until", ConditionExpression="room = :room",
                ExpressionAttributeValues={":room": s(room), ":until": n(until_ms)},
            )
        except ConditionFailed:
            return False
        return True

    def delete_message(self, room: str, message_id: str, *, by: str, at_ms: int) -> bool:
        """Make the message a tombstone: its text, quote, reactions and edit mark removed,
        `deletedAt` and `deletedBy` set; False if it is gone or deleted already."""
        try:
            self.messages.update(
                "delete_message", {"room": s(room), "id": s(message_id)},
                UpdateExpression="REMOVE #message, replyTo, reactions, editedAt SET deletedAt = :at, deletedBy = :by",
                ConditionExpression="attribute_exists(id) AND attribute_not_exists(deletedAt)",
                ExpressionAttributeNames={"#message": "message"},
                ExpressionAttributeValues={":at": s(protocol.iso_utc(at_ms)), ":by": s(by)},
            )
        except ConditionFailed:
            return False
        return True

    def count_in_room(self, room: str) -> int:
        """How many connections are in the room: a COUNT Query on the by-room index."""
        return self.connections.count("count_in_room", IndexName=ROOM_INDEX, KeyConditionExpression="room = :room",
                                      ExpressionAttributeValues={":room": s(room)})

    def newest_after(self, room: str, message_id: str | None, at_most: int) -> list[str]:
        """The ids of the room's messages after `message_id` (all, for None; tombstones too),
        newest first, at most `at_most` of them: an unread count, and the newest message's time.
        One Query of one page, ids only on the wire (DynamoDB still reads whole items)."""
        condition, values = "room = :room", {":room": s(room)}
        if message_id is not None:
            condition, values = "room = :room AND id > :id", {**values, ":id": s(message_id)}
        items = self.messages.query("newest_after", KeyConditionExpression=condition,
                                    ExpressionAttributeValues=values, ProjectionExpression="id",
                                    ScanIndexForward=False, ConsistentRead=True, limit=at_most)
        return [get_s(item, "id") for item in items]

    def has_messages(self, room: str) -> bool:
        return bool(list(self.messages.query(
            "room_has_messages", KeyConditionExpression="room = :room",
            ExpressionAttributeValues={":room": s(room)}, limit=1,
        )))


def _connection(item: dict) -> Connection:
    return Connection(
        connection_id=get_s(item, "connectionId"),
        username=get_s(item, "username"),
        guest=get_bool(item, "guest"),
        room=get_s(item, "room"),
        connected_at_ms=get_n(item, "connectedAt"),
        expires_at=get_n(item, "expiresAt"),
        session_ends_at=get_n(item, "sessionEndsAt"),
        jti=get_s(item, "jti"),
        admin=get_bool(item, "admin"),
        muted_until=get_n(item, "mutedUntil", 0),
        family=get_s(item, "family"),
    )


def _message(item: dict) -> StoredMessage:
    reply = item.get("replyTo", {}).get("M")
    return StoredMessage(
        id=get_s(item, "id"),
        room=get_s(item, "room"),
        sender=get_s(item, "sender"),
        message=get_s(item, "message", ""),
        sent_at=get_s(item, "sentAt"),
        client_msg_id=get_s(item, "clientMsgId"),
        reply_to={k: get_s(reply, k, "") for k in ("id", "sender", "excerpt")} if reply else None,
        edited_at=get_s(item, "editedAt"),
        reactions=tuple(_reactions(item).items()),
        deleted_at=get_s(item, "deletedAt"),
        deleted_by=get_s(item, "deletedBy"),
    )


def _reactions(item: dict) -> dict[str, tuple[str, ...]]:
    reactions = {}
    for entry in item.get("reactions", {}).get("L", []):
        fields = entry.get("M", {})
        emoji = get_s(fields, "e")
        users = tuple(u["S"] for u in fields.get("u", {}).get("L", []) if "S" in u)
        if emoji and users:
            reactions[emoji] = users
    return reactions


def _refusal(item: dict | None) -> str:
    """Why an edit's condition failed, from the item as it was."""
    if not item:
        return "missing"
    if "deletedAt" in item:
        return "deleted"
    return "not_author"
