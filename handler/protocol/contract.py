"""The web client's contract: the patterns and limits the page must share with the server, which
build_site.py writes into every page's config block.
"""

from __future__ import annotations

from handler.protocol.message_actions import (
    EMOJI_MAX_CHARS, REACTION_KINDS_MAX, REACTION_NAMES_SHOWN, REPLY_EXCERPT_CHARS, TYPING_INTERVAL_SECONDS,
)
from handler.protocol.messages import (
    HISTORY_MAX_LIMIT, HISTORY_ON_JOIN, MENTIONS_MAX, MESSAGE_MAX_BYTES, MESSAGE_MAX_CHARS,
)
from handler.protocol.names import (
    DEFAULT_ROOM, DM_PREFIX, MESSAGE_ID_PATTERN, MESSAGE_ID_TIME_DIGITS, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS,
    ROOM_PATTERN, USERNAME_PATTERN,
)
from handler.protocol.reads import UNREAD_MAX
from handler.protocol.rooms import MODERATION_MAX_MINUTES, ROLE_RANKS, ROOM_VISIBILITIES, TOPIC_MAX_CHARS
from handler.protocol.wire import SessionEnd


def client_contract() -> dict:
    """The rules the web client must share with the server, for the site's config block.

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
        # Message actions and read markers.
        "reactionKindsMax": REACTION_KINDS_MAX,
        "reactionNamesShown": REACTION_NAMES_SHOWN,
        "emojiMaxChars": EMOJI_MAX_CHARS,
        "replyExcerptChars": REPLY_EXCERPT_CHARS,
        "typingIntervalSeconds": TYPING_INTERVAL_SECONDS,
        "unreadMax": UNREAD_MAX,
        "mentionsMax": MENTIONS_MAX,
    }

