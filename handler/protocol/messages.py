"""Messages and the frames that carry them: sendmessage, join and history requests, and the
message, welcome, history and presence frames, each built to fit FRAME_BUDGET_BYTES (Keep, and
fill_to_budget, which the list frames of rooms.py use too).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from handler import text
from handler.protocol.names import is_message_id, validate_room
from handler.protocol.wire import FRAME_BUDGET_BYTES, ErrorCode, ProtocolError, Request, check_text, encode

MESSAGE_MAX_CHARS = 2000
# A message is also limited in UTF-8 bytes, so that its size in a frame is known: 2,000 characters
# of a 1- or 2-byte script (Latin, Greek, Cyrillic, Hebrew, Arabic) fit whole, 1,333 of a 3-byte
# one (CJK), 1,000 emoji. With JSON's escapes (a quote or backslash costs 2 bytes) a message frame
# is then at most 5.7 KB, so a page under FRAME_BUDGET_BYTES still holds 16 of the largest
# messages possible, about 23 of 1,000 emoji and 45 of 2,000 ASCII letters.
MESSAGE_MAX_BYTES = 4000
CLIENT_MSG_ID_MAX_CHARS = 64
# `online` lists at most this many names (with `onlineCount` the whole number): a big room's
# list would otherwise grow every welcome and presence frame without bound (100 names of 32
# characters are about 3.5 KB).
ONLINE_MAX_NAMES = 100
# `@name` mentions at most this many distinct users per message (the first ones in the text; the
# sender never counts): each is one write beside the message's, and `mentions` in a frame stays
# short (5 names of at most 32 characters). Finding them is reads.mentions.
MENTIONS_MAX = 5

HISTORY_ON_JOIN = 50
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100


@dataclass(frozen=True)
class SendMessage:
    message: str
    client_msg_id: str | None
    reply_to: str | None = None  # the id of the quoted message, in the same room
    # The room the message was typed in (None: an old client, e.g. wscat: the connection's room).
    # Given, it must be the connection's room, or nothing is stored (ErrorCode.WRONG_ROOM).
    room: str | None = None


@dataclass(frozen=True)
class Join:
    room: str | None  # None: stay in the current room


@dataclass(frozen=True)
class HistoryQuery:
    before: str | None
    after: str | None
    limit: int


# -- parsing -----------------------------------------------------------------------------------


def parse_send_message(request: Request) -> SendMessage:
    message = message_text(request.fields)
    client_msg_id = request.fields.get("clientMsgId")
    if client_msg_id is not None:
        if not isinstance(client_msg_id, str) or not 0 < len(client_msg_id) <= CLIENT_MSG_ID_MAX_CHARS:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f'"clientMsgId" must be a string of 1-{CLIENT_MSG_ID_MAX_CHARS} characters'
            )
        check_text(client_msg_id, '"clientMsgId"', line_breaks=False)
        if text.is_blank(client_msg_id):
            raise ProtocolError(ErrorCode.BAD_REQUEST, '"clientMsgId" has no visible characters')
    reply_to = request.fields.get("replyTo")
    if reply_to is not None and not is_message_id(reply_to):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"replyTo" must be a message id')
    room = request.fields.get("room")
    return SendMessage(message=message, client_msg_id=client_msg_id, reply_to=reply_to,
                       room=None if room is None else validate_room(room))


def message_text(fields: dict) -> str:
    """The `message` of a sendmessage or editmessage, trimmed and checked against every limit."""
    message = fields.get("message")
    if not isinstance(message, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"message" must be a string')
    message = text.normalize_line_breaks(message).strip()
    if not message:
        raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty")
    if len(message) > MESSAGE_MAX_CHARS:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"message is longer than {MESSAGE_MAX_CHARS} characters")
    check_text(message, "message", line_breaks=True)
    if text.is_blank(message):
        raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty once invisible characters are left out")
    size = len(message.encode("utf-8"))  # no lone surrogate is left to fail the encoding
    if size > MESSAGE_MAX_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LARGE, f"message is larger than {MESSAGE_MAX_BYTES} bytes in UTF-8 ({size} bytes)"
        )
    return message


def parse_join(request: Request) -> Join:
    room = request.fields.get("room")
    if room is None:
        return Join(room=None)
    return Join(room=validate_room(room))


def parse_history(request: Request) -> HistoryQuery:
    before = request.fields.get("before")
    after = request.fields.get("after")
    if before is not None and after is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, 'give "before" or "after", not both')
    for name, value in (("before", before), ("after", after)):
        if value is not None and not is_message_id(value):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f'"{name}" must be a message id')
    limit = request.fields.get("limit", HISTORY_DEFAULT_LIMIT)
    # bool is an int subclass in Python; true/false are not a limit.
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"limit" must be a positive integer')
    return HistoryQuery(before=before, after=after, limit=min(limit, HISTORY_MAX_LIMIT))


# -- frames ------------------------------------------------------------------------------------


def message_frame(
    *, id: str, room: str, sender: str, message: str, sent_at: str, client_msg_id: str | None,
    reply_to: dict | None = None, edited_at: str | None = None, reactions: list[dict] | None = None,
    mentions: list[str] | None = None,
) -> dict:
    """A message. `replyTo`, `editedAt`, `reactions` and `mentions` are there only when the message
    has them (a plain new message's frame is what it always was); each is bounded (see
    message_actions.py and MENTIONS_MAX)."""
    frame = {
        "type": "message",
        "id": id,
        "room": room,
        "sender": sender,
        "message": message,
        "sentAt": sent_at,
        "clientMsgId": client_msg_id,
    }
    if reply_to is not None:
        frame["replyTo"] = reply_to
    if edited_at is not None:
        frame["editedAt"] = edited_at
    if reactions:
        frame["reactions"] = reactions
    if mentions:
        frame["mentions"] = mentions[:MENTIONS_MAX]
    return frame


def activity_frame(*, room: str, id: str, sender: str, sent_at: str, dm: bool, mention: bool) -> dict:
    """A new message in a room the recipient belongs to but is not in now (handler/chat/activity.py):
    no text (a badge, the title and a notification need none; the room's history has it). `dm`:
    the room is a direct conversation; `mention`: the message mentions the recipient."""
    return {"type": "activity", "room": room, "id": id, "sender": sender, "sentAt": sent_at, "dm": dm,
            "mention": mention}


class Keep(enum.Enum):
    """Which end of a list of messages (oldest first) a frame keeps when not all of them fit."""

    # The latest, as `welcome` and a `history` page with `before` (or neither) show them: what does
    # not fit is older, and `before` the oldest id sent fetches it.
    NEWEST = "newest"
    # The earliest, as a `history` page with `after` reads forward: what does not fit is newer, and
    # `after` the newest id sent fetches it.
    OLDEST = "oldest"


def welcome_frame(
    *, user: str, room: str, connection_id: str, connected_at: str, expires_at: str,
    session_ends_at: str | None, online: list[str], history: list[dict], has_more: bool, admin: bool = False,
    last_read: str | None = None, muted_until: str | None = None,
) -> dict:
    """The reply to `join`: the newest of `history` that fit in FRAME_BUDGET_BYTES, and `hasMore`
    if older messages exist (`has_more`: the store has more; or some of `history` did not fit).
    `admin`: the connection is a site admin's (read at $connect), so that a client can offer
    moderation in rooms where the user has no role; the server decides each action anyway."""
    frame = {
        "type": "welcome",
        "user": user,
        "room": room,
        "connectionId": connection_id,
        "connectedAt": connected_at,
        "expiresAt": expires_at,
        "sessionEndsAt": session_ends_at,
        "admin": admin,
        **_online(online, always=user),
        # The user's read marker for the room (null: none yet): where a "new messages" line goes.
        "lastRead": last_read,
        # Until when the user is muted in the room (null: not muted): the page shows it in place
        # of the composer, before anything is typed.
        "mutedUntil": muted_until,
        "history": [],
        "hasMore": False,
    }
    return fill_to_budget(frame, "history", history, has_more, Keep.NEWEST)


def presence_frame(*, event: str, user: str, room: str, online: list[str]) -> dict:
    return {"type": "presence", "event": event, "user": user, "room": room,
            **_online(online, always=user if event == "joined" else None)}


def history_frame(*, room: str, messages: list[dict], has_more: bool, keep: Keep = Keep.NEWEST) -> dict:
    """A page of history: as many of `messages` as fit in FRAME_BUDGET_BYTES, from the `keep` end.

    `hasMore` is true if the store has more (`has_more`) or some of `messages` did not fit, so
    that paging on from the page's last (`after`) or first (`before`) id misses nothing.
    """
    frame = {"type": "history", "room": room, "messages": [], "hasMore": False}
    return fill_to_budget(frame, "messages", messages, has_more, keep)


def _online(users: list[str], *, always: str | None) -> dict:
    """`online` (sorted, at most ONLINE_MAX_NAMES names, `always` among them) and `onlineCount`."""
    names = sorted(users)
    if len(names) > ONLINE_MAX_NAMES:
        if always in names:
            names.remove(always)
            names = sorted(names[:ONLINE_MAX_NAMES - 1] + [always])
        else:
            names = names[:ONLINE_MAX_NAMES]
    return {"online": names, "onlineCount": len(users)}


def fill_to_budget(frame: dict, key: str, items: list[dict], has_more: bool, keep: Keep) -> dict:
    """`frame` with `frame[key]` holding as many of `items` as keep its encoding within
    FRAME_BUDGET_BYTES, and `hasMore` true if any were left out.

    Sizes add up exactly: a JSON list is its brackets, its items and a comma between each two,
    and `frame` is measured with `hasMore: false`, the longer of the two values.
    """
    used = len(encode(frame))
    order = range(len(items) - 1, -1, -1) if keep is Keep.NEWEST else range(len(items))
    count = 0
    for index in order:
        size = len(encode(items[index])) + (1 if count else 0)
        if used + size > FRAME_BUDGET_BYTES:
            break
        used += size
        count += 1
    kept = items[len(items) - count:] if keep is Keep.NEWEST else items[:count]
    return {**frame, key: kept, "hasMore": has_more or count < len(items)}

