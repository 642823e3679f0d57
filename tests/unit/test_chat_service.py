"""The Chat service driven directly (no entry points): moto's DynamoDB behind the store, the fake
@connections API behind the sender, a clock the test moves, all wired by the App."""

import pytest

from handler import app, protocol
from handler.errors import SessionExpired, StorageUnavailable
from handler.protocol import ErrorCode, HistoryQuery, Identity, Join, ProtocolError, SendMessage, SessionEnd
from handler.store.chat import Member
from tests.unit.conftest import reinstall_app, session_row, store

T0 = 1_795_000_000_000  # epoch ms; every test's clock starts here


class Clock:
    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
def clock(api):
    moving = Clock(T0)
    app.app().clock = moving
    return moving


@pytest.fixture
def chat_with(api, clock, monkeypatch):
    """The chat service of an App built with these environment settings."""

    def build(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        instance = reinstall_app()
        instance.clock = clock
        return instance.chat()

    return build


@pytest.fixture
def chat(chat_with):
    return chat_with()


def identity(clock, username, *, expires_in=3600, session_limit=0, jti=None, guest=False) -> Identity:
    return Identity(username=username, guest=guest, expires_at=clock() // 1000 + expires_in,
                    session_limit_seconds=session_limit, jti=jti)


def connect(chat, clock, connection_id, username, room="general", **claims):
    return chat.connect(connection_id=connection_id, identity=identity(clock, username, **claims), room=room,
                        source_ip="203.0.113.7", user_agent="pytest-client/1.0")


def presence(event, user, room, online):
    return {"type": "presence", "event": event, "user": user, "room": room, "online": online, "onlineCount": len(online)}


def say(chat, clock, connection_id, username, text, client_msg_id=None):
    chat.send_message(connection_id, identity(clock, username), SendMessage(text, client_msg_id))


# -- connect -------------------------------------------------------------------------------------


def test_connect_records_the_connection_and_announces_it_to_the_room_but_not_to_itself(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    conn = connect(chat, clock, "b1", "bob", "r1", guest=True, session_limit=900, jti="jti-b1")
    assert (conn.room, conn.guest, conn.jti, conn.session_ends_at) == ("r1", True, "jti-b1", T0 // 1000 + 900)
    assert store().get_connection("b1") == conn
    assert session_row("b1")["sourceIp"] == "203.0.113.7"
    assert api.frames("a1") == [presence("joined", "bob", "r1", ["alice", "bob"])]
    assert api.frames("b1") == []  # it cannot receive before $connect returns; `join` welcomes it
    assert api.frames("c1") == []


def test_a_second_tab_connecting_is_not_announced_as_joined(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()
    connect(chat, clock, "b2", "bob")
    assert api.frames("a1") == []


# -- join ----------------------------------------------------------------------------------------


def test_join_moves_rooms_saying_left_in_the_old_and_joined_in_the_new(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    say(chat, clock, "c1", "carol", "before alice came")
    api.clear()
    chat.join("a1", identity(clock, "alice"), Join("r2"))
    welcome = api.last("a1")
    assert (welcome["type"], welcome["room"], welcome["online"]) == ("welcome", "r2", ["alice", "carol"])
    assert [m["message"] for m in welcome["history"]] == ["before alice came"]
    assert api.frames("b1") == [presence("left", "alice", "r1", ["bob"])]
    assert api.frames("c1") == [presence("joined", "alice", "r2", ["alice", "carol"])]
    assert store().get_connection("a1").room == "r2"


def test_join_leaving_another_tab_behind_says_no_left(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    api.clear()
    chat.join("a1", identity(clock, "alice"), Join("r2"))
    assert api.frames("b1") == []


def test_join_into_a_room_holding_another_tab_says_no_joined(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r2")
    connect(chat, clock, "c1", "carol", "r2")
    api.clear()
    chat.join("a1", identity(clock, "alice"), Join("r2"))
    assert api.frames("c1") == []
    assert api.last("a1")["online"] == ["alice", "carol"]


def test_join_without_a_room_only_welcomes(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1", session_limit=60)
    connect(chat, clock, "b1", "bob", "r1")
    api.clear()
    chat.join("a1", identity(clock, "alice", session_limit=60), Join(None))
    assert api.frames("a1") == [{
        "type": "welcome", "user": "alice", "room": "r1", "connectionId": "a1",
        "connectedAt": protocol.iso_utc(T0), "expiresAt": protocol.iso_utc(T0 + 3600_000),
        "sessionEndsAt": protocol.iso_utc(T0 + 60_000), "online": ["alice", "bob"], "onlineCount": 2,
        "history": [], "hasMore": False,
    }]
    assert api.frames("b1") == []


def test_join_of_an_unknown_connection_is_not_connected(api, chat, clock):
    with pytest.raises(ProtocolError) as raised:
        chat.join("ghost", identity(clock, "alice"), Join("r2"))
    assert raised.value.code is ErrorCode.NOT_CONNECTED
    assert store().get_connection("ghost") is None


def test_presence_is_skipped_in_rooms_above_the_presence_limit(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_MAX_ROOM=2)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    assert api.frames("a1") == [presence("joined", "bob", "general", ["alice", "bob"])]  # 2: not above
    api.clear()
    connect(chat, clock, "c1", "carol")
    chat.join("a1", identity(clock, "alice"), Join(None))
    assert api.frames("b1") == []
    assert api.last("a1")["online"] == ["alice", "bob", "carol"]  # the welcome still says who is there
    chat.disconnect("c1")
    assert api.frames("b1") == [presence("left", "carol", "general", ["alice", "bob"])]


# -- send_message --------------------------------------------------------------------------------


def test_a_message_is_stored_then_posted_to_everyone_in_the_room(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    api.clear()
    say(chat, clock, "a1", "alice", "hello r1", client_msg_id="m-1")
    (stored,), _ = store().recent_messages("r1", 10)
    assert api.frames("a1") == [stored.frame()] and api.frames("b1") == [stored.frame()]
    assert stored.frame()["clientMsgId"] == "m-1" and stored.sender == "alice"
    assert api.frames("c1") == []


def test_a_message_that_cannot_be_stored_is_posted_to_no_one(api, chat, clock, monkeypatch):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()

    def unavailable(**_):
        raise StorageUnavailable("append_message: ProvisionedThroughputExceededException")

    monkeypatch.setattr(chat.store, "append_message", unavailable)
    with pytest.raises(StorageUnavailable):
        say(chat, clock, "a1", "alice", "lost")
    assert api.posts == {}


def test_gone_members_past_the_grace_period_are_dropped_in_one_batch_and_announced(api, chat, clock, monkeypatch):
    for cid, name in (("a1", "alice"), ("b1", "bob"), ("c1", "carol"), ("d1", "dave")):
        connect(chat, clock, cid, name)
    clock.advance(25)
    connect(chat, clock, "e1", "erin")  # connected 5 s before the send: maybe still inside its $connect
    clock.advance(5)
    api.gone.update({"b1", "c1", "e1"})
    api.clear()
    batches = []
    client = chat.store.connections.client
    original = client.batch_write_item
    monkeypatch.setattr(client, "batch_write_item",
                        lambda **request: batches.append(request) or original(**request))
    say(chat, clock, "a1", "alice", "anyone?")
    assert [sorted(r["DeleteRequest"]["Key"]["connectionId"]["S"] for r in request["RequestItems"][table])
            for request in batches for table in request["RequestItems"]] == [["b1", "c1"]]
    assert store().get_connection("b1") is None and store().get_connection("c1") is None
    assert store().get_connection("e1") is not None
    assert (session_row("b1")["reason"], session_row("c1")["reason"]) == ("gone", "gone")
    assert "disconnectedAt" not in session_row("e1")
    assert api.frames("d1", "presence") == [
        presence("left", "bob", "general", ["alice", "dave", "erin"]),
        presence("left", "carol", "general", ["alice", "dave", "erin"]),
    ]


def test_messages_over_the_burst_wait_for_the_rate(api, chat_with, clock):
    chat = chat_with(WSCHAT_MESSAGE_BURST=3, WSCHAT_MESSAGE_RATE=2)
    connect(chat, clock, "a1", "alice")

    def refused_with():
        with pytest.raises(ProtocolError) as raised:
            say(chat, clock, "a1", "alice", "one too many")
        assert raised.value.code is ErrorCode.RATE_LIMITED
        return raised.value.message

    for i in range(3):
        say(chat, clock, "a1", "alice", f"burst {i}")
    assert refused_with() == "too many messages: wait 0.5 s"
    clock.advance(0.25)
    assert refused_with() == "too many messages: wait 0.5 s"  # a quarter of a second left, shown as half
    clock.advance(0.25)
    say(chat, clock, "a1", "alice", "after half a second")
    assert refused_with()
    clock.advance(60)
    for i in range(3):
        say(chat, clock, "a1", "alice", f"second burst {i}")  # an idle minute refills only up to the burst
    assert refused_with()
    stored = [m.message for m in store().recent_messages("general", 20)[0]]
    assert stored == ["burst 0", "burst 1", "burst 2", "after half a second"] + [f"second burst {i}" for i in range(3)]
    assert [f["message"] for f in api.frames("a1", "message")] == stored


def test_a_message_racing_another_on_the_same_bucket_is_refused(api, chat, clock, monkeypatch):
    connect(chat, clock, "a1", "alice")
    seen_before = store().get_connection("a1")
    say(chat, clock, "a1", "alice", "first")
    # A second invocation that read the row before the first one spent from it.
    monkeypatch.setattr(chat.store, "get_connection", lambda connection_id: seen_before)
    with pytest.raises(ProtocolError) as raised:
        say(chat, clock, "a1", "alice", "second, at the same time")
    assert raised.value.code is ErrorCode.RATE_LIMITED
    assert [m.message for m in store().recent_messages("general", 10)[0]] == ["first"]


def test_a_message_after_the_deadline_ends_the_session_instead(api, chat, clock):
    connect(chat, clock, "a1", "alice", expires_in=30)
    connect(chat, clock, "b1", "bob")
    api.clear()
    clock.advance(30)
    with pytest.raises(SessionExpired):
        say(chat, clock, "a1", "alice", "too late")
    assert api.frames("a1") == [protocol.session_end_frame(SessionEnd.TOKEN_EXPIRED)]
    assert api.frames("b1") == [presence("left", "alice", "general", ["bob"])]
    assert store().recent_messages("general", 10) == ([], False)


# -- history -------------------------------------------------------------------------------------


def test_history_pages_the_connections_room(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    for i in range(5):
        clock.advance(1)
        say(chat, clock, "a1", "alice", f"m{i}")
    say(chat, clock, "c1", "carol", "elsewhere")
    ids = [frame["id"] for frame in api.frames("a1", "message")]

    def history(before=None, after=None, limit=50):
        chat.history("a1", HistoryQuery(before=before, after=after, limit=limit))
        frame = api.last("a1")
        assert (frame["type"], frame["room"]) == ("history", "r1")
        return [m["message"] for m in frame["messages"]], frame["hasMore"]

    assert history(limit=2) == (["m3", "m4"], True)
    assert history(before=ids[2], limit=5) == (["m0", "m1"], False)
    assert history(after=ids[1], limit=2) == (["m2", "m3"], True)
    assert history(after=protocol.message_id_at(T0 + 4000)) == (["m3", "m4"], False)


# -- ending connections --------------------------------------------------------------------------


@pytest.mark.parametrize("reason, words", [
    (SessionEnd.TOKEN_EXPIRED, "token expired"),
    (SessionEnd.SESSION_LIMIT, "session limit reached"),
    (SessionEnd.LOGGED_OUT, "logged out"),
])
def test_end_connection_says_why_records_it_closes_and_tells_the_room_once(api, chat, clock, reason, words):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()
    clock.advance(90)
    assert chat.end_connection("a1", reason) is True
    assert api.frames("a1") == [
        {"type": "error", "code": "session_expired", "message": words, "reason": reason.value}
    ]
    assert api.closed == ["a1"]
    assert store().get_connection("a1") is None
    session = session_row("a1")
    assert (session["reason"], session["durationSeconds"]) == (words, 90)
    assert api.frames("b1") == [presence("left", "alice", "general", ["bob"])]
    # Again, then the $disconnect that the close causes: nothing changes.
    assert chat.end_connection("a1", SessionEnd.TOKEN_EXPIRED) is False
    chat.disconnect("a1")
    assert api.closed == ["a1"] and len(api.frames("b1")) == 1
    assert session_row("a1")["reason"] == words


def test_sweep_closes_each_expired_connection_once_with_its_reason(api, chat, clock):
    connect(chat, clock, "g1", "guest-0001", guest=True, session_limit=60)
    connect(chat, clock, "t1", "shorty", expires_in=60)
    connect(chat, clock, "k1", "keeper", expires_in=61)
    api.clear()
    assert chat.sweep_expired() == 0
    clock.advance(60)
    assert chat.sweep_expired() == 2
    assert sorted(api.closed) == ["g1", "t1"]
    assert api.frames("g1", "error") == [protocol.session_end_frame(SessionEnd.SESSION_LIMIT)]
    assert api.frames("t1", "error") == [protocol.session_end_frame(SessionEnd.TOKEN_EXPIRED)]
    assert (session_row("g1")["reason"], session_row("t1")["reason"]) == ("session limit reached", "token expired")
    assert store().get_connection("k1") is not None
    assert chat.sweep_expired() == 0


def test_log_out_closes_only_the_connections_of_the_revoked_token(api, chat, clock):
    connect(chat, clock, "a1", "alice", jti="jti-out")
    connect(chat, clock, "a2", "alice", jti="jti-other")
    connect(chat, clock, "a3", "alice")
    connect(chat, clock, "b1", "bob", jti="jti-bob")
    assert chat.log_out("alice", "jti-out") == 1
    assert api.closed == ["a1"]
    assert api.last("a1") == protocol.session_end_frame(SessionEnd.LOGGED_OUT)
    assert session_row("a1")["reason"] == "logged out"
    assert [cid for cid in ("a2", "a3", "b1") if store().get_connection(cid) is None] == []
    assert chat.log_out("alice", "jti-out") == 0
    assert chat.log_out("bob", "jti-other") == 0  # another user's token id closes nothing


# -- fanout --------------------------------------------------------------------------------------


def test_deliver_batch_posts_to_its_members_and_drops_those_gone(api, chat, clock):
    for cid, name in (("m1", "ann"), ("m2", "ben"), ("m3", "cat"), ("x1", "xavier")):
        connect(chat, clock, cid, name, "big")
    clock.advance(60)
    api.gone.add("m2")
    api.clear()
    frame = {"type": "message", "id": "x"}
    batch = [Member("m1", "ann", T0), Member("m2", "ben", T0), Member("m3", "cat", T0)]
    assert chat.deliver_batch("big", batch, frame) == 1
    assert api.frames("m1", "message") == [frame] and api.frames("m3", "message") == [frame]
    assert api.frames("x1", "message") == []  # another batch's member
    assert store().get_connection("m2") is None and session_row("m2")["reason"] == "gone"
    assert api.frames("x1", "presence") == [presence("left", "ben", "big", ["ann", "cat", "xavier"])]
