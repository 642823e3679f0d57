"""MessageActions (handler/chat/message_actions.py) driven directly: edits, reactions, typing and
`renew`."""

from handler import protocol
from handler.chat.message_frames import message_frame
from handler.protocol import EditMessage, ErrorCode, Identity, React, Renew, Typing
from tests.unit.chat_support import T0, chat, chat_with, clock, connect, identity, refused, sent  # noqa: F401
from tests.unit.conftest import connection_store, message_store


# -- editmessage -----------------------------------------------------------------------------------


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


# -- react -----------------------------------------------------------------------------------------


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


# -- typing ----------------------------------------------------------------------------------------


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


def test_no_typing_in_rooms_too_big_for_presence(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_MAX_ROOM=2)
    for n, user in enumerate(("alice", "bob", "carol")):
        connect(chat, clock, f"c{n}", user)
    api.clear()
    chat.message_actions.typing("c0", identity(clock, "alice"), Typing(None))
    assert api.frames("c1") == [] and api.frames("c2") == []


# -- renew -----------------------------------------------------------------------------------------


def test_renew_moves_the_connections_expiry_but_never_a_session_limit(api, chat, clock, monkeypatch):
    connect(chat, clock, "g1", "alice", expires_in=60, session_limit=120)
    later = Identity(username="alice", guest=False, expires_at=T0 // 1000 + 3600, session_limit_seconds=0, jti="j2")
    monkeypatch.setattr(chat.message_actions, "verify", lambda token: later if token == "good" else (_ for _ in ()).throw(
        __import__("handler.auth.tokens", fromlist=["TokenInvalid"]).TokenInvalid("bad")))
    chat.message_actions.renew("g1", identity(clock, "alice"), Renew("good"))
    assert api.last("g1") == {"type": "renewed", "expiresAt": protocol.iso_utc((T0 // 1000 + 3600) * 1000),
                              "sessionEndsAt": protocol.iso_utc((T0 // 1000 + 120) * 1000)}
    row = connection_store().get_connection("g1")
    assert (row.expires_at, row.deadline, row.jti) == (T0 // 1000 + 3600, T0 // 1000 + 120, "j2")
    assert refused(lambda: chat.message_actions.renew("g1", identity(clock, "alice"), Renew("bad"))).code is ErrorCode.INVALID_TOKEN
    monkeypatch.setattr(chat.message_actions, "verify", lambda token: Identity("bob", False, T0 // 1000 + 3600, 0))
    assert refused(lambda: chat.message_actions.renew("g1", identity(clock, "alice"), Renew("x"))).code is ErrorCode.FORBIDDEN
