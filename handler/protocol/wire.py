"""Wire basics: frame limits, actions, error codes, session-end reasons, parsing a raw frame into a
Request, encoding a frame, and the frames every route may answer with (error, heartbeat, session
end). Every other protocol module builds on this one.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from handler import text

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
# No frame of this protocol nests deeper than 2; deeper input is refused before it is walked.
JSON_MAX_DEPTH = 8


class Action(str, enum.Enum):
    """Client → server actions; the API Gateway route key is the action's value."""

    SEND_MESSAGE = "sendmessage"
    JOIN = "join"
    HISTORY = "history"
    HEARTBEAT = "heartbeat"
    # Rooms (the `rooms` function) and moderation (the `moderation` function): see rooms.py.
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
    # Message actions (message_actions.py): served by the `interact` function, and `renew` by its own.
    EDIT_MESSAGE = "editmessage"
    REACT = "react"
    TYPING = "typing"
    RENEW = "renew"
    # Read markers (reads.py): served by the `read` function.
    READ = "read"


# A set, so that answered_action's membership test does not build the enum's values each time.
_ACTION_VALUES = frozenset(action.value for action in Action)


class ErrorCode(str, enum.Enum):
    """The ``code`` of an ``error`` frame."""

    # The frame is not a JSON object, lacks a field, or a field has the wrong type or form.
    BAD_REQUEST = "bad_request"
    # The frame names an action the server does not know.
    UNKNOWN_ACTION = "unknown_action"
    # The frame or the message in it is longer than its limit (FRAME_MAX_BYTES, and the message
    # limits in messages.py).
    TOO_LARGE = "too_large"
    # The message is empty once surrounding white space is trimmed.
    EMPTY_MESSAGE = "empty_message"
    # The room name does not match ROOM_PATTERN (names.py).
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
    # `sendmessage` named a `room` that is not the connection's current one: nothing was stored.
    # The frame's `room` is the connection's room (null: in none) and `clientMsgId` the message's,
    # so that a client keeps the message queued for its own room instead of losing or misplacing it.
    WRONG_ROOM = "wrong_room"


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


# -- parsing a raw frame -----------------------------------------------------------------------


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


def check_text(value: str, name: str, *, line_breaks: bool) -> None:
    """Refuse a text field holding what text.problem names (controls, bidi overrides, lone
    surrogates): such text could break a frame, hide or spoof."""
    wrong = text.problem(value, line_breaks=line_breaks)
    if wrong:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} contains {wrong}")


# -- building frames ---------------------------------------------------------------------------


def encode(frame: dict) -> bytes:
    # ensure_ascii=False keeps non-Latin chat text at its real size against API Gateway's limits.
    data = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    try:
        return data.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate stored before parsing refused them: sent as U+FFFD, so that no stored
        # value can make a frame (and with it a room's every welcome and history) fail.
        return text.replace_lone_surrogates(data).encode("utf-8")


def iso_utc(epoch_ms: int) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-25T18:19:57.123Z."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def heartbeat_frame(*, server_time: str) -> dict:
    return {"type": "heartbeat", "serverTime": server_time}


def error_frame(code: ErrorCode, message: str) -> dict:
    return {"type": "error", "code": code.value, "message": message}


def session_end_frame(reason: SessionEnd) -> dict:
    """The last frame of a session the server ends: `session_expired` with a machine-readable reason."""
    return {**error_frame(ErrorCode.SESSION_EXPIRED, reason.text), "reason": reason.value}


def refusal(code: ErrorCode, message: str, *, until_ms: int | None = None) -> ProtocolError:
    """A `forbidden`, `muted` or `banned` error; the last two carry `until` (null: no end)."""
    if code in (ErrorCode.MUTED, ErrorCode.BANNED):
        return ProtocolError(code, message, until=iso_utc(until_ms) if until_ms else None)
    return ProtocolError(code, message)
