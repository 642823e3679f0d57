"""Every room live (handler/chat/activity.py) and a message only in its own room: `activity` frames to
the users of a room who are elsewhere (a DM's other user, mentioned users who belong, the members of a
small room, coalesced), none to those who do not belong; `sendmessage` with another room than the
connection's stores nothing (`wrong_room`)."""

from handler import app, protocol
from handler.protocol import ErrorCode, SendMessage
from handler.store.rooms import user_key
from tests.unit.chat_support import T0, chat, chat_with, clock, connect, identity, refused, say  # noqa: F401
from tests.unit.conftest import heard, message_store


def _dm(clock, a: str, b: str) -> str:
    room = protocol.dm_room(user_key(a), user_key(b))
    app.app().rooms_store.open_dm(room=room, users=((a, user_key(a)), (b, user_key(b))), now_ms=clock())
    return room


def _private(clock, room: str, owner: str, *members: str) -> None:
    store = app.app().rooms_store
    store.create_room(room=room, visibility="private", topic=None, owner=owner, owner_key=user_key(owner),
                      now_ms=clock(), max_owned=10)
    for name in members:
        store.add_member(room, user_key(name), name, "member", clock())


# -- wrong_room ------------------------------------------------------------------------------------


def test_a_message_for_another_room_is_stored_nowhere_and_names_the_connections_room(api, chat, clock):
    connect(chat, clock, "a1", "alice", "ops")
    connect(chat, clock, "b1", "bob", "ops")
    connect(chat, clock, "c1", "carol", "random-talk")
    api.clear()
    error = refused(lambda: chat.messaging.send_message(
        "a1", identity(clock, "alice"), SendMessage("SECRET", "c-9", room="random-talk")))
    assert error.code is ErrorCode.WRONG_ROOM
    assert error.fields == {"room": "ops", "clientMsgId": "c-9"}
    assert message_store().recent_messages("ops", 10)[0] == []
    assert message_store().recent_messages("random-talk", 10)[0] == []
    assert api.posts == {}


def test_a_message_naming_its_own_room_is_stored_there(api, chat, clock):
    connect(chat, clock, "a1", "alice", "ops")
    frame = heard(chat, "a1", chat.messaging.send_message("a1", identity(clock, "alice"),
                                                          SendMessage("hello", "c-1", room="ops")))
    assert frame["room"] == "ops"
    assert [m.message for m in message_store().recent_messages("ops", 10)[0]] == ["hello"]


def test_a_kicked_connection_naming_a_room_is_told_it_is_in_none(api, chat, clock):
    connect(chat, clock, "a1", "alice", "ops")
    app.app().connection_store.evict("a1", "ops")
    error = refused(lambda: chat.messaging.send_message("a1", identity(clock, "alice"),
                                                        SendMessage("hi", "c-2", room="ops")))
    assert error.code is ErrorCode.WRONG_ROOM and error.fields["room"] is None


def test_sendmessage_parses_room_and_refuses_a_malformed_one():
    parsed = protocol.parse_send_message(protocol.parse_request(
        '{"action":"sendmessage","room":"ops","message":"hi","clientMsgId":"x"}'))
    assert parsed.room == "ops"
    assert protocol.parse_send_message(protocol.parse_request('{"action":"sendmessage","message":"hi"}')).room is None
    error = refused(lambda: protocol.parse_send_message(protocol.parse_request(
        '{"action":"sendmessage","room":"no spaces","message":"hi"}')))
    assert error.code is ErrorCode.INVALID_ROOM


# -- activity --------------------------------------------------------------------------------------


def test_a_dm_tells_the_other_user_wherever_they_are_on_every_message(api, chat, clock):
    room = _dm(clock, "alice", "bob")
    connect(chat, clock, "a1", "alice", room)
    connect(chat, clock, "b1", "bob", "general")
    connect(chat, clock, "b2", "bob", "random")
    connect(chat, clock, "c1", "carol", "general")
    api.clear()
    first = say(chat, clock, "a1", "alice", "SECRET: keep it between us")
    second = say(chat, clock, "a1", "alice", "still there?")
    for frame in (first, second):
        expected = {"type": "activity", "room": room, "id": frame["id"], "sender": "alice",
                    "sentAt": frame["sentAt"], "dm": True, "mention": False}
        assert expected in api.frames("b1") and expected in api.frames("b2")
    assert api.frames("c1") == []
    # No text leaves the room in an activity frame.
    assert all("message" not in f for f in api.frames("b1"))


def test_a_mention_in_a_public_room_tells_a_reader_and_not_an_outsider(api, chat, clock):
    app.app().marker_store.mark_read("bob", "random", protocol.new_message_id(T0 - 1000, "aaaaaa"), clock())
    connect(chat, clock, "a1", "alice", "random")
    connect(chat, clock, "b1", "bob", "general")
    connect(chat, clock, "c1", "carol", "general")
    api.clear()
    frame = say(chat, clock, "a1", "alice", "@bob @carol look at this")
    assert api.frames("b1", "activity") == [{"type": "activity", "room": "random", "id": frame["id"],
                                             "sender": "alice", "sentAt": frame["sentAt"], "dm": False,
                                             "mention": True}]
    assert api.frames("c1") == []  # never read #random, not a member: not told


def test_a_mention_in_a_private_room_tells_nobody_outside_it(api, chat, clock):
    _private(clock, "ops", "alice")
    connect(chat, clock, "a1", "alice", "ops")
    connect(chat, clock, "b1", "bob", "general")
    api.clear()
    say(chat, clock, "a1", "alice", "@bob can you see this?")
    assert api.frames("b1") == []


def test_a_small_rooms_members_elsewhere_are_told_once_per_window(api, chat, clock):
    _private(clock, "ops", "alice", "bob", "dave")
    connect(chat, clock, "a1", "alice", "ops")
    connect(chat, clock, "a2", "alice", "general")  # the sender's own other tab: not told
    connect(chat, clock, "b1", "bob", "general")
    connect(chat, clock, "d1", "dave", "ops")  # in the room: gets the message itself
    api.clear()
    say(chat, clock, "a1", "alice", "one")
    say(chat, clock, "a1", "alice", "two")  # within the window: coalesced
    assert [f["mention"] for f in api.frames("b1", "activity")] == [False]
    assert api.frames("a2") == [] and api.frames("d1", "activity") == []
    clock.advance(3)
    say(chat, clock, "a1", "alice", "three")
    assert len(api.frames("b1", "activity")) == 2


def test_a_room_over_the_cap_tells_only_the_mentioned(api, chat_with, clock):
    chat = chat_with(WSCHAT_ACTIVITY_MAX_ROOM=2)
    _private(clock, "ops", "alice", "bob", "dave")
    connect(chat, clock, "a1", "alice", "ops")
    connect(chat, clock, "b1", "bob", "general")
    connect(chat, clock, "d1", "dave", "general")
    api.clear()
    say(chat, clock, "a1", "alice", "plain")
    assert api.frames("b1") == [] and api.frames("d1") == []
    clock.advance(10)
    say(chat, clock, "a1", "alice", "@dave you")
    assert [f["mention"] for f in api.frames("d1", "activity")] == [True]
    assert api.frames("b1") == []


def test_a_failing_lookup_never_fails_the_stored_message(api, chat, clock, monkeypatch):
    room = _dm(clock, "alice", "bob")
    connect(chat, clock, "a1", "alice", room)
    connect(chat, clock, "b1", "bob", "general")

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.app().connection_store, "user_connection_rooms", broken)
    frame = say(chat, clock, "a1", "alice", "still stored")
    assert frame["type"] == "message"
    assert [m.message for m in message_store().recent_messages(room, 10)[0]] == ["still stored"]
