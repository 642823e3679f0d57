"""Read markers, unread counts and mentions: the `read` request and frame, how far an unread count
goes, and which users a message mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handler.protocol.messages import MENTIONS_MAX
from handler.protocol.names import is_valid_username, message_id_field, validate_room
from handler.protocol.wire import ErrorCode, ProtocolError, Request

# An unread count stops here: `unread: 99` means 99 or more (a client shows "99+"). It also
# bounds what counting one room reads (the ids after the marker: at most this many messages).
UNREAD_MAX = 99
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
    return Read(room=validate_room(room), id=message_id_field(request.fields))


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
