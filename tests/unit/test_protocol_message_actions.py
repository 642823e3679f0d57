"""The protocol's side of message actions, with no I/O: emoji, parsing editmessage, react, typing
and renew, the quote's excerpt, and the bounds that keep a message frame within a page."""

import pytest

from handler import protocol
from handler.protocol import EditMessage, ErrorCode, React, Renew, Request, Typing
from tests.unit.chat_support import T0, refused


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👍🏽", "👩‍👩‍👧‍👦", "🇫🇷", "1️⃣", "#⃣", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "©️", "☀"])
def test_one_emoji_is_accepted(emoji):
    assert protocol.is_emoji(emoji)


@pytest.mark.parametrize("emoji", ["", "a", "1", "👍👍", "👍 ", " 👍", "🇫", "🇫🇷🇫", "<b>", "\u200d", "\ufe0f", "🏽",
                                   "👍" + "\u200d👍" * 10, None, 5, ["👍"], "\ud83d"])
def test_anything_else_is_not_an_emoji(emoji):
    assert not protocol.is_emoji(emoji)


def test_parsing_the_new_actions():
    mid = protocol.new_message_id(T0, "abcdef")
    assert protocol.parse_edit_message(Request("editmessage", {"id": mid, "message": " hi "})) == \
        EditMessage(None, mid, "hi")
    assert protocol.parse_react(Request("react", {"room": "r", "id": mid, "emoji": "👍"})) == React("r", mid, "👍")
    assert protocol.parse_typing(Request("typing", {})) == Typing(None)
    assert protocol.parse_renew(Request("renew", {"token": "t"})) == Renew("t")
    assert protocol.parse_send_message(Request("sendmessage", {"message": "m", "replyTo": mid})).reply_to == mid
    for parse, fields, code in (
        (protocol.parse_edit_message, {"id": "x", "message": "m"}, ErrorCode.BAD_REQUEST),
        (protocol.parse_edit_message, {"id": mid, "message": " "}, ErrorCode.EMPTY_MESSAGE),
        (protocol.parse_edit_message, {"id": mid, "message": "m", "room": "no room!"}, ErrorCode.INVALID_ROOM),
        (protocol.parse_react, {"id": mid, "emoji": "ab"}, ErrorCode.BAD_REQUEST),
        (protocol.parse_send_message, {"message": "m", "replyTo": 5}, ErrorCode.BAD_REQUEST),
        (protocol.parse_renew, {"token": ""}, ErrorCode.BAD_REQUEST),
    ):
        assert refused(lambda: parse(Request("x", fields))).code is code, fields


def test_the_excerpt_is_one_short_line():
    assert protocol.reply_excerpt("a\n\n b\tc") == "a b c"
    long = protocol.reply_excerpt("word " * 100)
    assert len(long) == protocol.REPLY_EXCERPT_CHARS and long.endswith("…")


def _largest_message() -> dict:
    """The biggest message frame a welcome or history page can carry: the longest text in the
    costliest character for JSON (a quote, escaped to 2 bytes), the longest names, a full quote,
    the most reactions, each with the longest emoji and a full list of names."""
    name = "n" * 32
    reactions = {("\U0001F3F4" * 9) + str(i): [f"{'n' * 29}{j:03d}" for j in range(protocol.REACTION_USERS_MAX)]
                 for i in range(protocol.REACTION_KINDS_MAX)}
    assert all(len(e.encode()) <= protocol.EMOJI_MAX_BYTES for e in reactions)
    return protocol.message_frame(
        id=protocol.new_message_id(T0, "abcdef"), room="r" * 64, sender=name,
        message='"' * protocol.MESSAGE_MAX_CHARS, sent_at=protocol.iso_utc(T0),
        client_msg_id='"' * protocol.CLIENT_MSG_ID_MAX_CHARS,
        reply_to=protocol.reply_ref(id=protocol.new_message_id(T0, "abcdef"), sender=name, message='"' * 2000),
        edited_at=protocol.iso_utc(T0), reactions=protocol.reactions_list(reactions, viewer=name),
        mentions=[f"{'m' * 31}{i}" for i in range(protocol.MENTIONS_MAX + 3)],  # a frame keeps MENTIONS_MAX
    )


def test_the_largest_message_frame_still_fits_a_page_many_times():
    largest = _largest_message()
    size = len(protocol.encode(largest))
    assert size < 10_000, size
    assert len(largest["mentions"]) == protocol.MENTIONS_MAX
    welcome = protocol.welcome_frame(
        user="n" * 32, room="r" * 64, connection_id="c" * 20, connected_at=protocol.iso_utc(T0),
        expires_at=protocol.iso_utc(T0), session_ends_at=protocol.iso_utc(T0),
        online=[f"{'u' * 28}{i:04d}" for i in range(500)], history=[largest] * protocol.HISTORY_ON_JOIN, has_more=True,
        last_read=protocol.new_message_id(T0, "abcdef"),
    )
    assert len(protocol.encode(welcome)) <= protocol.FRAME_BUDGET_BYTES
    assert len(welcome["history"]) >= 8 and welcome["hasMore"] is True
    page = protocol.history_frame(room="r" * 64, messages=[largest] * protocol.HISTORY_MAX_LIMIT, has_more=False)
    assert len(protocol.encode(page)) <= protocol.FRAME_BUDGET_BYTES and page["hasMore"] is True


def test_a_frame_names_at_most_so_many_reactors():
    listed = protocol.reactions_list({"👍": [f"u{i}" for i in range(40)]}, viewer="u39")
    assert listed == [{"emoji": "👍", "count": 40, "users": [f"u{i}" for i in range(10)], "me": True}]
