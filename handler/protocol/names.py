"""Names and patterns: room names (and the default room, and direct conversations' names),
usernames and password lengths, message ids (which are also cursors in time).
"""

from __future__ import annotations

import re

from handler.protocol.wire import ErrorCode, ProtocolError

DEFAULT_ROOM = "general"
ROOM_PATTERN = re.compile(r"[A-Za-z0-9_\-]{1,64}")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{3,32}")
PASSWORD_MIN_CHARS = 8
# A password is hashed with a slow KDF; refusing huge ones keeps a request from buying minutes of CPU.
PASSWORD_MAX_CHARS = 256

# A message id is the server's clock when it stored the message (13 digits of epoch milliseconds)
# and 6 random hex digits that keep two messages of the same millisecond apart; string order is
# time order. An id with six zeros (message_id_at) is a cursor: "from this moment".
MESSAGE_ID_TIME_DIGITS = 13
MESSAGE_ID_PATTERN = re.compile(rf"[0-9]{{{MESSAGE_ID_TIME_DIGITS}}}[0-9a-f]{{6}}")

# A direct conversation's room name: this prefix and a hash of the two names (rooms may not hold
# the '.' usernames may). `createroom` refuses the prefix, and `join` of such a name needs the
# direct conversation's record: nobody can claim a pair's room before they open it.
DM_PREFIX = "dm--"


def validate_room(room: object) -> str:
    if not isinstance(room, str) or not ROOM_PATTERN.fullmatch(room):
        raise ProtocolError(ErrorCode.INVALID_ROOM, "room names are 1-64 characters of A-Z a-z 0-9 _ -")
    return room


def is_valid_username(username: object) -> bool:
    return isinstance(username, str) and USERNAME_PATTERN.fullmatch(username) is not None


def is_message_id(value: object) -> bool:
    return isinstance(value, str) and MESSAGE_ID_PATTERN.fullmatch(value) is not None


def message_id_field(fields: dict) -> str:
    """A frame's `id`, which must be a message id (editmessage, react, read)."""
    message_id = fields.get("id")
    if not is_message_id(message_id):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"id" must be a message id')
    return message_id


def new_message_id(epoch_ms: int, suffix: str) -> str:
    return f"{epoch_ms:0{MESSAGE_ID_TIME_DIGITS}d}{suffix}"


def message_id_at(epoch_ms: int) -> str:
    """The smallest id of a moment: `after` it fetches everything stored from then on."""
    return f"{epoch_ms:0{MESSAGE_ID_TIME_DIGITS}d}000000"


def message_id_ms(message_id: str) -> int:
    """The epoch milliseconds an id starts with."""
    return int(message_id[:MESSAGE_ID_TIME_DIGITS])


def is_dm_room(room: str) -> bool:
    return room.startswith(DM_PREFIX)


def dm_room(user_key_a: str, user_key_b: str) -> str:
    """The one name of the direct conversation of two users (by their username keys), whichever
    side opens it: the prefix and 40 hex digits of a SHA-256 of the sorted pair."""
    import hashlib

    first, second = sorted((user_key_a, user_key_b))
    digest = hashlib.sha256(f"{first}\n{second}".encode("utf-8")).hexdigest()
    return DM_PREFIX + digest[:40]
