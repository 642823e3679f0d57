"""Read markers, unread counts and mentions (handler/unread.py, handler/store/unread.py), driven
directly over moto, the fake @connections API and a clock the test moves."""

import pytest

from handler import app, protocol
from handler.protocol import ErrorCode, ProtocolError, Read, Request, SendMessage
from handler.store.unread import Marker
from tests.unit.test_chat_service import T0, chat, chat_with, clock, connect, identity  # noqa: F401


def store_ids(chat, cid) -> list[str]:
    return [m.id for m in chat.store.recent_messages(chat.store.get_connection(cid).room, 100)[0]]


def read(chat, clock, cid, user, room, message_id):  # noqa: F811
    app.app().read_service(chat).read(cid, identity(clock, user), Read(room, message_id))


# -- protocol ----------------------------------------------------------------------------------------


def test_mentions_are_names_after_an_at_sign_once_each_bounded_and_never_the_sender():
    assert protocol.mentions("hi @bob and @Bob, @carol. mail x@dan.org @al @ann", "ann") == ["bob", "carol"]
    names = " ".join(f"@user{i}" for i in range(9))
    assert protocol.mentions(names) == [f"user{i}" for i in range(protocol.MENTIONS_MAX)]
    assert protocol.mentions("no one") == [] and protocol.mentions("@@bob") == []
    # One user in any letter case (as accounts fold names), named as first written.
    assert protocol.mentions("@BOB hi @bob") == ["BOB"]


def test_read_is_parsed():
    mid = protocol.new_message_id(T0, "abcdef")
    assert protocol.parse_read(Request("read", {"room": "r", "id": mid})) == Read("r", mid)
    for fields in ({"id": mid}, {"room": "r"}, {"room": "r", "id": 5}, {"room": "r", "id": "x"}):
        with pytest.raises(ProtocolError) as refused:
            protocol.parse_read(Request("read", fields))
        assert refused.value.code is ErrorCode.BAD_REQUEST
    with pytest.raises(ProtocolError) as refused:
        protocol.parse_read(Request("read", {"room": "a b", "id": mid}))
    assert refused.value.code is ErrorCode.INVALID_ROOM


def test_a_marker_counts_what_came_after_it():
    marker = Marker("r", "1", read_count=4, mention_id="2")
    assert marker.unread(10, protocol.UNREAD_MAX) == 6 and marker.mentioned
    assert marker.unread(3, protocol.UNREAD_MAX) == 0  # a count that lags the marker: none
    assert marker.unread(5000, protocol.UNREAD_MAX) == protocol.UNREAD_MAX
    assert not Marker("r", "3", 0, "2").mentioned and not Marker("r", "3", 0, None).mentioned
    assert Marker("r", None, 0, "2").mentioned  # mentioned in a room never read


# -- the store ---------------------------------------------------------------------------------------


def test_a_marker_only_moves_forward(api, chat, clock):  # noqa: F811
    markers = app.app().marker_store
    first, second = protocol.new_message_id(T0, "000001"), protocol.new_message_id(T0 + 1, "000001")
    assert markers.mark_read("Ann", "r", second, 7, T0) == (second, True)
    assert markers.mark_read("ann", "r", first, 3, T0) == (second, False)  # one user, any letter case
    assert markers.mark_read("ann", "r", second, 9, T0) == (second, False)
    kept = markers.marker("ANN", "r")
    assert (kept.read_id, kept.read_count) == (second, 7)


def test_a_newer_mention_is_kept(api, chat, clock):  # noqa: F811
    markers = app.app().marker_store
    old, new = protocol.new_message_id(T0, "000001"), protocol.new_message_id(T0 + 5, "000001")
    markers.mention("bob", "r", new, T0)
    markers.mention("bob", "r", old, T0)
    assert markers.marker("Bob", "r").mention_id == new and markers.marker("bob", "r").read_id is None
    assert [m.room for m in markers.markers("bob")] == ["r"]


# -- the service -------------------------------------------------------------------------------------


def test_read_tells_the_users_other_connections_only_when_the_marker_moved(api, chat, clock):  # noqa: F811
    connect(chat, clock, "a1", "ann", "r1")
    connect(chat, clock, "a2", "ann", "r2")
    connect(chat, clock, "b1", "bob", "r1")
    chat.send_message("b1", identity(clock, "bob"), SendMessage("one", None))
    clock.advance(0.01)
    chat.send_message("b1", identity(clock, "bob"), SendMessage("two", None))
    first, second = store_ids(chat, "b1")
    read(chat, clock, "a1", "ann", "r1", second)
    assert api.frames("a1", "read") == api.frames("a2", "read") == [{"type": "read", "room": "r1", "id": second}]
    assert api.frames("b1", "read") == []
    read(chat, clock, "a1", "ann", "r1", first)
    assert api.frames("a1", "read")[-1]["id"] == second and len(api.frames("a2", "read")) == 1
    assert app.app().marker_store.marker("ann", "r1").read_count == 2


def test_read_of_a_private_room_needs_a_membership_and_an_id_not_in_the_future(api, chat, clock):  # noqa: F811
    connect(chat, clock, "a1", "ann", "r1")
    app.app().rooms_store.create_room(room="priv", visibility="private", topic=None, owner="bob", owner_key="bob",
                                      now_ms=T0, max_owned=10)
    mid = protocol.new_message_id(T0, "abcdef")
    with pytest.raises(ProtocolError) as refused:
        read(chat, clock, "a1", "ann", "priv", mid)
    assert refused.value.code is ErrorCode.FORBIDDEN and app.app().marker_store.marker("ann", "priv") is None
    with pytest.raises(ProtocolError) as refused:
        read(chat, clock, "a1", "ann", "r1", protocol.new_message_id(clock() + 3_600_000, "abcdef"))
    assert refused.value.code is ErrorCode.BAD_REQUEST


def test_a_mention_is_written_per_user_mentioned_and_none_for_a_plain_message(api, chat, clock):  # noqa: F811
    connect(chat, clock, "a1", "ann", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    writes = []
    markers = app.app().marker_store
    original = markers.mention
    markers.mention = lambda *args: (writes.append(args), original(*args))
    chat.send_message("a1", identity(clock, "ann"), SendMessage("plain", None))
    assert writes == []
    chat.send_message("a1", identity(clock, "ann"), SendMessage("@Bob @ann @cat @bob", None))
    mid = api.frames("b1", "message")[-1]["id"]
    assert api.frames("b1", "message")[-1]["mentions"] == ["Bob", "cat"]
    assert sorted(w[0] for w in writes) == ["bob", "cat"] and {w[2] for w in writes} == {mid}
    assert markers.marker("bob", "r1").mention_id == mid


def test_welcome_carries_the_users_marker(api, chat, clock):  # noqa: F811
    from handler.protocol import Join

    connect(chat, clock, "a1", "ann", "r1")
    chat.join("a1", identity(clock, "ann"), Join(None))
    assert api.frames("a1", "welcome")[-1]["lastRead"] is None
    chat.send_message("a1", identity(clock, "ann"), SendMessage("hi", None))
    (mid,) = store_ids(chat, "a1")
    read(chat, clock, "a1", "ann", "r1", mid)
    chat.join("a1", identity(clock, "ann"), Join(None))
    assert api.frames("a1", "welcome")[-1]["lastRead"] == mid


def test_rooms_lists_unread_counts_and_only_rooms_the_user_may_read(api, chat, clock):  # noqa: F811
    rooms = app.app().rooms_store
    connect(chat, clock, "a1", "ann", "pub")
    connect(chat, clock, "b1", "bob", "pub")
    rooms.create_room(room="priv", visibility="private", topic="secret", owner="ann", owner_key="ann", now_ms=T0,
                      max_owned=10)
    for text in ("one", "two @bob", "three"):
        chat.send_message("a1", identity(clock, "ann"), SendMessage(text, None))
        clock.advance(0.01)
    ids = store_ids(chat, "a1")
    read(chat, clock, "b1", "bob", "pub", ids[0])
    # A mention of bob in the private room he is no member of.
    chat.store.move_connection("a1", "priv")
    chat.send_message("a1", identity(clock, "ann"), SendMessage("@bob secret", None))
    app.app().room_service(chat).list_rooms("b1", identity(clock, "bob"), None)
    mine = {e["room"]: e for e in api.frames("b1", "rooms")[-1]["mine"]}
    assert set(mine) == {"pub"}
    assert (mine["pub"]["unread"], mine["pub"]["mention"], mine["pub"]["role"]) == (2, True, None)
    app.app().room_service(chat).list_rooms("a1", identity(clock, "ann"), None)
    ann = {e["room"]: e for e in api.frames("a1", "rooms")[-1]["mine"]}
    assert ann["priv"]["unread"] == 1 and ann["priv"]["mention"] is False and "pub" not in ann


def test_the_count_after_a_marker_is_bounded(api, chat, clock):  # noqa: F811
    connect(chat, clock, "a1", "ann", "r1")
    for n in range(5):
        chat.send_message("a1", identity(clock, "ann"), SendMessage(f"m{n}", None))
        clock.advance(0.01)
    first = store_ids(chat, "a1")[0]
    assert chat.store.count_after("r1", first, 999) == 4
    assert chat.store.count_after("r1", first, 2) == 2  # looks at no more than it was allowed
    assert chat.store.count_after("r2", first, 999) == 0
