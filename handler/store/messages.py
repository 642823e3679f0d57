"""MessageStore: the messages (MessageHistory) by room, in storing order, as data (the chat
service builds their frames), and each user's recent client message ids (`sent#<username>#<clientMsgId>`
in Limits), which make a resent message a repeat instead of a copy.

A message's id starts with its time, so a room's messages are one Query on its partition, in
order; an edit, a reaction or a delete changes the item in place (a deleted one is a tombstone).
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass

from handler import protocol
from handler.errors import StorageUnavailable, WschatError
from handler.settings import Retention, Tables
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_n, get_s, n, s, transact_write

# How many message ids a store tries before it gives up (an id clash is one in 16 million).
APPEND_ATTEMPTS = 3


class AlongsideMoved(WschatError):
    """The action to be written with a message (the sender's budget) no longer held: it changed
    since it was read (another tab of the sender spent it meanwhile). Nothing was written."""


@dataclass(frozen=True)
class StoredMessage:
    """A message as stored: data only (handler/chat/message_frames.py builds its frame)."""

    id: str
    room: str
    sender: str
    message: str
    sent_at: str
    client_msg_id: str | None
    # The quoted message ({id, sender, excerpt}), when it was last
    # edited, and its reactions (emoji -> users, in the order first used).
    reply_to: dict | None = None
    edited_at: str | None = None
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # A deleted message keeps its id, sender and time, and says when and by whom (a tombstone).
    deleted_at: str | None = None
    deleted_by: str | None = None


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


class MessageStore:
    def __init__(self, client, tables: Tables, retention: Retention, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.messages = Table(client, tables.messages, self.reads)
        # Claims of client message ids (sent#...) live in Limits.
        self.limits = Table(client, tables.limits, self.reads)
        self.client = client
        self.retention = retention
        self._id_lock = threading.Lock()
        self._last_id_ms = 0

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
            put = {"ConditionExpression": "attribute_not_exists(id)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
            try:
                if alongside is None:
                    self.messages.put("append_message", item, **put)
                else:
                    transact_write(self.client, "append_message", [
                        {"Put": {"TableName": self.messages.name, "Item": item, **put}},
                        alongside,
                    ], token=_request_token())
                return stored
            except ConditionFailed as failed:
                if _own(item, failed.item if alongside is None else _old_item(failed, 0)):
                    return stored  # our own write, applied, met by a retry whose token did not cover it
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
                ], token=_request_token())
                return stored, True
            except ConditionFailed as failed:
                if alongside is not None and failed.stopped_at(2) and not failed.failed_at(0):
                    raise AlongsideMoved("append_message_once") from None
                claimed = failed.reasons[0] if failed.reasons else {}
                if claimed.get("Code") != "ConditionalCheckFailed":
                    continue  # an id clash, or a conflict with a transaction on the same claim: again
                old = claimed.get("Item") or self.limits.get("sent_claim", claim_key, consistent=True) or {}
                if get_s(old, "id") == stored.id:
                    # The claim names this very attempt's message (its id is new and random): our
                    # own transaction, applied, met by a retry the token did not cover. New, not
                    # a repeat: the room must still get it.
                    return stored, True
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

def _request_token() -> str:
    """A ClientRequestToken for one transaction (handler/store/dynamo.py: transact_write)."""
    return uuid.uuid4().hex


def _old_item(failed: ConditionFailed, index: int) -> dict | None:
    return failed.reasons[index].get("Item") if len(failed.reasons) > index else None


def _own(item: dict, old: dict | None) -> bool:
    """Whether the item a failed condition met is `item` itself: written by an earlier copy of
    this same request (its id holds 24 random bits; its sender, time and text match too)."""
    return old is not None and all(old.get(key) == item.get(key) for key in ("id", "sender", "sentAt", "message"))


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
