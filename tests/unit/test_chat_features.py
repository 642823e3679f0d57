"""Issue 13 in the Chat service (moto behind the store, the fake @connections API): edits,
reactions, replies, typing, the presence grace and `renew`; and the protocol's bounds."""

import pytest

from handler import protocol
from handler.chat.message_frames import message_frame
from handler.protocol import (EditMessage, ErrorCode, Identity, ProtocolError, React, Renew, Request, SendMessage,
                              Typing)
from tests.unit.conftest import connection_store, follow_up_store, heard, message_store
from tests.unit.test_chat_service import T0, chat, chat_with, clock, connect, identity, presence  # noqa: F401


def sent(chat, clock, api, connection_id, username, text, **extra):
    return heard(chat, connection_id, chat.messaging.send_message(connection_id, identity(clock, username),
                                                        SendMessage(text, None, **extra)))


def refused(call) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call()
    return caught.value


# -- protocol ---------------------------------------------------------------------------------


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


# -- editmessage ------------------------------------------------------------------------------


def test_an_edit_reaches_the_room_and_history(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    message = sent(chat, clock, api, "a1", "alice", "teh")
    clock.advance(2)
    chat.message_actions.edit_message("a1", identity(clock, "alice"), EditMessage(None, message["id"], "the"))
    edited = {"type": "edited", "room": "general", "id": message["id"], "message": "the",
              "editedAt": protocol.iso_utc(T0 + 2000)}
    assert api.last("b1") == edited and api.last("a1") == edited
    (stored,), _ = message_store().recent_messages("general", 5)
    assert message_frame(stored)["editedAt"] == edited["editedAt"] and stored.message == "the"


def test_an_edit_is_refused_to_others_for_unknown_ids_and_deleted_messages(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob", "elsewhere")
    message = sent(chat, clock, api, "a1", "alice", "mine")
    connect(chat, clock, "b2", "bob")
    assert refused(lambda: chat.message_actions.edit_message("b2", identity(clock, "bob"), EditMessage(None, message["id"], "x"))).code \
        is ErrorCode.FORBIDDEN
    assert refused(lambda: chat.message_actions.edit_message("b1", identity(clock, "bob"), EditMessage(None, message["id"], "x"))).code \
        is ErrorCode.NOT_FOUND  # not in bob's room
    assert refused(lambda: chat.message_actions.edit_message("b1", identity(clock, "bob"), EditMessage("general", message["id"], "x"))
                   ).code is ErrorCode.FORBIDDEN  # naming a room it is not in
    # A tombstone, as the rooms work's deletemessage leaves it.
    message_store().messages.update("test", {"room": {"S": "general"}, "id": {"S": message["id"]}},
                            UpdateExpression="SET deletedAt = :at", ExpressionAttributeValues={":at": {"S": "now"}})
    error = refused(lambda: chat.message_actions.edit_message("a1", identity(clock, "alice"), EditMessage(None, message["id"], "x")))
    assert (error.code, error.message) == (ErrorCode.NOT_FOUND, "that message was deleted")
    assert refused(lambda: chat.message_actions.react("a1", identity(clock, "alice"), React(None, message["id"], "👍"))).code \
        is ErrorCode.NOT_FOUND


def test_edits_spend_their_own_budget(api, chat_with, clock):
    chat = chat_with(WSCHAT_EDIT_BURST=2, WSCHAT_EDIT_RATE=0.1)
    connect(chat, clock, "a1", "alice")
    message = sent(chat, clock, api, "a1", "alice", "v0")
    for n in (1, 2):
        chat.message_actions.edit_message("a1", identity(clock, "alice"), EditMessage(None, message["id"], f"v{n}"))
    error = refused(lambda: chat.message_actions.edit_message("a1", identity(clock, "alice"), EditMessage(None, message["id"], "v3")))
    assert error.code is ErrorCode.RATE_LIMITED and error.fields["retryAfterMs"] > 0
    say_again = sent(chat, clock, api, "a1", "alice", "a new message still goes")  # another budget
    assert say_again["type"] == "message"


# -- react ------------------------------------------------------------------------------------


def test_reactions_toggle_and_are_bounded(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    message = sent(chat, clock, api, "a1", "alice", "hi")
    me = identity(clock, "alice")
    chat.message_actions.react("a1", me, React(None, message["id"], "👍"))
    assert api.last("a1") == {"type": "reaction", "room": "general", "id": message["id"], "emoji": "👍",
                              "user": "alice", "added": True, "count": 1}
    chat.message_actions.react("a1", me, React(None, message["id"], "👍"))
    assert (api.last("a1")["added"], api.last("a1")["count"]) == (False, 0)
    (stored,), _ = message_store().recent_messages("general", 5)
    assert "reactions" not in message_frame(stored)
    emojis = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆"]
    for emoji in emojis:
        clock.advance(1)  # within the reaction budget
        chat.message_actions.react("a1", me, React(None, message["id"], emoji))
    assert refused(lambda: chat.message_actions.react("a1", me, React(None, message["id"], "😇"))).code is ErrorCode.TOO_LARGE
    (stored,), _ = message_store().recent_messages("general", 5)
    assert [r["emoji"] for r in message_frame(stored, "alice")["reactions"]] == emojis


def test_users_per_emoji_are_bounded(api, chat, clock, monkeypatch):
    monkeypatch.setattr(protocol, "REACTION_USERS_MAX", 2)
    connect(chat, clock, "a1", "alice")
    message = sent(chat, clock, api, "a1", "alice", "hi")
    for user in ("u1", "u2"):
        chat.message_actions.react("a1", identity(clock, user), React(None, message["id"], "🎉"))
    assert refused(lambda: chat.message_actions.react("a1", identity(clock, "u3"), React(None, message["id"], "🎉"))).code \
        is ErrorCode.TOO_LARGE
    chat.message_actions.react("a1", identity(clock, "u1"), React(None, message["id"], "🎉"))  # taking one back still works
    assert api.last("a1")["count"] == 1


# -- replyTo ----------------------------------------------------------------------------------


def test_a_reply_carries_its_quote_and_a_plain_message_reads_nothing_more(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    question = sent(chat, clock, api, "a1", "alice", "when?")
    reads = message_store().reads.total
    plain = sent(chat, clock, api, "a1", "alice", "plain")
    plain_reads = message_store().reads.total - reads
    assert "replyTo" not in plain
    reads = message_store().reads.total
    answer = sent(chat, clock, api, "a1", "alice", "now", reply_to=question["id"])
    assert answer["replyTo"] == {"id": question["id"], "sender": "alice", "excerpt": "when?"}
    assert message_store().reads.total - reads == plain_reads + 1  # the quoted message, and only for a reply
    other = protocol.new_message_id(T0, "abcdef")
    assert refused(lambda: sent(chat, clock, api, "a1", "alice", "x", reply_to=other)).code is ErrorCode.NOT_FOUND


# -- typing -----------------------------------------------------------------------------------


def test_typing_goes_to_the_others_once_per_interval(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "a2", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()
    for _ in range(3):
        chat.message_actions.typing("a1", identity(clock, "alice"), Typing(None))
    assert api.frames("b1") == [{"type": "typing", "room": "general", "user": "alice"}]
    assert api.frames("a1") == [] and api.frames("a2") == []
    clock.advance(protocol.TYPING_INTERVAL_SECONDS)
    chat.message_actions.typing("a1", identity(clock, "alice"), Typing("general"))
    assert len(api.frames("b1")) == 2


# -- the presence grace -----------------------------------------------------------------------


def test_a_reload_within_the_grace_says_nothing_and_a_leave_says_left_after_it(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()
    chat.departures.disconnect("b1")
    connect(chat, clock, "b2", "bob")  # the reloaded page
    clock.advance(6)
    chat.housekeeping.sweep_expired()
    assert api.frames("a1") == []
    chat.departures.disconnect("b2")
    chat.housekeeping.sweep_expired()
    assert api.frames("a1") == []  # not before the grace is over
    clock.advance(6)
    chat.housekeeping.sweep_expired()
    assert api.frames("a1") == [presence("left", "bob", "general", ["alice"])]


def test_switching_rooms_still_says_left_at_once(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()
    chat.connections.join("b1", identity(clock, "bob"), protocol.Join("other"))
    assert api.frames("a1") == [presence("left", "bob", "general", ["alice"])]


# -- renew ------------------------------------------------------------------------------------


def test_renew_moves_the_connections_expiry_but_never_a_session_limit(api, chat, clock, monkeypatch):
    connect(chat, clock, "g1", "alice", expires_in=60, session_limit=120)
    later = Identity(username="alice", guest=False, expires_at=T0 // 1000 + 3600, session_limit_seconds=0, jti="j2")
    monkeypatch.setattr(chat.message_actions, "verify", lambda token: later if token == "good" else (_ for _ in ()).throw(
        __import__("authorizer.tokens", fromlist=["TokenInvalid"]).TokenInvalid("bad")))
    chat.message_actions.renew("g1", identity(clock, "alice"), Renew("good"))
    assert api.last("g1") == {"type": "renewed", "expiresAt": protocol.iso_utc((T0 // 1000 + 3600) * 1000),
                              "sessionEndsAt": protocol.iso_utc((T0 // 1000 + 120) * 1000)}
    row = connection_store().get_connection("g1")
    assert (row.expires_at, row.deadline, row.jti) == (T0 // 1000 + 3600, T0 // 1000 + 120, "j2")
    assert refused(lambda: chat.message_actions.renew("g1", identity(clock, "alice"), Renew("bad"))).code is ErrorCode.INVALID_TOKEN
    monkeypatch.setattr(chat.message_actions, "verify", lambda token: Identity("bob", False, T0 // 1000 + 3600, 0))
    assert refused(lambda: chat.message_actions.renew("g1", identity(clock, "alice"), Renew("x"))).code is ErrorCode.FORBIDDEN


def test_the_sweep_keeps_a_connection_renewed_after_the_index_was_read(api, chat, clock, monkeypatch):
    connect(chat, clock, "a1", "alice", expires_in=60)
    stale, follow_ups = follow_up_store().due(T0 // 1000 + 61)
    assert [c.connection_id for c in stale] == ["a1"]
    connection_store().renew_connection("a1", expires_at=T0 // 1000 + 3600, deadline=T0 // 1000 + 3600, jti=None, family=None)
    monkeypatch.setattr(follow_up_store(), "due", lambda now: (stale, follow_ups))  # an index that lags its table
    clock.advance(61)
    assert chat.housekeeping.sweep_expired() == 0 and connection_store().get_connection("a1") is not None


def test_no_typing_in_rooms_too_big_for_presence(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_MAX_ROOM=2)
    for n, user in enumerate(("alice", "bob", "carol")):
        connect(chat, clock, f"c{n}", user)
    api.clear()
    chat.message_actions.typing("c0", identity(clock, "alice"), Typing(None))
    assert api.frames("c1") == [] and api.frames("c2") == []
