"""The WebSocket routes when something fails: members found gone or still connecting, a failed post,
a session or token that ran out, an unknown connection, DynamoDB down, a bug, garbage events; and
frames that render text, never HTML."""

import json
import time

from handler import app, connect, disconnect, messages
from handler.store.messages import MessageStore
from tests.unit.conftest import connection_store, reinstall_app, session_row
from tests.unit.route_calls import connect_user, join, send


def later_clock(monkeypatch, seconds):
    moment = int(time.time() * 1000) + seconds * 1000
    monkeypatch.setattr(app.app(), "clock", lambda: moment)


def test_stale_members_are_removed_on_send(api, monkeypatch):
    connect_user("a1", "alice")
    connect_user("b1", "bob")
    connect_user("c1", "carol")
    api.gone.add("b1")
    api.clear()
    later_clock(monkeypatch, 30)
    send("a1", {"action": "sendmessage", "message": "anyone?"})
    assert connection_store().get_connection("b1") is None
    assert session_row("b1")["reason"] == "gone"
    assert api.frames("c1", "presence")[-1] == {
        "type": "presence", "event": "left", "user": "bob", "room": "general", "online": ["alice", "carol"], "onlineCount": 2
    }


def test_a_connection_still_connecting_is_not_dropped_as_gone(api):
    # Between its row being written and $connect returning, API Gateway answers 410 for a new
    # connection; it must survive that, or its own join finds no row.
    connect_user("a1", "alice")
    connect_user("b1", "bob")
    api.gone.add("b1")
    send("a1", {"action": "sendmessage", "message": "hi"})
    assert connection_store().get_connection("b1") is not None
    api.gone.discard("b1")
    join("b1", username="bob")
    assert api.last("b1")["type"] == "welcome"


def test_failed_post_to_one_member_does_not_stop_the_others(api):
    for cid, name in (("a1", "alice"), ("b1", "bob"), ("c1", "carol")):
        connect_user(cid, name)
    api.broken.add("b1")
    send("a1", {"action": "sendmessage", "message": "hi"})
    assert api.frames("c1", "message")[0]["message"] == "hi"
    assert connection_store().get_connection("b1") is not None  # not gone, just failed once


def test_expired_session_is_refused_and_closed(api, monkeypatch):
    connect_user("g1", "guest-abcd", guest=True, session_limit=60)
    connect_user("b1", "bob")
    api.clear()
    later = int(time.time() * 1000) + 61_000
    monkeypatch.setattr(app.app(), "clock", lambda: later)
    send("g1", {"action": "sendmessage", "message": "still here?"}, username="guest-abcd", guest=True, session_limit=60)
    assert api.frames("g1") == [{"type": "error", "code": "session_expired", "message": "session limit reached", "reason": "session_limit"}]
    assert api.closed == ["g1"]
    assert api.frames("b1", "message") == []
    assert session_row("g1")["reason"] == "session limit reached"
    assert api.frames("b1", "presence")[-1]["event"] == "left"


def test_token_expiry_is_enforced_after_connect(api, monkeypatch):
    connect_user("a1", "alice", expires_in=30)
    later = int(time.time() * 1000) + 31_000
    monkeypatch.setattr(app.app(), "clock", lambda: later)
    send("a1", {"action": "sendmessage", "message": "hi"}, expires_in=30)
    assert api.frames("a1")[-1]["code"] == "session_expired"
    assert api.frames("a1")[-1]["message"] == "token expired"


def test_unknown_connection_gets_not_connected(api):
    send("ghost", {"action": "sendmessage", "message": "hi"})
    assert api.last("ghost")["code"] == "not_connected"


def test_database_failure_is_reported_as_unavailable(api, monkeypatch):
    connect_user("a1")
    monkeypatch.setenv("WSCHAT_DDB_ENDPOINT", "http://127.0.0.1:9")
    reinstall_app(dynamodb=None)  # a real client, to an address where nothing listens
    send("a1", {"action": "sendmessage", "message": "hi"})
    assert api.last("a1") == {"type": "error", "code": "unavailable", "message": "the chat store is unavailable; try again",
                              "action": "sendmessage"}


def test_a_bug_becomes_an_internal_error_frame_not_an_exception(api, monkeypatch):
    connect_user("a1")

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(MessageStore, "append_message", broken)
    assert send("a1", {"action": "sendmessage", "message": "hi"})["statusCode"] == 200
    assert api.last("a1")["code"] == "internal"


def test_handlers_survive_garbage_events(api):
    for handler in (messages.send_message, messages.join, messages.history, messages.heartbeat, messages.default,
                    connect.handler, disconnect.handler):
        for event in (None, {}, "x", {"requestContext": None}, {"requestContext": {"connectionId": "z"}}):
            assert handler(event, None)["statusCode"] in (200, 400, 403)


def test_frames_render_text_not_html(api):
    connect_user("a1")
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    send("a1", {"action": "sendmessage", "message": payload})
    assert api.last("a1")["message"] == payload  # stored and sent verbatim; clients render it as text
    assert json.loads(json.dumps(api.last("a1")))["message"] == payload
