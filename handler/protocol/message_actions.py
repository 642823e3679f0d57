"""Message actions: editing a message, reacting to one (and what makes one emoji), replying (the
quote a reply carries), typing, and renewing a connection's token; their requests and frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from handler.protocol.messages import message_text
from handler.protocol.names import message_id_field, validate_room
from handler.protocol.wire import ErrorCode, ProtocolError, Request

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


def parse_edit_message(request: Request) -> EditMessage:
    return EditMessage(room=_optional_room(request.fields), id=message_id_field(request.fields),
                       message=message_text(request.fields))


def parse_react(request: Request) -> React:
    emoji = request.fields.get("emoji")
    if not is_emoji(emoji):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"emoji" must be one emoji')
    return React(room=_optional_room(request.fields), id=message_id_field(request.fields), emoji=emoji)


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
