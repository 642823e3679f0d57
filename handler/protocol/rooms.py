"""Rooms and moderation (docs/protocol.md "Rooms and moderation"): visibilities, roles and their
ranks, the page sizes of the list frames; the requests of createroom, invite, leave, dm, rooms,
members, setrole, kick, ban, unban, mute, deletemessage and modlog, and the frames that answer them.

A room is public (anyone may join it, as any typed name) or private (members only). Roles in a
room rank member < moderator < owner; a site admin (a role on the user's account) outranks them
all. An action on another user needs a rank above theirs, so a moderator cannot act on the
owner or another moderator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handler import text
from handler.protocol.messages import Keep, fill_to_budget
from handler.protocol.names import DM_PREFIX, is_dm_room, is_valid_username, message_id_field, validate_room
from handler.protocol.wire import ErrorCode, ProtocolError, Request, check_text

ROOM_VISIBILITIES = ("public", "private")
ROLE_RANKS = {"member": 0, "moderator": 1, "owner": 2}
ADMIN_RANK = 3
# What `setrole` may give: `owner` hands the room over (the old owner becomes a moderator).
SETTABLE_ROLES = ("member", "moderator", "owner")
TOPIC_MAX_CHARS = 160
# Ban and mute lengths: minutes, at most 90 days (a ban without minutes lasts until an unban).
MODERATION_MAX_MINUTES = 90 * 24 * 60
# Page sizes of the list frames; each is also built under FRAME_BUDGET_BYTES.
ROOMS_MINE_MAX = 100
DIRECTORY_PAGE = 20
MEMBERS_PAGE = 200
MODLOG_PAGE = 50
# A directory cursor: the activity minute and the room of the last entry sent.
DIRECTORY_CURSOR_PATTERN = re.compile(r"[0-9]{1,15}:[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True)
class CreateRoom:
    room: str
    visibility: str
    topic: str | None


@dataclass(frozen=True)
class RoomUser:
    """`invite`, `kick`, `unban` (and `setrole`, `ban`, `mute` with their extra field)."""

    room: str
    user: str
    role: str | None = None
    minutes: int | None = None


@dataclass(frozen=True)
class RoomOnly:
    """`leave`, `members` and `modlog`, with the list's cursor where it has one."""

    room: str
    cursor: str | None = None


@dataclass(frozen=True)
class DeleteMessage:
    room: str
    id: str


def parse_create_room(request: Request) -> CreateRoom:
    room = validate_room(request.fields.get("room"))
    if is_dm_room(room):
        raise ProtocolError(ErrorCode.INVALID_ROOM, f'room names starting with "{DM_PREFIX}" are kept for direct messages')
    visibility = request.fields.get("visibility", "public")
    if visibility not in ROOM_VISIBILITIES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"visibility" must be "public" or "private"')
    topic = request.fields.get("topic")
    if topic is not None:
        if not isinstance(topic, str) or len(topic) > TOPIC_MAX_CHARS:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f'"topic" must be a string of at most {TOPIC_MAX_CHARS} characters')
        topic = topic.strip()
        check_text(topic, '"topic"', line_breaks=False)
        topic = topic or None
    return CreateRoom(room=room, visibility=visibility, topic=topic)


def _user_field(request: Request) -> str:
    user = request.fields.get("user")
    if not is_valid_username(user):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"user" must be a username (3-32 characters of A-Z a-z 0-9 _ . -)')
    return user


def _minutes(request: Request, *, required: bool) -> int | None:
    minutes = request.fields.get("minutes")
    if minutes is None and not required:
        return None
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MODERATION_MAX_MINUTES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f'"minutes" must be a whole number from 1 to {MODERATION_MAX_MINUTES}')
    return minutes


def parse_room_user(request: Request) -> RoomUser:
    """invite, kick, unban, and the three below."""
    return RoomUser(room=validate_room(request.fields.get("room")), user=_user_field(request))


def parse_set_role(request: Request) -> RoomUser:
    role = request.fields.get("role")
    if role not in SETTABLE_ROLES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"role" must be "member", "moderator" or "owner"')
    return RoomUser(room=validate_room(request.fields.get("room")), user=_user_field(request), role=role)


def parse_ban(request: Request) -> RoomUser:
    return RoomUser(room=validate_room(request.fields.get("room")), user=_user_field(request),
                    minutes=_minutes(request, required=False))


def parse_mute(request: Request) -> RoomUser:
    return RoomUser(room=validate_room(request.fields.get("room")), user=_user_field(request),
                    minutes=_minutes(request, required=True))


def parse_dm(request: Request) -> str:
    return _user_field(request)


def parse_room_only(request: Request) -> RoomOnly:
    """leave, members (`after`: a username key) and modlog (`before`: an entry id)."""
    room = validate_room(request.fields.get("room"))
    cursor = request.fields.get("after", request.fields.get("before"))
    if cursor is not None and (not isinstance(cursor, str) or not 0 < len(cursor) <= 64 or text.problem(cursor, line_breaks=False)):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the cursor must be a string from an earlier page")
    return RoomOnly(room=room, cursor=cursor)


def parse_rooms(request: Request) -> str | None:
    """`rooms`: the directory's cursor (`after`, from the last page), or None for its first page."""
    cursor = request.fields.get("after")
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not DIRECTORY_CURSOR_PATTERN.fullmatch(cursor):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"after" must be the cursor of an earlier rooms frame')
    return cursor


def parse_delete_message(request: Request) -> DeleteMessage:
    room = validate_room(request.fields.get("room"))
    return DeleteMessage(room=room, id=message_id_field(request.fields))


def room_frame(*, room: str, visibility: str, topic: str | None, owner: str | None, role: str | None,
               created_at: str | None, dm_with: str | None = None) -> dict:
    """The reply to `createroom` and `dm`: the room as its member sees it."""
    frame = {"type": "room", "room": room, "visibility": visibility, "topic": topic, "owner": owner,
             "role": role, "createdAt": created_at, "dm": dm_with is not None}
    if dm_with is not None:
        frame["with"] = dm_with
    return frame


def invited_frame(*, room: str, by: str, visibility: str, dm_with: str | None = None) -> dict:
    frame = {"type": "invited", "room": room, "by": by, "visibility": visibility, "dm": dm_with is not None}
    if dm_with is not None:
        frame["with"] = dm_with
    return frame


def done_frame(*, action: str, room: str, user: str | None = None, **fields) -> dict:
    """What the actor of invite, leave, setrole, kick, ban, unban and mute gets when it is done."""
    return {"type": "done", "action": action, "room": room, "user": user, **fields}


def kicked_frame(*, room: str, by: str | None) -> dict:
    """`by` is null when the sweep's second look after a kick or ban took the connection out."""
    return {"type": "kicked", "room": room, "by": by}


def banned_frame(*, room: str, by: str | None, until: str | None) -> dict:
    return {"type": "banned", "room": room, "by": by, "until": until}


def muted_frame(*, room: str, by: str, until: str) -> dict:
    """To every connection of a user just muted in `room` (wherever they are): a page replaces
    the room's composer with the reason and `until` before anything is typed."""
    return {"type": "muted", "room": room, "by": by, "until": until}


def deleted_frame(*, room: str, id: str, by: str) -> dict:
    return {"type": "deleted", "room": room, "id": id, "by": by}


def tombstone_frame(*, id: str, room: str, sender: str, sent_at: str, deleted_at: str, deleted_by: str) -> dict:
    """A deleted message as history shows it: who sent it and when, that it was deleted, no text."""
    return {"type": "message", "id": id, "room": room, "sender": sender, "sentAt": sent_at, "deleted": True,
            "deletedAt": deleted_at, "deletedBy": deleted_by}


def rooms_frame(*, mine: list[dict], mine_more: bool, directory: list[dict], directory_more: bool) -> dict:
    """The reply to `rooms`: the user's rooms (at most ROOMS_MINE_MAX, most recently active first)
    and a page of the public directory, both kept within FRAME_BUDGET_BYTES (the directory gives
    way first). Each directory entry comes with its `cursor`; `after` is the last one sent when
    there is more, else null."""
    frame = {"type": "rooms", "mine": [], "mineHasMore": False, "directory": [], "hasMore": False}
    frame = fill_to_budget(frame, "mine", mine, mine_more, Keep.OLDEST)
    frame["mineHasMore"], frame["hasMore"] = frame["hasMore"], False
    # Measured with the longest cursor `after` can hold, and each entry with its own cursor.
    filled = fill_to_budget({**frame, "after": "9" * 15 + ":" + "x" * 64}, "directory", directory,
                            directory_more, Keep.OLDEST)
    kept = filled["directory"]
    more = filled["hasMore"] and bool(kept)
    return {**frame, "directory": [{k: v for k, v in e.items() if k != "cursor"} for e in kept],
            "hasMore": more, "after": kept[-1]["cursor"] if more else None}


def members_frame(*, room: str, members: list[dict], has_more: bool) -> dict:
    frame = {"type": "members", "room": room, "members": [], "hasMore": False}
    return fill_to_budget(frame, "members", members, has_more, Keep.OLDEST)


def modlog_frame(*, room: str, entries: list[dict], has_more: bool) -> dict:
    """Newest first; `before` the last entry's id pages on."""
    frame = {"type": "modlog", "room": room, "entries": [], "hasMore": False}
    return fill_to_budget(frame, "entries", entries, has_more, Keep.OLDEST)
