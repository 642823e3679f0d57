"""Read markers, unread counts and mentions (handler/read_markers.py, handler/store/read_markers.py), driven
directly over moto, the fake @connections API and a clock the test moves."""

import pytest

from handler import app, protocol
from handler.errors import StorageUnavailable
from handler.protocol import ErrorCode, ProtocolError, Read, Request, SendMessage
from handler.store.read_markers import Marker
from tests.unit.chat_support import T0, chat, chat_with, clock, connect, identity  # noqa: F401


def store_ids(chat, cid) -> list[str]:
    return [m.id for m in app.app().message_store.recent_messages(app.app().connection_store.get_connection(cid).room, 100)[0]]


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


def test_a_marker_is_mentioned_by_a_mention_after_it():
    assert Marker("r", "1", mention_id="2").mentioned
    assert not Marker("r", "3", "2").mentioned and not Marker("r", "3", None).mentioned
    assert Marker("r", None, "2").mentioned  # mentioned in a room never read


# -- the store ---------------------------------------------------------------------------------------


def test_a_marker_only_moves_forward(api, chat, clock):  # noqa: F811
    markers = app.app().marker_store
    first, second = protocol.new_message_id(T0, "000001"), protocol.new_message_id(T0 + 1, "000001")
    assert markers.mark_read("Ann", "r", second, T0) == (second, True)
    assert markers.mark_read("ann", "r", first, T0) == (second, False)  # one user, any letter case
    assert markers.mark_read("ann", "r", second, T0) == (second, False)
    assert markers.marker("ANN", "r").read_id == second


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
    chat.messaging.send_message("b1", identity(clock, "bob"), SendMessage("one", None))
    clock.advance(0.01)
    chat.messaging.send_message("b1", identity(clock, "bob"), SendMessage("two", None))
    first, second = store_ids(chat, "b1")
    read(chat, clock, "a1", "ann", "r1", second)
    assert api.frames("a1", "read") == api.frames("a2", "read") == [{"type": "read", "room": "r1", "id": second}]
    assert api.frames("b1", "read") == []
    read(chat, clock, "a1", "ann", "r1", first)
    assert api.frames("a1", "read")[-1]["id"] == second and len(api.frames("a2", "read")) == 1
    assert app.app().marker_store.marker("ann", "r1").read_id == second


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
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("plain", None))
    assert writes == []
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("@Bob @ann @cat @bob", None))
    mid = api.frames("b1", "message")[-1]["id"]
    assert api.frames("b1", "message")[-1]["mentions"] == ["Bob", "cat"]
    assert sorted(w[0] for w in writes) == ["bob", "cat"] and {w[2] for w in writes} == {mid}
    assert markers.marker("bob", "r1").mention_id == mid


def test_welcome_carries_the_users_marker(api, chat, clock):  # noqa: F811
    from handler.protocol import Join

    connect(chat, clock, "a1", "ann", "r1")
    chat.connections.join("a1", identity(clock, "ann"), Join(None))
    assert api.frames("a1", "welcome")[-1]["lastRead"] is None
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("hi", None))
    (mid,) = store_ids(chat, "a1")
    read(chat, clock, "a1", "ann", "r1", mid)
    chat.connections.join("a1", identity(clock, "ann"), Join(None))
    assert api.frames("a1", "welcome")[-1]["lastRead"] == mid


def test_rooms_lists_unread_counts_and_only_rooms_the_user_may_read(api, chat, clock):  # noqa: F811
    rooms = app.app().rooms_store
    connect(chat, clock, "a1", "ann", "pub")
    connect(chat, clock, "b1", "bob", "pub")
    rooms.create_room(room="priv", visibility="private", topic="secret", owner="ann", owner_key="ann", now_ms=T0,
                      max_owned=10)
    for text in ("one", "two @bob", "three"):
        chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage(text, None))
        clock.advance(0.01)
    ids = store_ids(chat, "a1")
    read(chat, clock, "b1", "bob", "pub", ids[0])
    # A mention of bob in the private room he is no member of.
    app.app().connection_store.move_connection("a1", "priv")
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("@bob secret", None))
    app.app().room_service(chat).list_rooms("b1", identity(clock, "bob"), None)
    mine = {e["room"]: e for e in api.frames("b1", "rooms")[-1]["mine"]}
    assert set(mine) == {"pub"}
    assert (mine["pub"]["unread"], mine["pub"]["mention"], mine["pub"]["role"]) == (2, True, None)
    app.app().room_service(chat).list_rooms("a1", identity(clock, "ann"), None)
    ann = {e["room"]: e for e in api.frames("a1", "rooms")[-1]["mine"]}
    assert ann["priv"]["unread"] == 1 and ann["priv"]["mention"] is False and "pub" not in ann


def test_the_ids_after_a_marker_are_newest_first_and_bounded(api, chat, clock):  # noqa: F811
    connect(chat, clock, "a1", "ann", "r1")
    for n in range(5):
        chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage(f"m{n}", None))
        clock.advance(0.01)
    ids = store_ids(chat, "a1")
    assert app.app().message_store.newest_after("r1", ids[0], 99) == ids[:0:-1]
    assert app.app().message_store.newest_after("r1", ids[0], 2) == ids[:2:-1]  # looks at no more than it was allowed
    assert app.app().message_store.newest_after("r1", None, 99) == ids[::-1]
    assert app.app().message_store.newest_after("r2", ids[0], 99) == []


def test_unread_counts_every_stored_message_once_and_stop_at_the_cap(api, chat, clock):  # noqa: F811
    connect(chat, clock, "a1", "ann", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    for _ in range(2):
        chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("once", "client-1"))  # a repeat counts nothing
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("twice", None))
    service = app.app().room_service(chat)

    def unread(user, cid):
        service.list_rooms(cid, identity(clock, user), None)
        return {e["room"]: e["unread"] for e in api.frames(cid, "rooms")[-1]["mine"]}

    read(chat, clock, "b1", "bob", "r1", store_ids(chat, "b1")[0])
    assert unread("bob", "b1") == {"r1": 1}
    for n in range(protocol.UNREAD_MAX + 3):
        clock.advance(0.6)  # within the message budget
        chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage(f"m{n}", None))
    assert unread("bob", "b1") == {"r1": protocol.UNREAD_MAX}
    read(chat, clock, "b1", "bob", "r1", store_ids(chat, "b1")[-1])
    assert unread("bob", "b1") == {"r1": 0}


def test_a_room_quiet_since_the_marker_is_not_queried_and_a_busy_one_is(api, chat, clock, monkeypatch):  # noqa: F811
    connect(chat, clock, "a1", "ann", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("hello", None))
    service = app.app().room_service(chat)
    asked = []
    newest_after = app.app().message_store.newest_after
    monkeypatch.setattr(app.app().message_store, "newest_after", lambda *args: (asked.append(args[0]), newest_after(*args))[1])
    clock.advance(300)  # five minutes later bob reads it: nothing can be after his marker
    read(chat, clock, "b1", "bob", "r1", protocol.message_id_at(clock()))
    service.list_rooms("b1", identity(clock, "bob"), None)
    assert api.frames("b1", "rooms")[-1]["mine"][0]["unread"] == 0 and asked == []
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("news", None))
    service.list_rooms("b1", identity(clock, "bob"), None)
    assert api.frames("b1", "rooms")[-1]["mine"][0]["unread"] == 1 and asked == ["r1"]


def test_a_message_after_the_marker_in_an_untouched_minute_is_counted(api, chat, clock):  # noqa: F811
    # Only the first message of a minute touches the room; a later one in that minute, after
    # bob's marker, must still be counted (the room's lastActivityAt is within two minutes).
    connect(chat, clock, "a1", "ann", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    clock.advance(60 - (clock() / 1000) % 60)  # the start of a minute
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("first of the minute", None))
    clock.advance(50)
    read(chat, clock, "b1", "bob", "r1", protocol.message_id_at(clock()))  # read up to now, 50 s on
    clock.advance(5)
    assert not app.app().rooms_store.touch_due("r1", clock())
    chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("same minute, after the marker", None))
    app.app().room_service(chat).list_rooms("b1", identity(clock, "bob"), None)
    assert api.frames("b1", "rooms")[-1]["mine"][0]["unread"] == 1


def test_a_frame_counts_at_most_so_many_rooms_mentions_first_and_a_failed_count_says_null(
        api, chat, clock, monkeypatch):  # noqa: F811
    from handler import read_markers as unread_module

    monkeypatch.setattr(unread_module, "UNREAD_ROOMS_COUNTED", 2)
    connect(chat, clock, "a1", "ann", "r0")
    connect(chat, clock, "b1", "bob", "r0")
    for n in range(3):
        app.app().connection_store.move_connection("a1", f"r{n}")
        app.app().connection_store.move_connection("b1", f"r{n}")
        chat.messaging.send_message("a1", identity(clock, "ann"), SendMessage("@bob look" if n == 0 else "news", None))
        read(chat, clock, "b1", "bob", f"r{n}", protocol.message_id_at(T0 - 1))  # read before anything
        clock.advance(1)
    service = app.app().room_service(chat)
    service.list_rooms("b1", identity(clock, "bob"), None)
    unread = {e["room"]: e["unread"] for e in api.frames("b1", "rooms")[-1]["mine"]}
    # r0 mentions bob: counted first; r2 is the most recently active of the others; r1 is not counted.
    assert unread == {"r0": 1, "r1": None, "r2": 1}
    newest_after = app.app().message_store.newest_after

    def throttled(room, *args):
        if room == "r2":
            raise StorageUnavailable("newest_after: throttled")
        return newest_after(room, *args)

    monkeypatch.setattr(app.app().message_store, "newest_after", throttled)
    service.list_rooms("b1", identity(clock, "bob"), None)
    assert {e["room"]: e["unread"] for e in api.frames("b1", "rooms")[-1]["mine"]} == {"r0": 1, "r1": None, "r2": None}
