"""MarkerStore: each user's read markers and mentions, one row per user and room (Rooms table).

The row is `pk` = `user#<userkey>`, `sk` = `read#<room>` (the user's partition, beside the count of
rooms they own), so that a user's rows are one Query on the base table, without an index:

    readId     the newest message id the user has read in the room (only ever moves forward)
    mentionId  the newest message of the room that mentions the user (`@name`)
    room, at, ttl

A mention writes only `mentionId` (a row may hold nothing else: the user never read the room).
Each write is one conditional UpdateItem that keeps the newer id, so markers only move forward
and an older mention never hides a newer one. Every write sets the ttl to the message retention:
a row untouched that long refers to messages that are gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from handler.settings import Retention, Tables
from handler.store.accounts import username_key
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_s, n, s

# A user's rows read at once by `rooms`: their markers in at most this many rooms (the newest
# read or mentioned are not told apart; a user reads rooms in the hundreds at most).
MARKERS_MAX = 200


@dataclass(frozen=True)
class Marker:
    room: str
    read_id: str | None  # None: never read (a mention's row)
    mention_id: str | None

    @property
    def mentioned(self) -> bool:
        """Whether the newest mention of the user is after what they have read."""
        return self.mention_id is not None and (self.read_id is None or self.mention_id > self.read_id)


def marker_key(user_key: str, room: str) -> dict:
    """A user's row for a room (the rooms store reads it too: a reader belongs to a public room)."""
    return {"pk": s(f"user#{user_key}"), "sk": s(f"read#{room}")}


class MarkerStore:
    def __init__(self, client, tables: Tables, retention: Retention, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.rooms = Table(client, tables.rooms, self.reads)
        self.retention = retention

    def _ttl(self, now_ms: int) -> dict:
        return n(now_ms // 1000 + self.retention.message_days * 86400)

    def mark_read(self, username: str, room: str, message_id: str, now_ms: int) -> tuple[str, bool]:
        """Move the user's marker in the room to `message_id` if that is newer: (the marker as it
        now stands, whether it moved). A marker at or after the id stays (and is returned)."""
        try:
            self.rooms.update(
                "mark_read", marker_key(username_key(username), room),
                # The username as registered, so that a mention's `activity` frame finds the
                # reader's connections (the by-user index is keyed by it, not by the user key).
                UpdateExpression="SET readId = :id, #room = :room, #at = :now, #ttl = :ttl, username = :user",
                ConditionExpression="attribute_not_exists(readId) OR readId < :id",
                ExpressionAttributeNames={"#room": "room", "#at": "at", "#ttl": "ttl"},
                ExpressionAttributeValues={":id": s(message_id), ":room": s(room),
                                           ":now": n(now_ms), ":ttl": self._ttl(now_ms), ":user": s(username)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as kept:
            return get_s(kept.item or {}, "readId") or message_id, False
        return message_id, True

    def mention(self, user_key: str, room: str, message_id: str, now_ms: int) -> None:
        """Record that `message_id` in the room mentions the user (kept if a newer one is there)."""
        try:
            self.rooms.update(
                "mention", marker_key(user_key, room),
                UpdateExpression="SET mentionId = :id, #room = :room, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(mentionId) OR mentionId < :id",
                ExpressionAttributeNames={"#room": "room", "#ttl": "ttl"},
                ExpressionAttributeValues={":id": s(message_id), ":room": s(room), ":ttl": self._ttl(now_ms)},
            )
        except ConditionFailed:
            pass

    def marker(self, username: str, room: str) -> Marker | None:
        """The user's row for the room (strongly consistent: a `read` of a moment ago holds)."""
        item = self.rooms.get("read_marker", marker_key(username_key(username), room), consistent=True)
        return _marker(item) if item else None

    def markers(self, username: str) -> list[Marker]:
        """The user's rows, at most MARKERS_MAX of them (by room name)."""
        items = self.rooms.query(
            "read_markers", KeyConditionExpression="pk = :pk AND begins_with(sk, :read)",
            ExpressionAttributeValues={":pk": s(f"user#{username_key(username)}"), ":read": s("read#")},
            limit=MARKERS_MAX,
        )
        return [_marker(item) for item in items]


def _marker(item: dict) -> Marker:
    return Marker(
        room=get_s(item, "room") or get_s(item, "sk", "")[len("read#"):],
        read_id=get_s(item, "readId"),
        mention_id=get_s(item, "mentionId"),
    )
