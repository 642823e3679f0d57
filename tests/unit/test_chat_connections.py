"""Connections (handler/chat/connections.py) driven directly: $connect (the row, the session, the
room told; refusals: a private room, a revoked token, one connection too many, a session over) and
join (the welcome, moving rooms, its budget)."""

import pytest

from handler import app, protocol
from handler.chat.refusals import ConnectRefused
from handler.entry import CONNECT_STATUS
from handler.protocol import ErrorCode, HistoryQuery, Join, ProtocolError
from tests.unit.chat_support import T0, chat, chat_with, clock, connect, identity, presence, say  # noqa: F401
from tests.unit.conftest import accounts, connection_store, session_row


# -- connect ---------------------------------------------------------------------------------------


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


# -- join ------------------------------------------------------------------------------------------


def test_join_moves_rooms_without_a_joined_or_left_in_either(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    say(chat, clock, "c1", "carol", "before alice came")
    api.clear()
    chat.connections.join("a1", identity(clock, "alice"), Join("r2"))
    welcome = api.last("a1")
    assert (welcome["type"], welcome["room"], welcome["online"]) == ("welcome", "r2", ["alice", "carol"])
    assert [m["message"] for m in welcome["history"]] == ["before alice came"]
    # A switch changes nobody's presence (the team's): neither room hears of it.
    assert api.frames("b1") == [] and api.frames("c1") == []
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
        "lastRead": None, "mutedUntil": None,
        "history": [], "hasMore": False,
    }]
    assert api.frames("b1") == []


def test_join_of_an_unknown_connection_is_not_connected(api, chat, clock):
    with pytest.raises(ProtocolError) as raised:
        chat.connections.join("ghost", identity(clock, "alice"), Join("r2"))
    assert raised.value.code is ErrorCode.NOT_CONNECTED
    assert connection_store().get_connection("ghost") is None


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


# -- abuse: connections ----------------------------------------------------------------------------


def refused_connect(call, *args, **kwargs) -> ConnectRefused:
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
    answer = refused_connect(connect, chat, clock, "a3", "alice")
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
    assert CONNECT_STATUS[refused_connect(connect, chat, clock, "a2", "alice").reason] == 429
    assert connection_store().get_connection("a1") is not None


def test_a_connect_whose_token_was_revoked_meanwhile_is_refused_after_writing_its_row(api, chat, clock):
    connect(chat, clock, "w1", "walter")
    accounts().revoke_token("jti-out", clock() // 1000 + 3600)  # a logout between the authorizer and here
    api.clear()
    answer = refused_connect(connect, chat, clock, "a1", "alice", jti="jti-out")
    assert (CONNECT_STATUS[answer.reason], answer.message) == (403, "token revoked")
    assert connection_store().get_connection("a1") is None and api.frames("w1") == []
    connect(chat, clock, "a2", "alice", jti="jti-fresh")


# -- abuse: session limits bound to the token ------------------------------------------------------


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
    answer = refused_connect(connect, chat, clock, "g2", "guest-0001", **claims)
    assert (CONNECT_STATUS[answer.reason], answer.message) == (401, "session limit reached")
    assert connection_store().get_connection("g2") is None
