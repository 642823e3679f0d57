"""Housekeeping (handler/chat/housekeeping.py) driven directly: ending a connection from the server
side, the sweep of expired connections, and logout with its second look."""

import pytest

from handler import app, protocol
from handler.protocol import SessionEnd
from tests.unit.chat_support import T0, chat, chat_with, clock, connect, presence  # noqa: F401
from tests.unit.conftest import connection_store, follow_up_store, session_row


# -- ending connections ----------------------------------------------------------------------------


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


def test_the_sweep_keeps_a_connection_renewed_after_the_index_was_read(api, chat, clock, monkeypatch):
    connect(chat, clock, "a1", "alice", expires_in=60)
    stale, follow_ups = follow_up_store().due(T0 // 1000 + 61)
    assert [c.connection_id for c in stale] == ["a1"]
    connection_store().renew_connection("a1", expires_at=T0 // 1000 + 3600, deadline=T0 // 1000 + 3600, jti=None, family=None)
    monkeypatch.setattr(follow_up_store(), "due", lambda now: (stale, follow_ups))  # an index that lags its table
    clock.advance(61)
    assert chat.housekeeping.sweep_expired() == 0 and connection_store().get_connection("a1") is not None


# -- logout ----------------------------------------------------------------------------------------


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
