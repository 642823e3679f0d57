"""RoomsStore: rooms, memberships, bans, mutes, the moderation log and owned-room counts (Rooms).

Its rows (keys, items, what they are read into) are room_rows.py's. Users are keyed by
accounts.username_key (one key for every letter case of a name). Two indexes: by-member (a
user's memberships) and by-activity (the public directory, by the minute of the last message).
Nothing here scans.

Bans and mutes carry `until` (epoch ms; a ban without it lasts until an unban) and a ttl a day
later: an expired one is ignored by every read here, whether or not TTL removed it yet.
"""

from __future__ import annotations

import secrets

from handler import protocol
from handler.settings import Retention, Tables
from handler.store.accounts import username_key
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_n, get_s, n, s, transact_write
from handler.store.read_markers import marker_key
from handler.store.room_rows import (
    Access, DirectoryEntry, Membership, RoomRecord, log_entry, log_item, meta_key, member_item, member_key, owned_key,
    record_from_item, restriction_item, restriction_key, room_pk,
)

MEMBER_INDEX = "by-member"
ACTIVITY_INDEX = "by-activity"
# The directory's sort key is the minute of a room's last message: a busy room rewrites its
# index entry once a minute, not once a message (docs/performance.md).
ACTIVITY_GRAIN_MS = 60_000
# touch() remembers at most this many rooms per process (then starts again: a touch too many).
TOUCHED_MEMORY_MAX = 10_000


class RoomsStore:
    def __init__(self, client, tables: Tables, retention: Retention, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.rooms = Table(client, tables.rooms, self.reads)
        self.client = client
        self.retention = retention
        # room -> the minute this process last told the room's record of a message (touch).
        self._touched: dict[str, int] = {}

    # -- the hot path ------------------------------------------------------------------------------

    def touch_due(self, room: str, now_ms: int) -> bool:
        """Whether this process has not told the room's record about a message this minute."""
        return self._touched.get(room) != now_ms - now_ms % ACTIVITY_GRAIN_MS

    def touch(self, room: str, now_ms: int) -> None:
        """The room's last activity, at most once a minute per room and process (sendmessage
        runs it beside the message write when touch_due): `lastActivityAt` is then at most a
        minute behind the room's newest message, and `activeAt` (the directory's sort key) is
        that minute. The room's messages are not counted here: unread counts are counted from
        the messages (MessageStore.newest_after). Only a later time is written, so a late write from
        another process never moves the activity back.

        A room with no record yet (a public room anyone typed) gets one here, without
        `visibility`, so the directory (an index keyed on it) does not list it: only rooms made
        with createroom are listed, and the default room, so that a join and a message cannot put
        any name in everyone's list."""
        minute = now_ms - now_ms % ACTIVITY_GRAIN_MS
        if len(self._touched) > TOUCHED_MEMORY_MAX:
            self._touched.clear()
        self._touched[room] = minute
        listed = "#visibility = if_not_exists(#visibility, :public), " if room == protocol.DEFAULT_ROOM else ""
        try:
            self.rooms.update(
                "touch_room", meta_key(room),
                UpdateExpression=(
                    f"SET lastActivityAt = :now, activeAt = :minute, #room = :room, {listed}"
                    "createdAt = if_not_exists(createdAt, :now)"
                ),
                ConditionExpression="attribute_not_exists(lastActivityAt) OR lastActivityAt < :now",
                # Names for every attribute that may be one of DynamoDB's reserved words (and only
                # those the expression uses: DynamoDB refuses unused ones).
                ExpressionAttributeNames={"#room": "room", **({"#visibility": "visibility"} if listed else {})},
                ExpressionAttributeValues={
                    ":now": n(now_ms), ":minute": n(minute), ":room": s(room),
                    **({":public": s("public")} if listed else {}),
                },
            )
        except ConditionFailed:
            pass  # another process told it of a later message already
        except Exception:
            self._touched.pop(room, None)  # not told: the next message tries again
            raise

    # -- deciding access ---------------------------------------------------------------------------

    def access(self, room: str, user_key: str, now_ms: int) -> Access:
        """The room's record and the user's membership, ban and mute in it (strongly consistent:
        a kick or ban a moment ago must hold)."""
        keys = [meta_key(room), member_key(room, user_key),
                restriction_key("ban", room, user_key), restriction_key("mute", room, user_key)]
        items = {get_s(i, "sk"): i for i in self.rooms.get_many("room_access", keys, consistent=True)}
        meta = items.get("meta")
        member = items.get(f"member#{user_key}")
        ban = items.get(f"ban#{user_key}")
        mute = items.get(f"mute#{user_key}")
        banned_until = None
        if ban is not None:
            until = get_n(ban, "until", 0)
            banned_until = until if until == 0 or until > now_ms else None
        muted_until = get_n(mute, "until", 0) if mute is not None else 0
        return Access(
            record=record_from_item(meta) if meta else None,
            role=get_s(member, "role") if member else None,
            banned_until=banned_until,
            muted_until=muted_until if muted_until > now_ms else 0,
        )

    def record(self, room: str) -> RoomRecord | None:
        item = self.rooms.get("room", meta_key(room), consistent=True)
        return record_from_item(item) if item else None

    def role(self, room: str, user_key: str) -> str | None:
        item = self.rooms.get("membership", member_key(room, user_key), consistent=True)
        return get_s(item, "role") if item else None

    # -- creating rooms ----------------------------------------------------------------------------

    def create_room(self, *, room: str, visibility: str, topic: str | None, owner: str, owner_key: str,
                    now_ms: int, max_owned: int) -> str:
        """Create the room with its owner's membership, counting it against the owner's rooms:
        "created", "exists" (the name has a record) or "too_many" (the owner owns max_owned)."""
        meta = {**meta_key(room), "room": s(room), "visibility": s(visibility), "owner": s(owner),
                "createdAt": n(now_ms), "lastActivityAt": n(now_ms), "activeAt": n(now_ms - now_ms % ACTIVITY_GRAIN_MS)}
        if topic:
            meta["topic"] = s(topic)
        try:
            transact_write(self.client, "create_room", [
                {"Put": {"TableName": self.rooms.name, "Item": meta, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self.rooms.name, "Item": member_item(room, owner_key, owner, "owner", now_ms)}},
                self._count_owned(owner_key, 1, max_owned),
            ])
        except ConditionFailed as failed:
            if failed.failed_at(0):
                return "exists"
            if failed.failed_at(2):
                return "too_many"
            raise
        return "created"

    def _count_owned(self, user_key: str, delta: int, max_owned: int | None) -> dict:
        update = {"TableName": self.rooms.name, "Key": owned_key(user_key),
                  "UpdateExpression": "ADD #count :delta", "ExpressionAttributeNames": {"#count": "count"},
                  "ExpressionAttributeValues": {":delta": n(delta)}}
        if max_owned is not None and delta > 0:
            update["ConditionExpression"] = "attribute_not_exists(#count) OR #count < :max"
            update["ExpressionAttributeValues"][":max"] = n(max_owned)
        return {"Update": update}

    def open_dm(self, *, room: str, users: tuple[tuple[str, str], tuple[str, str]], now_ms: int) -> bool:
        """The direct conversation of two (username, key) pairs, the first opening it: its record
        if it has none (True: it is new) and both memberships then; else the opener's membership
        only (back, if they had left it): one who left comes back only by opening it."""
        (name_a, key_a), (name_b, key_b) = users
        meta = {**meta_key(room), "room": s(room), "visibility": s("private"), "createdAt": n(now_ms),
                "lastActivityAt": n(now_ms), "dm": {"L": [s(name_a), s(name_b)]}}
        created = True
        try:
            self.rooms.put("open_dm", meta, ConditionExpression="attribute_not_exists(pk)")
        except ConditionFailed:
            created = False
        pairs = (((name_a, key_a), (name_b, key_b)), ((name_b, key_b), (name_a, key_a)))
        for (name, key), (other, _) in pairs if created else pairs[:1]:
            self.rooms.put("dm_member", member_item(room, key, name, "member", now_ms, dm_with=other))
        return created

    # -- memberships -------------------------------------------------------------------------------

    def add_member(self, room: str, user_key: str, username: str, role: str, now_ms: int) -> bool:
        """Make the user a member with `role`; False if they were one already (and keep their
        role: setrole changes it, see set_role)."""
        try:
            self.rooms.put("add_member", member_item(room, user_key, username, role, now_ms),
                           ConditionExpression="attribute_not_exists(pk)")
        except ConditionFailed:
            return False
        return True

    def set_role(self, room: str, user_key: str, username: str, role: str, now_ms: int) -> None:
        self.rooms.put("set_role", member_item(room, user_key, username, role, now_ms))

    def remove_member(self, room: str, user_key: str) -> bool:
        """End a membership (never the owner's: the condition keeps it); False if there was none."""
        try:
            response = self.rooms.delete("remove_member", member_key(room, user_key), ReturnValues="ALL_OLD",
                                         ConditionExpression="attribute_not_exists(#role) OR #role <> :owner",
                                         ExpressionAttributeNames={"#role": "role"},
                                         ExpressionAttributeValues={":owner": s("owner")})
        except ConditionFailed:
            return False
        return bool(response.get("Attributes"))

    def transfer(self, *, room: str, old: tuple[str, str], new: tuple[str, str], now_ms: int, max_owned: int) -> str:
        """Hand the room from `old` to `new` ((username, key) each): the new owner's membership
        and count, the old owner a moderator. "done", "not_owner" (old no longer owns it) or
        "too_many" (new owns max_owned rooms already)."""
        (old_name, old_key), (new_name, new_key) = old, new
        try:
            transact_write(self.client, "transfer_room", [
                {"Update": {"TableName": self.rooms.name, "Key": meta_key(room), "UpdateExpression": "SET #owner = :new",
                            "ConditionExpression": "#owner = :old", "ExpressionAttributeNames": {"#owner": "owner"},
                            "ExpressionAttributeValues": {":new": s(new_name), ":old": s(old_name)}}},
                {"Put": {"TableName": self.rooms.name, "Item": member_item(room, new_key, new_name, "owner", now_ms)}},
                {"Put": {"TableName": self.rooms.name,
                         "Item": member_item(room, old_key, old_name, "moderator", now_ms)}},
                self._count_owned(old_key, -1, None),
                self._count_owned(new_key, 1, max_owned),
            ])
        except ConditionFailed as failed:
            if failed.failed_at(0):
                return "not_owner"
            if failed.failed_at(4):
                return "too_many"
            raise
        return "done"

    def memberships(self, user_key: str, limit: int) -> tuple[list[Membership], bool]:
        """The user's memberships (at most `limit`, by room name) and whether there are more."""
        items = list(self.rooms.query(
            "memberships", IndexName=MEMBER_INDEX, KeyConditionExpression="#member = :m",
            ExpressionAttributeNames={"#member": "member"},
            ExpressionAttributeValues={":m": s(user_key)}, limit=limit + 1,
        ))
        found = [Membership(get_s(i, "room", ""), get_s(i, "role", "member"), get_s(i, "with")) for i in items[:limit]]
        return found, len(items) > limit

    def records(self, rooms: list[str], *, consistent: bool = False) -> dict[str, RoomRecord]:
        """The records of up to 100 rooms, by name (a room without one is left out)."""
        if not rooms:
            return {}
        items = self.rooms.get_many("room_records", [meta_key(room) for room in dict.fromkeys(rooms)],
                                    consistent=consistent)
        return {record.room: record for record in map(record_from_item, items)}

    def members(self, room: str, after_key: str | None, limit: int) -> tuple[list[tuple[str, str, str]], bool]:
        """(user key, username, role) of a page of the room's members, by key, after `after_key`."""
        start = f"member#{after_key}" if after_key else "member#"
        items = list(self.rooms.query(
            "members", KeyConditionExpression="pk = :pk AND sk BETWEEN :start AND :end",
            ExpressionAttributeValues={":pk": room_pk(room), ":start": s(start), ":end": s("member#\uffff")},
            limit=limit + 2,
        ))
        rows = [(get_s(i, "sk")[len("member#"):], get_s(i, "username", ""), get_s(i, "role", "member")) for i in items]
        rows = [row for row in rows if row[0] != after_key][:limit + 1]
        return rows[:limit], len(rows) > limit

    def belonging(self, room: str, user_keys: list[str]) -> tuple[RoomRecord | None, dict[str, str], dict[str, str | None]]:
        """Whether these users belong to the room, in one BatchGetItem (at most 49 users): the
        room's record, the members among them (key -> username) and those with a read marker
        for it (key -> username as the marker has it, None on a marker written before it did)."""
        keys = [meta_key(room)]
        for key in dict.fromkeys(user_keys):
            keys += [member_key(room, key), marker_key(key, room)]
        items = self.rooms.get_many("room_belonging", keys)
        record, members, readers = None, {}, {}
        for item in items:
            pk, sk = get_s(item, "pk"), get_s(item, "sk")
            if sk == "meta":
                record = record_from_item(item)
            elif sk.startswith("member#"):
                members[sk[len("member#"):]] = get_s(item, "username", "")
            elif pk.startswith("user#") and get_s(item, "readId"):  # a mention's row alone is no reading
                readers[pk[len("user#"):]] = get_s(item, "username")
        return record, {key: name for key, name in members.items() if name}, readers

    # -- bans and mutes ----------------------------------------------------------------------------

    def ban(self, room: str, user_key: str, username: str, *, until_ms: int | None, by: str, now_ms: int) -> None:
        self.rooms.put("put_ban", restriction_item("ban", room, user_key, username, until_ms, by, now_ms))

    def unban(self, room: str, user_key: str) -> bool:
        response = self.rooms.delete("unban", restriction_key("ban", room, user_key), ReturnValues="ALL_OLD")
        return bool(response.get("Attributes"))

    def mute(self, room: str, user_key: str, username: str, *, until_ms: int, by: str, now_ms: int) -> None:
        self.rooms.put("put_mute", restriction_item("mute", room, user_key, username, until_ms, by, now_ms))

    # -- the moderation log ------------------------------------------------------------------------

    def log(self, room: str, *, actor: str, action: str, target: str | None, now_ms: int, **details) -> str:
        """Add an entry (who, what, to whom, when, and the action's details); kept as long as messages."""
        entry_id = protocol.new_message_id(now_ms, secrets.token_hex(3))
        ttl = now_ms // 1000 + self.retention.message_days * 86400
        self.rooms.put("modlog_entry", log_item(room, entry_id, actor=actor, action=action, target=target,
                                                now_ms=now_ms, ttl=ttl, details=details))
        return entry_id

    def modlog(self, room: str, before: str | None, limit: int) -> tuple[list[dict], bool]:
        """A page of the log, newest first, before the entry id `before`; and whether there is more."""
        end = f"log#{before}" if before else "log#\uffff"
        items = list(self.rooms.query(
            "modlog", KeyConditionExpression="pk = :pk AND sk BETWEEN :start AND :end",
            ExpressionAttributeValues={":pk": room_pk(room), ":start": s("log#"), ":end": s(end)},
            ScanIndexForward=False, limit=limit + 2,
        ))
        entries = []
        for item in items:
            entry_id = get_s(item, "sk")[len("log#"):]
            if entry_id == before:
                continue
            entries.append(log_entry(entry_id, item))
        return entries[:limit], len(entries) > limit

    # -- the directory -----------------------------------------------------------------------------

    def directory(self, after: str | None, limit: int) -> tuple[list[DirectoryEntry], bool]:
        """A page of public rooms, most recently active first, after the cursor of an earlier page."""
        request = {}
        if after:
            minute, _, room = after.partition(":")
            request["ExclusiveStartKey"] = {**meta_key(room), "visibility": s("public"), "activeAt": n(int(minute))}
        items = list(self.rooms.query(
            "directory", IndexName=ACTIVITY_INDEX, KeyConditionExpression="#visibility = :public",
            ExpressionAttributeNames={"#visibility": "visibility"},
            ExpressionAttributeValues={":public": s("public")}, ScanIndexForward=False, limit=limit + 1, **request,
        ))
        entries = [DirectoryEntry(get_s(i, "room", ""), get_s(i, "topic"), get_n(i, "activeAt", 0)) for i in items]
        return entries[:limit], len(entries) > limit


def user_key(username: str) -> str:
    return username_key(username)
