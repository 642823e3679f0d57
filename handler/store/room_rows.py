"""The Rooms table's rows as the rooms store reads and writes them: their keys, the items it writes
(memberships, bans and mutes, moderation log entries) and what it reads them into (RoomRecord,
Access, Membership, DirectoryEntry, a log entry's dict).

One partition per room (`pk` = `room#<name>`) holds its record (`meta`), its memberships
(`member#<userkey>`), bans (`ban#<userkey>`), mutes (`mute#<userkey>`) and moderation log
(`log#<id>`); `user#<userkey>` / `owned` counts the rooms a user owns.
"""

from __future__ import annotations

from dataclasses import dataclass

from handler import protocol
from handler.store.dynamo import get_n, get_s, n, s

# An expired ban or mute is removed by TTL this long after it ran out (reads ignore it already).
EXPIRED_TTL_SECONDS = 86400


@dataclass(frozen=True)
class RoomRecord:
    room: str
    visibility: str
    topic: str | None
    owner: str | None
    created_at_ms: int | None
    last_activity_ms: int | None
    dm_users: tuple[str, ...] = ()  # the two usernames of a direct conversation

    @property
    def private(self) -> bool:
        return self.visibility == "private"


@dataclass(frozen=True)
class Access:
    """What decides whether a user may be in a room, read in one BatchGetItem."""

    record: RoomRecord | None  # None: a public room nobody created (any typed name)
    role: str | None  # the user's membership role, or None
    banned_until: int | None  # epoch ms; 0: until an unban; None: not banned
    muted_until: int  # epoch ms; 0: not muted

    @property
    def private(self) -> bool:
        # A direct conversation's name is private even before its record exists: nobody may
        # claim a pair's room by joining it first.
        return (self.record.private if self.record else False)


@dataclass(frozen=True)
class Membership:
    room: str
    role: str
    dm_with: str | None


@dataclass(frozen=True)
class DirectoryEntry:
    room: str
    topic: str | None
    active_at_ms: int

    @property
    def cursor(self) -> str:
        return f"{self.active_at_ms}:{self.room}"


# -- keys --------------------------------------------------------------------------------------


def room_pk(room: str) -> dict:
    return s(f"room#{room}")


def meta_key(room: str) -> dict:
    return {"pk": room_pk(room), "sk": s("meta")}


def member_key(room: str, user_key: str) -> dict:
    return {"pk": room_pk(room), "sk": s(f"member#{user_key}")}


def restriction_key(kind: str, room: str, user_key: str) -> dict:
    """A ban's or a mute's key: `kind` is "ban" or "mute"."""
    return {"pk": room_pk(room), "sk": s(f"{kind}#{user_key}")}


def owned_key(user_key: str) -> dict:
    return {"pk": s(f"user#{user_key}"), "sk": s("owned")}


# -- items written -----------------------------------------------------------------------------


def member_item(room: str, user_key: str, username: str, role: str, now_ms: int, dm_with: str | None = None) -> dict:
    item = {**member_key(room, user_key), "member": s(user_key), "room": s(room), "username": s(username),
            "role": s(role), "since": n(now_ms)}
    if dm_with:
        item["with"] = s(dm_with)
    return item


def restriction_item(kind: str, room: str, user_key: str, username: str, until_ms: int | None, by: str,
                     now_ms: int) -> dict:
    """A ban or a mute; without `until_ms` it lasts until it is lifted, and keeps no ttl."""
    item = {**restriction_key(kind, room, user_key), "username": s(username), "by": s(by), "at": n(now_ms)}
    if until_ms:
        item["until"] = n(until_ms)
        item["ttl"] = n(until_ms // 1000 + EXPIRED_TTL_SECONDS)
    return item


def log_item(room: str, entry_id: str, *, actor: str, action: str, target: str | None, now_ms: int,
             ttl: int, details: dict) -> dict:
    """A moderation log entry: who, what, to whom, when, and the action's details (None left out)."""
    item = {"pk": room_pk(room), "sk": s(f"log#{entry_id}"), "actor": s(actor), "action": s(action), "at": n(now_ms),
            "ttl": n(ttl)}
    if target:
        item["target"] = s(target)
    for name, value in details.items():
        if value is not None:
            item[name] = n(value) if isinstance(value, int) else s(str(value))
    return item


# -- items read --------------------------------------------------------------------------------


def record_from_item(item: dict) -> RoomRecord:
    dm = tuple(value.get("S", "") for value in item.get("dm", {}).get("L", []))
    return RoomRecord(
        room=get_s(item, "room", get_s(item, "pk", "")[len("room#"):]),
        visibility=get_s(item, "visibility", "public"),
        topic=get_s(item, "topic"),
        owner=get_s(item, "owner"),
        created_at_ms=get_n(item, "createdAt"),
        last_activity_ms=get_n(item, "lastActivityAt"),
        dm_users=dm,
    )


def log_entry(entry_id: str, item: dict) -> dict:
    """A moderation log entry as the modlog frame lists it."""
    entry = {"id": entry_id, "at": protocol.iso_utc(get_n(item, "at", 0)), "actor": get_s(item, "actor"),
             "action": get_s(item, "action"), "target": get_s(item, "target")}
    for name in ("minutes", "role", "messageId"):
        if name in item:
            entry[name] = get_n(item, name) if "N" in item[name] else get_s(item, name)
    return entry
