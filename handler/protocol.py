"""The wschat wire protocol: every message shape, limit and validation rule, with no I/O.

Client frames are JSON objects with an ``action``; server frames are JSON objects with a ``type``.
``docs/protocol.md`` describes the same shapes for people; keep the two in step.

Parsing raises :class:`ProtocolError`, whose ``code`` is one of :class:`ErrorCode` and whose
message is safe to show the client. Builders return plain dicts; :func:`encode` turns one into a
frame.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from handler import text

DEFAULT_ROOM = "general"
ROOM_PATTERN = re.compile(r"[A-Za-z0-9_\-]{1,64}")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{3,32}")
PASSWORD_MIN_CHARS = 8
# A password is hashed with a slow KDF; refusing huge ones keeps a request from buying minutes of CPU.
PASSWORD_MAX_CHARS = 256

MESSAGE_MAX_CHARS = 2000
# A message is also limited in UTF-8 bytes, so that its size in a frame is known: 2,000 characters
# of a 1- or 2-byte script (Latin, Greek, Cyrillic, Hebrew, Arabic) fit whole, 1,333 of a 3-byte
# one (CJK), 1,000 emoji. With JSON's escapes (a quote or backslash costs 2 bytes) a message frame
# is then at most 5.7 KB, so a page under FRAME_BUDGET_BYTES still holds 16 of the largest
# messages possible, about 23 of 1,000 emoji and 45 of 2,000 ASCII letters.
MESSAGE_MAX_BYTES = 4000
# API Gateway closes a connection that sends a frame over 32 KB (code 1009, before any function
# runs); nothing in this protocol needs more than a few KiB, so the functions refuse more than
# 16 KiB with an error frame before parsing it.
FRAME_MAX_BYTES = 16 * 1024
# API Gateway refuses a post to a connection over 128 KB (the management API answers 413; its
# quota page does not say whether that is 128,000 or 131,072 bytes). The frames that carry lists
# (welcome, history) are built to at most this many bytes of encoded JSON, well under either, and
# what does not fit is left for the next page (`hasMore`): a long history never makes a reply
# undeliverable.
FRAME_BUDGET_BYTES = 96 * 1024
# `online` lists at most this many names (with `onlineCount` the whole number): a big room's
# list would otherwise grow every welcome and presence frame without bound (100 names of 32
# characters are about 3.5 KB).
ONLINE_MAX_NAMES = 100
CLIENT_MSG_ID_MAX_CHARS = 64
# No frame of this protocol nests deeper than 2; deeper input is refused before it is walked.
JSON_MAX_DEPTH = 8

HISTORY_ON_JOIN = 50
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100

# A message id is the server's clock when it stored the message (13 digits of epoch milliseconds)
# and 6 random hex digits that keep two messages of the same millisecond apart; string order is
# time order. An id with six zeros (message_id_at) is a cursor: "from this moment".
MESSAGE_ID_TIME_DIGITS = 13
MESSAGE_ID_PATTERN = re.compile(rf"[0-9]{{{MESSAGE_ID_TIME_DIGITS}}}[0-9a-f]{{6}}")



class Action(str, enum.Enum):
    """Client → server actions; the API Gateway route key is the action's value."""

    SEND_MESSAGE = "sendmessage"
    JOIN = "join"
    HISTORY = "history"
    HEARTBEAT = "heartbeat"
    # Rooms (the `rooms` function) and moderation (the `moderation` function): see the section
    # "Rooms and moderation" below.
    CREATE_ROOM = "createroom"
    INVITE = "invite"
    LEAVE = "leave"
    DM = "dm"
    ROOMS = "rooms"
    MEMBERS = "members"
    SET_ROLE = "setrole"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    MUTE = "mute"
    DELETE_MESSAGE = "deletemessage"
    MODLOG = "modlog"
    # Message features (issue 13): served by the `interact` function, and `renew` by its own.
    EDIT_MESSAGE = "editmessage"
    REACT = "react"
    TYPING = "typing"
    RENEW = "renew"
    # Read markers (issue 13): served by the `read` function.
    READ = "read"


_ACTION_VALUES = frozenset(action.value for action in Action)


class ErrorCode(str, enum.Enum):
    """The ``code`` of an ``error`` frame."""

    # The frame is not a JSON object, lacks a field, or a field has the wrong type or form.
    BAD_REQUEST = "bad_request"
    # The frame names an action the server does not know.
    UNKNOWN_ACTION = "unknown_action"
    # The frame or the message in it is longer than the limits above.
    TOO_LARGE = "too_large"
    # The message is empty once surrounding white space is trimmed.
    EMPTY_MESSAGE = "empty_message"
    # The room name does not match ROOM_PATTERN.
    INVALID_ROOM = "invalid_room"
    # The token or the session limit ran out, or the user logged out; the server closes the
    # connection after this frame.
    SESSION_EXPIRED = "session_expired"
    # Over a per-user budget (messages, joins, history requests); nothing was done. The frame's
    # `retryAfterMs` says when the next one will be accepted.
    RATE_LIMITED = "rate_limited"
    # The connection is not known to the server (its row is gone); reconnect.
    NOT_CONNECTED = "not_connected"
    # `renew`: the token presented is not valid, expired or revoked; the connection is unchanged.
    INVALID_TOKEN = "invalid_token"
    # A dependency (the database) failed; the request was not carried out and may be retried.
    UNAVAILABLE = "unavailable"
    # A bug on the server; the request was not carried out.
    INTERNAL = "internal"
    # The user may not do this, and nothing was done: the room is private and the user not a
    # member, the user's role in the room does not allow the action, or the message is someone
    # else's (an edit), or the room is not the connection's.
    FORBIDDEN = "forbidden"
    # `createroom` of a name that already has a room record or messages.
    ROOM_EXISTS = "room_exists"
    # What the request names does not exist: a user, a membership, or a message of this room
    # (an edit, a reaction or a reply to an unknown or deleted message).
    NOT_FOUND = "not_found"
    # The sender is muted in this room; `until` says until when.
    MUTED = "muted"
    # The user is banned from the room; `until` says until when (null: until an unban).
    BANNED = "banned"


class SessionEnd(str, enum.Enum):
    """Why the server ended a session: the ``reason`` of a ``session_expired`` error frame.

    Clients branch on this code, never on the frame's human-readable ``message``.
    """

    # The token's `exp` has passed.
    TOKEN_EXPIRED = "token_expired"
    # The user's session limit (guests, or members on stages that set one) ran out.
    SESSION_LIMIT = "session_limit"
    # The token was revoked by POST /logout (in this tab or another).
    LOGGED_OUT = "logged_out"

    @property
    def text(self) -> str:
        """The words logs, SessionHistory and the error frame's message use."""
        return _SESSION_END_TEXT[self]


_SESSION_END_TEXT = {
    SessionEnd.TOKEN_EXPIRED: "token expired",
    SessionEnd.SESSION_LIMIT: "session limit reached",
    SessionEnd.LOGGED_OUT: "logged out",
}


class ProtocolError(Exception):
    """Raised when a client frame breaks the protocol; carries the error frame's code and text, and
    any further fields of the frame (`retryAfterMs` of `rate_limited`)."""

    def __init__(self, code: ErrorCode, message: str, **fields):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


@dataclass(frozen=True)
class Request:
    action: str
    fields: dict


@dataclass(frozen=True)
class SendMessage:
    message: str
    client_msg_id: str | None
    reply_to: str | None = None  # the id of the quoted message, in the same room


@dataclass(frozen=True)
class Join:
    room: str | None  # None: stay in the current room


@dataclass(frozen=True)
class HistoryQuery:
    before: str | None
    after: str | None
    limit: int


@dataclass(frozen=True)
class Identity:
    """Who is on a connection: the token's claims as the $connect authorizer established them.

    The authorizer writes it into its context with `authorizer_context()`; API Gateway copies that
    context into every later event of the connection, where `from_authorizer_context()` reads it.
    The client cannot change it, which is why handlers take the user from here, never from a body.
    """

    username: str
    guest: bool
    expires_at: int  # epoch seconds: the token's exp
    session_limit_seconds: int  # 0: no limit
    jti: str | None = None  # the token's id, for revocation
    # The refresh family the token was issued in (login and each POST /refresh of one sign-in);
    # a logout or a reused refresh token revokes the whole family. None: a guest's token.
    family: str | None = None

    def authorizer_context(self, **extra: str) -> dict:
        # API Gateway passes only strings, numbers and booleans in an authorizer's context.
        return {
            "username": self.username,
            "guest": "true" if self.guest else "false",
            "expiresAt": self.expires_at,
            "sessionLimitSeconds": self.session_limit_seconds,
            "jti": self.jti or "",
            "family": self.family or "",
            **extra,
        }

    @classmethod
    def from_authorizer_context(cls, context: object) -> "Identity | None":
        """The identity in an event's requestContext.authorizer; None if it is missing or malformed."""
        if not isinstance(context, dict):
            return None
        username = context.get("username") or context.get("principalId")
        if not isinstance(username, str) or not username:
            return None
        try:
            expires_at = int(context.get("expiresAt"))
            limit = int(context.get("sessionLimitSeconds") or 0)
        except (TypeError, ValueError):
            return None
        # Context values arrive as strings on AWS and as they were sent under serverless-offline.
        guest = str(context.get("guest", "false")).lower() == "true"
        jti = context.get("jti")
        family = context.get("family")
        return cls(username=username, guest=guest, expires_at=expires_at, session_limit_seconds=limit,
                   jti=jti if isinstance(jti, str) and jti else None,
                   family=family if isinstance(family, str) and family else None)


# ---------------------------------------------------------------------------------------------
# Parsing client frames


def parse_request(body: str | bytes | None) -> Request:
    """Parse a raw frame into its action and fields, or raise ProtocolError."""
    if body is None or body == "" or body == b"":
        raise ProtocolError(ErrorCode.BAD_REQUEST, "empty frame: send a JSON object with an action")
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(raw) > FRAME_MAX_BYTES:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"frame is larger than {FRAME_MAX_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame must be a JSON object")
    if _depth(data) > JSON_MAX_DEPTH:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"frame nests deeper than {JSON_MAX_DEPTH} levels")
    action = data.get("action")
    if not isinstance(action, str) or not action:
        raise ProtocolError(ErrorCode.BAD_REQUEST, 'frame needs an "action" string')
    return Request(action=action, fields=data)


def answered_action(route_key: str | None, body: str | bytes | None) -> str | None:
    """The action an error frame answers, for its `action` field (docs/protocol.md "Errors"): the
    route's key (API Gateway routes by the action), or on `$default` the frame's own action if it
    is one the server knows. None for a frame with no usable action: an unknown one is not echoed."""
    if route_key in _ACTION_VALUES:
        return route_key
    try:
        action = parse_request(body).action
    except ProtocolError:
        return None
    return action if action in _ACTION_VALUES else None


def _depth(value, level: int = 1) -> int:
    if level > JSON_MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(item, level + 1) for item in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(item, level + 1) for item in value), default=level)
    return level - 1


def known_action(action: str) -> Action:
    try:
        return Action(action)
    except ValueError:
        shown = action[:40]
        raise ProtocolError(ErrorCode.UNKNOWN_ACTION, f"unknown action {shown!r}") from None


def parse_send_message(request: Request) -> SendMessage:
    message = _message_text(request.fields)
    client_msg_id = request.fields.get("clientMsgId")
    if client_msg_id is not None:
        if not isinstance(client_msg_id, str) or not 0 < len(client_msg_id) <= CLIENT_MSG_ID_MAX_CHARS:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f'"clientMsgId" must be a string of 1-{CLIENT_MSG_ID_MAX_CHARS} characters'
            )
        _check_text(client_msg_id, '"clientMsgId"', line_breaks=False)
        if text.is_blank(client_msg_id):
            raise ProtocolError(ErrorCode.BAD_REQUEST, '"clientMsgId" has no visible characters')
    reply_to = request.fields.get("replyTo")
    if reply_to is not None and not is_message_id(reply_to):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"replyTo" must be a message id')
    return SendMessage(message=message, client_msg_id=client_msg_id, reply_to=reply_to)


def _message_text(fields: dict) -> str:
    """The `message` of a sendmessage or editmessage, trimmed and checked against every limit."""
    message = fields.get("message")
    if not isinstance(message, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"message" must be a string')
    message = text.normalize_line_breaks(message).strip()
    if not message:
        raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty")
    if len(message) > MESSAGE_MAX_CHARS:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"message is longer than {MESSAGE_MAX_CHARS} characters")
    _check_text(message, "message", line_breaks=True)
    if text.is_blank(message):
        raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty once invisible characters are left out")
    size = len(message.encode("utf-8"))  # no lone surrogate is left to fail the encoding
    if size > MESSAGE_MAX_BYTES:
        raise ProtocolError(
            ErrorCode.TOO_LARGE, f"message is larger than {MESSAGE_MAX_BYTES} bytes in UTF-8 ({size} bytes)"
        )
    return message


def _check_text(value: str, name: str, *, line_breaks: bool) -> None:
    wrong = text.problem(value, line_breaks=line_breaks)
    if wrong:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} contains {wrong}")


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


def validate_room(room: object) -> str:
    if not isinstance(room, str) or not ROOM_PATTERN.fullmatch(room):
        raise ProtocolError(ErrorCode.INVALID_ROOM, "room names are 1-64 characters of A-Z a-z 0-9 _ -")
    return room


def is_valid_username(username: object) -> bool:
    return isinstance(username, str) and USERNAME_PATTERN.fullmatch(username) is not None


def is_message_id(value: object) -> bool:
    return isinstance(value, str) and MESSAGE_ID_PATTERN.fullmatch(value) is not None


def new_message_id(epoch_ms: int, suffix: str) -> str:
    return f"{epoch_ms:0{MESSAGE_ID_TIME_DIGITS}d}{suffix}"


def message_id_at(epoch_ms: int) -> str:
    """The smallest id of a moment: `after` it fetches everything stored from then on."""
    return f"{epoch_ms:0{MESSAGE_ID_TIME_DIGITS}d}000000"


# ---------------------------------------------------------------------------------------------
# Message features (issue 13): edits, reactions, replies, typing, renewing a connection's token


# A message shows at most this many distinct emoji; a new one past it is refused (too_large).
REACTION_KINDS_MAX = 8
# At most this many users are kept per emoji (each can take theirs back); one more is refused
# (too_large). A frame names at most REACTION_NAMES_SHOWN of them, with the count of all.
REACTION_USERS_MAX = 100
REACTION_NAMES_SHOWN = 10
# One emoji: a single pictograph or a sequence (skin tone, ZWJ family, flag, keycap, tag flag),
# at most this many code points and UTF-8 bytes (the longest RGI sequences are 10 code points
# and 35 bytes: tag flags such as England's; 40 leaves room).
EMOJI_MAX_CHARS = 12
EMOJI_MAX_BYTES = 40
# A reply quotes the start of the message it answers: at most this many characters, one line.
REPLY_EXCERPT_CHARS = 100
# The server passes on at most one `typing` per user per room this often; more are dropped
# without an answer (a client sends one as the user types, there is nothing to tell it).
TYPING_INTERVAL_SECONDS = 3

# What an emoji may be made of: pictographs and symbols, and the joiners and modifiers of
# sequences. Letters, digits (except before a keycap mark), spaces and controls are not emoji.
_EMOJI_RANGES = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049), (0x2122, 0x2122),
    (0x2139, 0x2139), (0x2194, 0x21AA), (0x231A, 0x23FF), (0x24C2, 0x24C2), (0x25AA, 0x25FE),
    (0x2600, 0x27BF), (0x2934, 0x2935), (0x2B05, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D),
    (0x3297, 0x3297), (0x3299, 0x3299), (0x1F000, 0x1FAFF),
)
_EMOJI_JOINERS = {0x200D, 0xFE0F, 0x20E3} | set(range(0x1F3FB, 0x1F400)) | set(range(0xE0020, 0xE0080))
_KEYCAP_BASES = set("0123456789#*")


@dataclass(frozen=True)
class EditMessage:
    room: str | None  # None: the connection's room
    id: str
    message: str


@dataclass(frozen=True)
class React:
    room: str | None
    id: str
    emoji: str


@dataclass(frozen=True)
class Typing:
    room: str | None


@dataclass(frozen=True)
class Renew:
    token: str


def _optional_room(fields: dict) -> str | None:
    room = fields.get("room")
    return None if room is None else validate_room(room)


def _message_id(fields: dict) -> str:
    message_id = fields.get("id")
    if not is_message_id(message_id):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"id" must be a message id')
    return message_id


def parse_edit_message(request: Request) -> EditMessage:
    return EditMessage(room=_optional_room(request.fields), id=_message_id(request.fields),
                       message=_message_text(request.fields))


def parse_react(request: Request) -> React:
    emoji = request.fields.get("emoji")
    if not is_emoji(emoji):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"emoji" must be one emoji')
    return React(room=_optional_room(request.fields), id=_message_id(request.fields), emoji=emoji)


def parse_typing(request: Request) -> Typing:
    return Typing(room=_optional_room(request.fields))


def parse_renew(request: Request) -> Renew:
    token = request.fields.get("token")
    if not isinstance(token, str) or not token:
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"token" must be the new access token')
    return Renew(token=token)


def is_emoji(value: object) -> bool:
    """One emoji (see _EMOJI_RANGES): no text, no two emoji side by side beyond a ZWJ sequence."""
    if not isinstance(value, str) or not value or len(value) > EMOJI_MAX_CHARS:
        return False
    try:
        if len(value.encode("utf-8")) > EMOJI_MAX_BYTES:
            return False
    except UnicodeEncodeError:
        return False
    points = [ord(c) for c in value]
    pictographs = 0
    regional = 0
    for index, point in enumerate(points):
        if 0x1F1E6 <= point <= 0x1F1FF:
            regional += 1
        elif chr(point) in _KEYCAP_BASES:
            # A keycap: the base, an optional VS16, then U+20E3.
            rest = points[index + 1:index + 3]
            if 0x20E3 not in rest:
                return False
            pictographs += 1
        elif point in _EMOJI_JOINERS:
            continue
        elif any(low <= point <= high for low, high in _EMOJI_RANGES):
            pictographs += 1
        else:
            return False
    if regional:
        return regional == 2 and pictographs == 0  # a flag is exactly two regional indicators
    if pictographs == 0:
        return False
    # Several pictographs are one emoji only when joined (ZWJ sequences).
    return pictographs == 1 or points.count(0x200D) >= pictographs - 1


def reply_excerpt(message: str) -> str:
    """The start of a quoted message: one line, at most REPLY_EXCERPT_CHARS characters."""
    line = " ".join(message.split())
    if len(line) <= REPLY_EXCERPT_CHARS:
        return line
    return line[:REPLY_EXCERPT_CHARS - 1] + "…"


def reply_ref(*, id: str, sender: str, message: str) -> dict:
    return {"id": id, "sender": sender, "excerpt": reply_excerpt(message)}


def deleted_reply_ref(*, id: str, sender: str) -> dict:
    """A reply's quote of a message deleted since (or expired): who, but none of its text."""
    return {"id": id, "sender": sender, "deleted": True}


def reactions_list(reactions: dict[str, list[str]], viewer: str | None = None) -> list[dict]:
    """A message's reactions as frames carry them: per emoji (in the order first used) its count,
    at most REACTION_NAMES_SHOWN names, and for a reply to one user whether they are among them."""
    listed = []
    for emoji, users in list(reactions.items())[:REACTION_KINDS_MAX]:
        if not users:
            continue
        entry = {"emoji": emoji, "count": len(users), "users": users[:REACTION_NAMES_SHOWN]}
        if viewer is not None:
            entry["me"] = viewer in users
        listed.append(entry)
    return listed


def edited_frame(*, room: str, id: str, message: str, edited_at: str) -> dict:
    return {"type": "edited", "room": room, "id": id, "message": message, "editedAt": edited_at}


def reaction_frame(*, room: str, id: str, emoji: str, user: str, added: bool, count: int) -> dict:
    return {"type": "reaction", "room": room, "id": id, "emoji": emoji, "user": user, "added": added,
            "count": count}


def typing_frame(*, room: str, user: str) -> dict:
    return {"type": "typing", "room": room, "user": user}


def renewed_frame(*, expires_at: str, session_ends_at: str | None) -> dict:
    return {"type": "renewed", "expiresAt": expires_at, "sessionEndsAt": session_ends_at}


# -- read markers, unread counts and mentions (issue 13) ------------------------------------------

# An unread count stops here: `unread: 99` means 99 or more (a client shows "99+"). It also
# bounds what counting one room reads (the ids after the marker: at most this many messages).
UNREAD_MAX = 99
# `@name` mentions at most this many distinct users per message (the first ones in the text; the
# sender never counts): each is one write beside the message's, and `mentions` in a frame stays
# short (5 names of at most 32 characters).
MENTIONS_MAX = 5
# `@` and a username, not inside a word or an e-mail address (`bob@example.com` mentions no one).
# A name ending in `.` or `-` is read without them: "thanks @bob." mentions bob.
MENTION_PATTERN = re.compile(r"(?<![A-Za-z0-9_.\-@])@([A-Za-z0-9_.\-]{3,32})")
# A `read` id may lie at most this far in the future of the server's clock (a marker set ahead
# would hide every message until then, and markers only move forward).
READ_AHEAD_MS = 60_000


@dataclass(frozen=True)
class Read:
    room: str
    id: str


def parse_read(request: Request) -> Read:
    room = request.fields.get("room")
    if room is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"room" is required: the room whose messages were read')
    return Read(room=validate_room(room), id=_message_id(request.fields))


def message_id_ms(message_id: str) -> int:
    """The epoch milliseconds an id starts with."""
    return int(message_id[:MESSAGE_ID_TIME_DIGITS])


def mentions(message: str, sender: str | None = None) -> list[str]:
    """The users a message mentions (`@name`), as written, each once by its case-folded name, at
    most MENTIONS_MAX, never the sender: what the `message` frame's `mentions` lists."""
    found: dict[str, str] = {}
    skip = mention_key(sender) if sender else None
    for match in MENTION_PATTERN.finditer(message):
        name = match.group(1).rstrip(".-")
        if not is_valid_username(name):
            continue
        key = mention_key(name)
        if key == skip or key in found:
            continue
        found[key] = name
        if len(found) == MENTIONS_MAX:
            break
    return list(found.values())


def mention_key(name: str) -> str:
    """How names compare in mentions: as accounts key them (NFKC, case-folded)."""
    import unicodedata

    return unicodedata.normalize("NFKC", name).casefold()


def read_frame(*, room: str, id: str) -> dict:
    """The user's read marker for a room, as it now stands: to the sender of `read`, and to the
    user's other connections when it moved."""
    return {"type": "read", "room": room, "id": id}


# ---------------------------------------------------------------------------------------------
# Building server frames


def iso_utc(epoch_ms: int) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-25T18:19:57.123Z."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def message_frame(
    *, id: str, room: str, sender: str, message: str, sent_at: str, client_msg_id: str | None,
    reply_to: dict | None = None, edited_at: str | None = None, reactions: list[dict] | None = None,
    mentions: list[str] | None = None,
) -> dict:
    """A message. `replyTo`, `editedAt`, `reactions` and `mentions` are there only when the message
    has them (a plain new message's frame is what it always was); each is bounded, see message
    features."""
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
    last_read: str | None = None,
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
        "history": [],
        "hasMore": False,
    }
    return _filled(frame, "history", history, has_more, Keep.NEWEST)


def presence_frame(*, event: str, user: str, room: str, online: list[str]) -> dict:
    return {"type": "presence", "event": event, "user": user, "room": room,
            **_online(online, always=user if event == "joined" else None)}


def history_frame(*, room: str, messages: list[dict], has_more: bool, keep: Keep = Keep.NEWEST) -> dict:
    """A page of history: as many of `messages` as fit in FRAME_BUDGET_BYTES, from the `keep` end.

    `hasMore` is true if the store has more (`has_more`) or some of `messages` did not fit, so
    that paging on from the page's last (`after`) or first (`before`) id misses nothing.
    """
    frame = {"type": "history", "room": room, "messages": [], "hasMore": False}
    return _filled(frame, "messages", messages, has_more, keep)


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


def _filled(frame: dict, key: str, items: list[dict], has_more: bool, keep: Keep) -> dict:
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


def heartbeat_frame(*, server_time: str) -> dict:
    return {"type": "heartbeat", "serverTime": server_time}


def error_frame(code: ErrorCode, message: str) -> dict:
    return {"type": "error", "code": code.value, "message": message}


def session_end_frame(reason: SessionEnd) -> dict:
    """The last frame of a session the server ends: `session_expired` with a machine-readable reason."""
    return {**error_frame(ErrorCode.SESSION_EXPIRED, reason.text), "reason": reason.value}


def client_contract() -> dict:
    """The rules the web client must share with this module, for the site's config block.

    build_site.py writes this into every page, so the JS and HTML hold no copy of a pattern or
    limit. Patterns are given as the body of an anchored regular expression (valid in Python, JS
    and an HTML `pattern` attribute).
    """
    return {
        "defaultRoom": DEFAULT_ROOM,
        "roomPattern": ROOM_PATTERN.pattern,
        "roomMaxChars": 64,
        "usernamePattern": USERNAME_PATTERN.pattern,
        "usernameMinChars": 3,
        "usernameMaxChars": 32,
        "passwordMinChars": PASSWORD_MIN_CHARS,
        "passwordMaxChars": PASSWORD_MAX_CHARS,
        "messageMaxChars": MESSAGE_MAX_CHARS,
        "messageMaxBytes": MESSAGE_MAX_BYTES,
        "messageIdPattern": MESSAGE_ID_PATTERN.pattern,
        # An id starts with this many digits of epoch milliseconds: the client makes "from this
        # moment" cursors from it (message_id_at).
        "messageIdTimeDigits": MESSAGE_ID_TIME_DIGITS,
        "historyOnJoin": HISTORY_ON_JOIN,
        "historyMaxLimit": HISTORY_MAX_LIMIT,
        "sessionEndReasons": [reason.value for reason in SessionEnd],
        # Rooms and moderation.
        "roomVisibilities": list(ROOM_VISIBILITIES),
        "roles": list(ROLE_RANKS),
        "topicMaxChars": TOPIC_MAX_CHARS,
        "dmPrefix": DM_PREFIX,
        "moderationMaxMinutes": MODERATION_MAX_MINUTES,
        # Message features (issue 13).
        "reactionKindsMax": REACTION_KINDS_MAX,
        "reactionNamesShown": REACTION_NAMES_SHOWN,
        "emojiMaxChars": EMOJI_MAX_CHARS,
        "replyExcerptChars": REPLY_EXCERPT_CHARS,
        "typingIntervalSeconds": TYPING_INTERVAL_SECONDS,
        "unreadMax": UNREAD_MAX,
        "mentionsMax": MENTIONS_MAX,
    }


def encode(frame: dict) -> bytes:
    # ensure_ascii=False keeps non-Latin chat text at its real size against API Gateway's limits.
    data = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    try:
        return data.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate stored before parsing refused them: sent as U+FFFD, so that no stored
        # value can make a frame (and with it a room's every welcome and history) fail.
        return text.replace_lone_surrogates(data).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Rooms and moderation (docs/protocol.md "Rooms and moderation")
#
# A room is public (anyone may join it, as any typed name) or private (members only). Roles in a
# room rank member < moderator < owner; a site admin (a role on the user's account) outranks them
# all. An action on another user needs a rank above theirs, so a moderator cannot act on the
# owner or another moderator.

ROOM_VISIBILITIES = ("public", "private")
ROLE_RANKS = {"member": 0, "moderator": 1, "owner": 2}
ADMIN_RANK = 3
# What `setrole` may give: `owner` hands the room over (the old owner becomes a moderator).
SETTABLE_ROLES = ("member", "moderator", "owner")
TOPIC_MAX_CHARS = 160
# A direct conversation's room name: this prefix and a hash of the two names (rooms may not hold
# the '.' usernames may). `createroom` refuses the prefix, and `join` of such a name needs the
# direct conversation's record: nobody can claim a pair's room before they open it.
DM_PREFIX = "dm--"
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


def is_dm_room(room: str) -> bool:
    return room.startswith(DM_PREFIX)


def dm_room(user_key_a: str, user_key_b: str) -> str:
    """The one name of the direct conversation of two users (by their username keys), whichever
    side opens it: the prefix and 40 hex digits of a SHA-256 of the sorted pair."""
    import hashlib

    first, second = sorted((user_key_a, user_key_b))
    digest = hashlib.sha256(f"{first}\n{second}".encode("utf-8")).hexdigest()
    return DM_PREFIX + digest[:40]


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
        _check_text(topic, '"topic"', line_breaks=False)
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
    message_id = request.fields.get("id")
    if not is_message_id(message_id):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"id" must be a message id')
    return DeleteMessage(room=room, id=message_id)


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
    frame = _filled(frame, "mine", mine, mine_more, Keep.OLDEST)
    frame["mineHasMore"], frame["hasMore"] = frame["hasMore"], False
    # Measured with the longest cursor `after` can hold, and each entry with its own cursor.
    filled = _filled({**frame, "after": "9" * 15 + ":" + "x" * 64}, "directory", directory, directory_more,
                     Keep.OLDEST)
    kept = filled["directory"]
    more = filled["hasMore"] and bool(kept)
    return {**frame, "directory": [{k: v for k, v in e.items() if k != "cursor"} for e in kept],
            "hasMore": more, "after": kept[-1]["cursor"] if more else None}


def members_frame(*, room: str, members: list[dict], has_more: bool) -> dict:
    return _filled({"type": "members", "room": room, "members": [], "hasMore": False}, "members", members, has_more,
                   Keep.OLDEST)


def modlog_frame(*, room: str, entries: list[dict], has_more: bool) -> dict:
    """Newest first; `before` the last entry's id pages on."""
    return _filled({"type": "modlog", "room": room, "entries": [], "hasMore": False}, "entries", entries, has_more,
                   Keep.OLDEST)


def refusal(code: ErrorCode, message: str, *, until_ms: int | None = None) -> ProtocolError:
    """A `forbidden`, `muted` or `banned` error; the last two carry `until` (null: no end)."""
    if code in (ErrorCode.MUTED, ErrorCode.BANNED):
        return ProtocolError(code, message, until=iso_utc(until_ms) if until_ms else None)
    return ProtocolError(code, message)
