"""The Chat service driven directly (no entry points): moto's DynamoDB behind the store, the fake
@connections API behind the sender, a clock the test moves, all wired by the App."""

import pytest

from handler import app, protocol
from handler.chat import messaging as messaging_module
from handler.chat.message_frames import message_frame
from handler.chat.refusals import ConnectRefused
from handler.entry import CONNECT_STATUS
from handler.errors import SessionExpired, StorageUnavailable
from handler.protocol import ErrorCode, HistoryQuery, Identity, Join, ProtocolError, SendMessage, SessionEnd
from handler.store.connections import ConnectionStore, Member
from tests.unit.conftest import accounts, Clock, connection_store, follow_up_store, heard, message_store, reinstall_app, session_row

T0 = 1_795_000_000_000  # epoch ms; every test's clock starts here


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
    return chat.connections.connect(connection_id=connection_id, identity=identity(clock, username, **claims), room=room,
                        source_ip="203.0.113.7", user_agent="pytest-client/1.0")


def presence(event, user, room, online):
    return {"type": "presence", "event": event, "user": user, "room": room, "online": online, "onlineCount": len(online)}


def say(chat, clock, connection_id, username, text, client_msg_id=None):
    return heard(chat, connection_id, chat.messaging.send_message(connection_id, identity(clock, username),
                                                        SendMessage(text, client_msg_id)))


# -- connect -------------------------------------------------------------------------------------


def test_connect_records_the_connection_and_announces_it_to_the_room_but_not_to_itself(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    conn = connect(chat, clock, "b1", "bob", "r1", guest=True, session_limit=900, jti="jti-b1")
    assert (conn.room, conn.guest, conn.jti, conn.session_ends_at) == ("r1", True, "jti-b1", T0 // 1000 + 900)
    assert connection_store().get_connection("b1") == conn
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
    chat.connections.join("a1", identity(clock, "alice"), Join("r2"))
    welcome = api.last("a1")
    assert (welcome["type"], welcome["room"], welcome["online"]) == ("welcome", "r2", ["alice", "carol"])
    assert [m["message"] for m in welcome["history"]] == ["before alice came"]
    assert api.frames("b1") == [presence("left", "alice", "r1", ["bob"])]
    assert api.frames("c1") == [presence("joined", "alice", "r2", ["alice", "carol"])]
    assert connection_store().get_connection("a1").room == "r2"


def test_join_leaving_another_tab_behind_says_no_left(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    api.clear()
    chat.connections.join("a1", identity(clock, "alice"), Join("r2"))
    assert api.frames("b1") == []


def test_join_into_a_room_holding_another_tab_says_no_joined(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r2")
    connect(chat, clock, "c1", "carol", "r2")
    api.clear()
    chat.connections.join("a1", identity(clock, "alice"), Join("r2"))
    assert api.frames("c1") == []
    assert api.last("a1")["online"] == ["alice", "carol"]


def test_join_without_a_room_only_welcomes(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1", session_limit=60)
    connect(chat, clock, "b1", "bob", "r1")
    api.clear()
    chat.connections.join("a1", identity(clock, "alice", session_limit=60), Join(None))
    assert api.frames("a1") == [{
        "type": "welcome", "user": "alice", "room": "r1", "connectionId": "a1",
        "connectedAt": protocol.iso_utc(T0), "expiresAt": protocol.iso_utc(T0 + 3600_000),
        "sessionEndsAt": protocol.iso_utc(T0 + 60_000), "admin": False, "online": ["alice", "bob"], "onlineCount": 2,
        "lastRead": None,
        "history": [], "hasMore": False,
    }]
    assert api.frames("b1") == []


def test_join_of_an_unknown_connection_is_not_connected(api, chat, clock):
    with pytest.raises(ProtocolError) as raised:
        chat.connections.join("ghost", identity(clock, "alice"), Join("r2"))
    assert raised.value.code is ErrorCode.NOT_CONNECTED
    assert connection_store().get_connection("ghost") is None


def test_presence_is_skipped_in_rooms_above_the_presence_limit(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_MAX_ROOM=2)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    assert api.frames("a1") == [presence("joined", "bob", "general", ["alice", "bob"])]  # 2: not above
    api.clear()
    connect(chat, clock, "c1", "carol")
    chat.connections.join("a1", identity(clock, "alice"), Join(None))
    assert api.frames("b1") == []
    assert api.last("a1")["online"] == ["alice", "bob", "carol"]  # the welcome still says who is there
    chat.departures.disconnect("c1")
    clock.advance(6)  # past the presence grace
    chat.housekeeping.sweep_expired()
    assert api.frames("b1") == [presence("left", "carol", "general", ["alice", "bob"])]


# -- send_message --------------------------------------------------------------------------------


def test_a_message_is_stored_then_posted_to_everyone_in_the_room(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    api.clear()
    say(chat, clock, "a1", "alice", "hello r1", client_msg_id="m-1")
    (stored,), _ = message_store().recent_messages("r1", 10)
    assert api.frames("a1") == [message_frame(stored)] and api.frames("b1") == [message_frame(stored)]
    assert message_frame(stored)["clientMsgId"] == "m-1" and stored.sender == "alice"
    assert api.frames("c1") == []


def test_a_message_that_cannot_be_stored_is_posted_to_no_one(api, chat, clock, monkeypatch):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()

    def unavailable(**_):
        raise StorageUnavailable("append_message: ProvisionedThroughputExceededException")

    monkeypatch.setattr(app.app().message_store, "append_message", unavailable)
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
    client = app.app().connection_store.connections.client
    original = client.batch_write_item
    monkeypatch.setattr(client, "batch_write_item",
                        lambda **request: batches.append(request) or original(**request))
    say(chat, clock, "a1", "alice", "anyone?")
    assert [sorted(r["DeleteRequest"]["Key"]["connectionId"]["S"] for r in request["RequestItems"][table])
            for request in batches for table in request["RequestItems"]] == [["b1", "c1"]]
    assert connection_store().get_connection("b1") is None and connection_store().get_connection("c1") is None
    assert connection_store().get_connection("e1") is not None
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
    stored = [m.message for m in message_store().recent_messages("general", 20)[0]]
    assert stored == ["burst 0", "burst 1", "burst 2", "after half a second"] + [f"second burst {i}" for i in range(3)]
    assert [f["message"] for f in api.frames("a1", "message")] == stored


def test_a_message_after_the_deadline_ends_the_session_instead(api, chat, clock):
    connect(chat, clock, "a1", "alice", expires_in=30)
    connect(chat, clock, "b1", "bob")
    api.clear()
    clock.advance(30)
    with pytest.raises(SessionExpired):
        say(chat, clock, "a1", "alice", "too late")
    assert api.frames("a1") == [protocol.session_end_frame(SessionEnd.TOKEN_EXPIRED)]
    assert api.frames("b1") == [presence("left", "alice", "general", ["bob"])]
    assert message_store().recent_messages("general", 10) == ([], False)


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
        chat.messaging.history("a1", identity(clock, "alice"), HistoryQuery(before=before, after=after, limit=limit))
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
    assert chat.housekeeping.end_connection("a1", reason) is True
    assert api.frames("a1") == [
        {"type": "error", "code": "session_expired", "message": words, "reason": reason.value}
    ]
    assert api.closed == ["a1"]
    assert connection_store().get_connection("a1") is None
    session = session_row("a1")
    assert (session["reason"], session["durationSeconds"]) == (words, 90)
    assert api.frames("b1") == [presence("left", "alice", "general", ["bob"])]
    # Again, then the $disconnect that the close causes: nothing changes.
    assert chat.housekeeping.end_connection("a1", SessionEnd.TOKEN_EXPIRED) is False
    chat.departures.disconnect("a1")
    assert api.closed == ["a1"] and len(api.frames("b1")) == 1
    assert session_row("a1")["reason"] == words


def test_sweep_closes_each_expired_connection_once_with_its_reason(api, chat, clock):
    connect(chat, clock, "g1", "guest-0001", guest=True, session_limit=60)
    connect(chat, clock, "t1", "shorty", expires_in=60)
    connect(chat, clock, "k1", "keeper", expires_in=61)
    api.clear()
    assert chat.housekeeping.sweep_expired() == 0
    clock.advance(60)
    assert chat.housekeeping.sweep_expired() == 2
    assert sorted(api.closed) == ["g1", "t1"]
    assert api.frames("g1", "error") == [protocol.session_end_frame(SessionEnd.SESSION_LIMIT)]
    assert api.frames("t1", "error") == [protocol.session_end_frame(SessionEnd.TOKEN_EXPIRED)]
    assert (session_row("g1")["reason"], session_row("t1")["reason"]) == ("session limit reached", "token expired")
    assert connection_store().get_connection("k1") is not None
    assert chat.housekeeping.sweep_expired() == 0


def test_log_out_closes_only_the_connections_of_the_revoked_token(api, chat, clock):
    connect(chat, clock, "a1", "alice", jti="jti-out")
    connect(chat, clock, "a2", "alice", jti="jti-other")
    connect(chat, clock, "a3", "alice")
    connect(chat, clock, "b1", "bob", jti="jti-bob")
    assert chat.housekeeping.log_out("alice", "jti-out") == 1
    assert api.closed == ["a1"]
    assert api.last("a1") == protocol.session_end_frame(SessionEnd.LOGGED_OUT)
    assert session_row("a1")["reason"] == "logged out"
    assert [cid for cid in ("a2", "a3", "b1") if connection_store().get_connection(cid) is None] == []
    assert chat.housekeeping.log_out("alice", "jti-out") == 0
    assert chat.housekeeping.log_out("bob", "jti-other") == 0  # another user's token id closes nothing


# -- fanout --------------------------------------------------------------------------------------


def test_deliver_batch_posts_to_its_members_and_drops_those_gone(api, chat, clock):
    for cid, name in (("m1", "ann"), ("m2", "ben"), ("m3", "cat"), ("x1", "xavier")):
        connect(chat, clock, cid, name, "big")
    clock.advance(60)
    api.gone.add("m2")
    api.clear()
    frame = {"type": "message", "id": "x"}
    batch = [Member("m1", "ann", T0), Member("m2", "ben", T0), Member("m3", "cat", T0)]
    assert chat.messaging.deliver_batch("big", batch, frame) == 1
    assert api.frames("m1", "message") == [frame] and api.frames("m3", "message") == [frame]
    assert api.frames("x1", "message") == []  # another batch's member
    assert connection_store().get_connection("m2") is None and session_row("m2")["reason"] == "gone"
    assert api.frames("x1", "presence") == [presence("left", "ben", "big", ["ann", "cat", "xavier"])]


# -- abuse: connections --------------------------------------------------------------------------


def refused(call, *args, **kwargs) -> ConnectRefused:
    with pytest.raises(ConnectRefused) as raised:
        call(*args, **kwargs)
    return raised.value


def test_a_connection_beyond_the_users_limit_is_refused_once_the_others_answer(api, chat_with, clock):
    chat = chat_with(WSCHAT_MAX_CONNECTIONS_PER_USER=2)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "a2", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()
    clock.advance(60)
    answer = refused(connect, chat, clock, "a3", "alice")
    assert (CONNECT_STATUS[answer.reason], answer.message) == (429, "too many connections: at most 2 per user; close one and try again")
    assert connection_store().get_connection("a3") is None and session_row("a3") is None
    # Asked whether they are alive with a heartbeat frame, which a client may always receive.
    assert [f["type"] for f in api.frames("a1") + api.frames("a2")] == ["heartbeat", "heartbeat"]
    assert api.frames("b1") == []  # nobody heard of a connection that was refused
    connect(chat, clock, "b2", "bob")  # another user is not affected


def test_connections_gone_without_a_disconnect_are_dropped_and_not_counted(api, chat_with, clock):
    chat = chat_with(WSCHAT_MAX_CONNECTIONS_PER_USER=2)
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r2")
    connect(chat, clock, "w1", "walter", "r1")
    clock.advance(60)
    api.gone.update({"a1", "a2"})
    api.clear()
    connect(chat, clock, "a3", "alice", "r3")
    assert connection_store().get_connection("a1") is None and connection_store().get_connection("a2") is None
    assert (session_row("a1")["reason"], session_row("a2")["reason"]) == ("gone", "gone")
    assert api.frames("w1") == [presence("left", "alice", "r1", ["walter"])]
    assert connection_store().get_connection("a3") is not None


def test_a_gone_answer_from_a_connection_still_connecting_counts_it(api, chat_with, clock):
    chat = chat_with(WSCHAT_MAX_CONNECTIONS_PER_USER=1)
    connect(chat, clock, "a1", "alice")
    clock.advance(3)  # inside the grace period: maybe still inside its own $connect
    api.gone.add("a1")
    assert CONNECT_STATUS[refused(connect, chat, clock, "a2", "alice").reason] == 429
    assert connection_store().get_connection("a1") is not None


def test_a_connect_whose_token_was_revoked_meanwhile_is_refused_after_writing_its_row(api, chat, clock):
    connect(chat, clock, "w1", "walter")
    accounts().revoke_token("jti-out", clock() // 1000 + 3600)  # a logout between the authorizer and here
    api.clear()
    answer = refused(connect, chat, clock, "a1", "alice", jti="jti-out")
    assert (CONNECT_STATUS[answer.reason], answer.message) == (403, "token revoked")
    assert connection_store().get_connection("a1") is None and api.frames("w1") == []
    connect(chat, clock, "a2", "alice", jti="jti-fresh")


def test_logout_looks_again_for_a_connection_the_index_did_not_show_yet(api, chat, clock, monkeypatch):
    connect(chat, clock, "a1", "alice", jti="jti-out")
    shown = app.app().connection_store.user_connections
    monkeypatch.setattr(app.app().connection_store, "user_connections", lambda username: [])  # a GSI a moment behind
    assert chat.housekeeping.log_out("alice", "jti-out") == 0
    monkeypatch.setattr(app.app().connection_store, "user_connections", shown)
    assert chat.housekeeping.sweep_expired() == 0  # not yet due
    clock.advance(5)
    assert chat.housekeeping.sweep_expired() == 1
    assert api.closed == ["a1"] and api.last("a1") == protocol.session_end_frame(SessionEnd.LOGGED_OUT)
    assert session_row("a1")["reason"] == "logged out"
    clock.advance(60)
    assert chat.housekeeping.sweep_expired() == 0 and follow_up_store().due(clock() // 1000) == ([], [])  # done once, then gone


# -- abuse: session limits bound to the token ----------------------------------------------------


def test_every_connection_of_a_token_gets_the_session_deadline_of_its_first(api, chat, clock):
    claims = dict(guest=True, session_limit=60, jti="jti-guest", expires_in=900)
    first = connect(chat, clock, "g1", "guest-0001", **claims)
    clock.advance(30)
    second = connect(chat, clock, "g2", "guest-0001", **claims)  # another tab, or the page reloaded
    assert first.session_ends_at == second.session_ends_at == T0 // 1000 + 60
    for cid in ("g1", "g2"):
        chat.connections.join(cid, identity(clock, "guest-0001", **claims), Join(None))
    assert api.last("g1")["sessionEndsAt"] == api.last("g2")["sessionEndsAt"] == protocol.iso_utc(T0 + 60_000)
    other = connect(chat, clock, "g3", "guest-0002", **{**claims, "jti": "jti-other"})
    assert other.session_ends_at == T0 // 1000 + 30 + 60


def test_a_reconnect_after_the_tokens_session_ended_is_refused(api, chat, clock):
    claims = dict(guest=True, session_limit=60, jti="jti-guest", expires_in=900)
    connect(chat, clock, "g1", "guest-0001", **claims)
    chat.departures.disconnect("g1")
    clock.advance(60)
    answer = refused(connect, chat, clock, "g2", "guest-0001", **claims)
    assert (CONNECT_STATUS[answer.reason], answer.message) == (401, "session limit reached")
    assert connection_store().get_connection("g2") is None


# -- abuse: floods -------------------------------------------------------------------------------


def test_one_message_budget_for_all_of_a_users_connections(api, chat_with, clock):
    chat = chat_with(WSCHAT_MESSAGE_BURST=3, WSCHAT_MESSAGE_RATE=1)
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r2")
    for text in ("one", "two", "three"):
        say(chat, clock, "a1", "alice", text)
    with pytest.raises(ProtocolError) as raised:
        say(chat, clock, "a2", "alice", "from the other tab")
    assert (raised.value.code, raised.value.fields) == (ErrorCode.RATE_LIMITED, {"retryAfterMs": 1000})
    connect(chat, clock, "b1", "bob", "r2")
    say(chat, clock, "b1", "bob", "bob has a budget of his own")


@pytest.mark.parametrize("burst, earlier, stored", [
    (1, False, ["from tab 2"]),
    (2, False, ["from tab 2", "from tab 1"]),
    (2, True, ["earlier", "from tab 2"]),
])
def test_two_tabs_spending_the_last_of_a_budget_at_once_cannot_both_take_it(api, chat_with, clock, monkeypatch,
                                                                             burst, earlier, stored):
    # Tab 1 reads the budget; before its write, tab 2 spends the same budget. Tab 1's transaction
    # then fails on the budget, and it reads again: with room for one message only tab 2's is
    # stored (tab 1 is refused), with room for two both are.
    chat = chat_with(WSCHAT_MESSAGE_BURST=burst, WSCHAT_MESSAGE_RATE=0.01)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "a2", "alice")
    if earlier:
        say(chat, clock, "a1", "alice", "earlier")
    read = ConnectionStore.get_connection_and_limit
    raced = []

    def read_then_race(self, connection_id, key):
        found = read(self, connection_id, key)
        if connection_id == "a1" and not raced:
            raced.append(True)
            say(chat, clock, "a2", "alice", "from tab 2")
        return found

    monkeypatch.setattr(ConnectionStore, "get_connection_and_limit", read_then_race)
    if "from tab 1" not in stored:
        with pytest.raises(ProtocolError) as refused:
            say(chat, clock, "a1", "alice", "from tab 1")
        assert refused.value.code is ErrorCode.RATE_LIMITED
    else:
        say(chat, clock, "a1", "alice", "from tab 1")
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == stored


def test_a_budget_that_keeps_moving_under_a_message_ends_in_rate_limited(api, chat_with, clock, monkeypatch):
    # Other tabs spending the budget between every read and write of this one: after
    # SEND_ATTEMPTS reads it gives up with rate_limited, having stored nothing of its own.
    chat = chat_with(WSCHAT_MESSAGE_BURST=100, WSCHAT_MESSAGE_RATE=1)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "a2", "alice")
    read = ConnectionStore.get_connection_and_limit

    def read_then_race(self, connection_id, key):
        found = read(self, connection_id, key)
        if connection_id == "a1":
            say(chat, clock, "a2", "alice", "from tab 2")
        return found

    monkeypatch.setattr(ConnectionStore, "get_connection_and_limit", read_then_race)
    with pytest.raises(ProtocolError) as refused:
        say(chat, clock, "a1", "alice", "from tab 1")
    assert refused.value.code is ErrorCode.RATE_LIMITED and refused.value.fields["retryAfterMs"] == 1000
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == ["from tab 2"] * messaging_module.SEND_ATTEMPTS


def test_repeats_spend_the_message_budget_too(api, chat_with, clock):
    chat = chat_with(WSCHAT_MESSAGE_BURST=3, WSCHAT_MESSAGE_RATE=0.01)
    connect(chat, clock, "a1", "alice")
    say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")
    for _ in range(2):
        assert say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")["message"] == "once"
    with pytest.raises(ProtocolError) as refused:
        say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")
    assert refused.value.code is ErrorCode.RATE_LIMITED


def test_a_stored_message_reaches_its_sender_even_if_the_room_cannot_be_read(api, chat, clock, monkeypatch):
    # After the write an error would make the client send the text again, as a new message.
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")

    def unreadable(self, room):
        raise StorageUnavailable("room_members: throttled")

    monkeypatch.setattr(ConnectionStore, "room_members", unreadable)
    frame = say(chat, clock, "a1", "alice", "stored")
    assert frame["message"] == "stored" and api.frames("b1", "message") == []
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == ["stored"]


def test_a_refused_message_reads_its_row_and_budget_and_writes_and_sends_nothing(api, chat_with, clock):
    chat = chat_with(WSCHAT_MESSAGE_BURST=1, WSCHAT_MESSAGE_RATE=0.1)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    say(chat, clock, "a1", "alice", "allowed")
    api.clear()
    budget = chat.messaging.budgets.limits.get("test", chat.messaging.budgets.key("message", "alice"), consistent=True)
    reads = app.app().reads.total
    with pytest.raises(ProtocolError) as refused:
        say(chat, clock, "a1", "alice", "refused")
    assert refused.value.code is ErrorCode.RATE_LIMITED and refused.value.fields["retryAfterMs"] == 10_000
    assert app.app().reads.total == reads + 2 and api.posts == {}
    assert chat.messaging.budgets.limits.get("test", chat.messaging.budgets.key("message", "alice"), consistent=True) == budget
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == ["allowed"]


def test_joins_and_history_requests_have_budgets(api, chat_with, clock):
    chat = chat_with(WSCHAT_JOIN_BURST=2, WSCHAT_JOIN_RATE=0.5, WSCHAT_HISTORY_BURST=1, WSCHAT_HISTORY_RATE=1)
    connect(chat, clock, "a1", "alice")
    alice = identity(clock, "alice")
    chat.connections.join("a1", alice, Join("r2"))
    chat.connections.join("a1", alice, Join("r3"))
    reads = app.app().reads.total
    with pytest.raises(ProtocolError) as raised:
        chat.connections.join("a1", alice, Join("r4"))
    assert (raised.value.code, raised.value.message, raised.value.fields) == (
        ErrorCode.RATE_LIMITED, "too many joins: wait 2.0 s", {"retryAfterMs": 2000})
    assert app.app().reads.total == reads and connection_store().get_connection("a1").room == "r3"
    chat.messaging.history("a1", alice, HistoryQuery(before=None, after=None, limit=5))
    with pytest.raises(ProtocolError) as raised:
        chat.messaging.history("a1", alice, HistoryQuery(before=None, after=None, limit=5))
    assert raised.value.message == "too many history requests: wait 1.0 s"
    clock.advance(2)
    chat.connections.join("a1", alice, Join("r4"))
    chat.messaging.history("a1", alice, HistoryQuery(before=None, after=None, limit=5))


# -- abuse: presence -----------------------------------------------------------------------------


def test_presence_over_its_budget_is_held_back_and_settled_by_the_sweep(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_BURST=1, WSCHAT_PRESENCE_RATE=0.2)  # then one every 5 s
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    assert api.frames("a1") == [presence("joined", "bob", "r1", ["alice", "bob"])]
    chat.connections.join("b1", identity(clock, "bob"), Join("r2"))
    assert len(api.frames("a1")) == 1  # bob's `left` is held back
    clock.advance(4)
    chat.housekeeping.sweep_expired()
    assert len(api.frames("a1")) == 1
    clock.advance(1)
    chat.housekeeping.sweep_expired()
    assert api.frames("a1")[1:] == [presence("left", "bob", "r1", ["alice"])]
    clock.advance(60)
    chat.housekeeping.sweep_expired()
    assert len(api.frames("a1")) == 2  # settled once


def test_a_change_undone_before_it_is_settled_sends_nothing(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_BURST=1, WSCHAT_PRESENCE_RATE=0.2)
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    bob = identity(clock, "bob")
    for room in ("r2", "r1", "r2", "r1"):
        chat.connections.join("b1", bob, Join(room))
    clock.advance(60)
    chat.housekeeping.sweep_expired()
    assert api.frames("a1", "presence") == [presence("joined", "bob", "r1", ["alice", "bob"])]
    assert follow_up_store().due(clock() // 1000) == ([], [])


def test_switching_rooms_costs_a_bounded_number_of_presence_frames(api, chat_with, clock):
    chat = chat_with(WSCHAT_JOIN_BURST=100, WSCHAT_PRESENCE_BURST=4, WSCHAT_PRESENCE_RATE=0.2)
    connect(chat, clock, "x1", "xena", "x")
    connect(chat, clock, "y1", "yuri", "y")
    connect(chat, clock, "m1", "mallory", "x")
    mallory = identity(clock, "mallory")
    for n in range(40):
        chat.connections.join("m1", mallory, Join("y" if n % 2 == 0 else "x"))
    # Without the presence budget: 20 frames to each room.
    assert len(api.frames("x1", "presence")) <= 5 and len(api.frames("y1", "presence")) <= 4
    clock.advance(60)
    chat.housekeeping.sweep_expired()
    # Settled: each room's last word on mallory is where she is (she ended in x).
    assert api.frames("x1", "presence")[-1]["online"] == ["mallory", "xena"]
    assert "mallory" not in api.frames("y1", "presence")[-1]["online"]


# -- abuse: repeated sends -----------------------------------------------------------------------


def test_a_repeated_client_msg_id_answers_only_its_sender_with_the_original(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r2")
    connect(chat, clock, "b1", "bob", "r1")
    say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")
    (original,) = api.frames("b1", "message")
    clock.advance(30)
    say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")
    say(chat, clock, "a2", "alice", "once, from another room", client_msg_id="c-1")
    assert api.frames("a1", "message") == [original, original] and api.frames("a2", "message") == [original]
    assert api.frames("b1", "message") == [original]
    assert [m.id for m in message_store().recent_messages("r1", 10)[0]] == [original["id"]]
    assert message_store().recent_messages("r2", 10)[0] == []
    clock.advance(600)
    say(chat, clock, "a1", "alice", "once more, ten minutes later", client_msg_id="c-1")
    assert len(api.frames("b1", "message")) == 2
