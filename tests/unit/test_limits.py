"""Server-side limits and revocation: message rate, login back-off, sign-ups per address, logout, sweep."""

import json
import time

import jwt
import pytest

from authorizer import handler as authorizer
from handler import app, connect, http_auth, messages, sweep
from handler.limits import Budget, LoginLimit
from tests.unit.conftest import SECRET, load_event, ws_event, reinstall_app, session_row, set_clock, store


def test_budget_allows_a_burst_then_a_steady_rate():
    budget = Budget(burst=3, rate=1)
    tat = None
    for _ in range(3):
        tat = budget.spend(tat, 1000)
        assert tat is not None
    assert tat == 4000 and budget.spend(tat, 1000) is None  # burst spent
    assert budget.retry_after_ms(tat, 1000) == 1000
    assert budget.spend(tat, 1500) is None and budget.retry_after_ms(tat, 1500) == 500  # half an interval back
    assert budget.spend(tat, 2000) == 5000  # one second: one more
    assert budget.spend(tat, 10_000_000) == 10_001_000  # an idle subject starts full again, never fuller


def test_a_budget_of_one_allows_one_per_interval():
    budget = Budget(burst=1, rate=0.5)
    tat = budget.spend(None, 0)
    assert (tat, budget.spend(tat, 1999), budget.spend(tat, 2000)) == (2000, None, 4000)


def test_login_limit():
    assert not LoginLimit(5, 900).locked(4) and LoginLimit(5, 900).locked(5)


def send(cid, text, **kwargs):
    return messages.send_message(ws_event("sendmessage", {"action": "sendmessage", "message": text}, connection_id=cid, **kwargs))


def test_messages_over_the_rate_are_refused_and_not_broadcast(api, monkeypatch):
    monkeypatch.setenv("WSCHAT_MESSAGE_BURST", "3")
    monkeypatch.setenv("WSCHAT_MESSAGE_RATE", "1")
    reinstall_app()
    connect.handler(ws_event("$connect", connection_id="a1", username="alice"))
    connect.handler(ws_event("$connect", connection_id="b1", username="bob"))
    now = [int(time.time() * 1000)]
    monkeypatch.setattr(app.app(), "clock", lambda: now[0])
    for n in range(3):
        send("a1", f"m{n}")
    send("a1", "one too many")
    assert api.last("a1") == {"type": "error", "code": "rate_limited", "message": "too many messages: wait 1.0 s",
                              "retryAfterMs": 1000}
    assert [f["message"] for f in api.frames("b1", "message")] == ["m0", "m1", "m2"]
    assert [m.message for m in store().recent_messages("general", 10)[0]] == ["m0", "m1", "m2"]
    now[0] += 1000
    send("a1", "after a second")
    assert api.frames("b1", "message")[-1]["message"] == "after a second"


def http(function, body=None, ip="203.0.113.7", headers=None):
    event = load_event("http_login")
    event["body"] = json.dumps(body) if body is not None else None
    event["requestContext"]["http"]["sourceIp"] = ip
    event["headers"] = headers or {}
    response = function(event, None)
    return response["statusCode"], json.loads(response["body"])


def test_failed_logins_lock_the_name_with_the_same_answer(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_LOGIN_MAX_FAILURES", "3")
    reinstall_app()
    http(http_auth.register, {"username": "victim", "password": "right-password"})
    for _ in range(3):
        assert http(http_auth.login, {"username": "victim", "password": "wrong-password"}, ip="198.51.100.1")[0] == 401
    # Locked: even the right password gets the wrong-password answer, from any address.
    assert http(http_auth.login, {"username": "victim", "password": "right-password"}, ip="198.51.100.2") == (
        401, {"error": "invalid username or password"})


def test_a_successful_login_clears_the_name_counter(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_LOGIN_MAX_FAILURES", "3")
    reinstall_app()
    http(http_auth.register, {"username": "forgetful", "password": "right-password"})
    for attempt in range(2):
        http(http_auth.login, {"username": "forgetful", "password": "wrong-one"}, ip=f"198.51.100.{attempt + 10}")
    assert http(http_auth.login, {"username": "forgetful", "password": "right-password"}, ip="198.51.100.99")[0] == 200
    # The two failures before the success no longer count: two more do not lock, a third does.
    for attempt in range(2):
        http(http_auth.login, {"username": "forgetful", "password": "wrong-one"}, ip=f"198.51.100.{attempt + 20}")
    assert http(http_auth.login, {"username": "forgetful", "password": "right-password"}, ip="198.51.100.98")[0] == 200
    for attempt in range(3):
        http(http_auth.login, {"username": "forgetful", "password": "wrong-one"}, ip=f"198.51.100.{attempt + 30}")
    assert http(http_auth.login, {"username": "forgetful", "password": "right-password"}, ip="198.51.100.97")[0] == 401


def test_one_address_guessing_many_names_is_locked_too(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_LOGIN_MAX_FAILURES", "3")
    reinstall_app()
    http(http_auth.register, {"username": "target", "password": "right-password"})
    for n in range(3):
        http(http_auth.login, {"username": f"name{n}", "password": "whatever1"}, ip="192.0.2.66")
    assert http(http_auth.login, {"username": "target", "password": "right-password"}, ip="192.0.2.66")[0] == 401
    assert http(http_auth.login, {"username": "target", "password": "right-password"}, ip="192.0.2.67")[0] == 200


def test_sign_ups_per_address_are_limited(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_REGISTRATIONS_PER_IP", "2")
    reinstall_app()
    assert http(http_auth.guest, ip="192.0.2.1")[0] == 201
    assert http(http_auth.register, {"username": "second", "password": "password1"}, ip="192.0.2.1")[0] == 201
    assert http(http_auth.guest, ip="192.0.2.1") == (429, {"error": "too many new accounts from this address; try again later"})
    assert http(http_auth.guest, ip="192.0.2.2")[0] == 201


def test_logout_revokes_the_token_and_closes_its_connections(api, monkeypatch):
    monkeypatch.setenv("WSCHAT_MANAGEMENT_ENDPOINT", "https://abc123.execute-api.us-east-1.amazonaws.com/test")
    reinstall_app()
    _, body = http(http_auth.register, {"username": "leaver", "password": "password1"})
    token = body["token"]
    jti = jwt.decode(token, SECRET, algorithms=["HS256"], audience="wschat-test")["jti"]
    connect.handler(ws_event("$connect", connection_id="l1", username="leaver") | {})
    # The authorizer passes the jti; the saved event carries it for this connection.
    event = ws_event("$connect", connection_id="l2", username="leaver")
    event["requestContext"]["authorizer"]["jti"] = jti
    connect.handler(event)
    status, answer = http(http_auth.logout, headers={"Authorization": f"Bearer {token}"})
    assert (status, answer) == (200, {"loggedOut": True, "closed": 1})
    assert api.closed == ["l2"]  # only the connection of the revoked token
    assert api.frames("l2")[-1] == {"type": "error", "code": "session_expired", "message": "logged out", "reason": "logged_out"}
    assert session_row("l2")["reason"] == "logged out"
    denied = load_event("authorizer")
    denied["queryStringParameters"] = {"token": f"Bearer {token}"}
    assert authorizer.handler(denied)["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "x" * 5000}])
def test_logout_with_a_bad_token_is_401(dynamodb, headers):
    assert http(http_auth.logout, headers=headers)[0] == 401


def test_sweep_closes_expired_connections_with_the_reason(api, monkeypatch):
    monkeypatch.setenv("WSCHAT_MANAGEMENT_ENDPOINT", "https://abc123.execute-api.us-east-1.amazonaws.com/test")
    reinstall_app()
    connect.handler(ws_event("$connect", connection_id="g1", username="guest-0001", guest=True, session_limit=60))
    connect.handler(ws_event("$connect", connection_id="t1", username="shorty", expires_in=30))
    connect.handler(ws_event("$connect", connection_id="k1", username="keeper"))
    assert sweep.handler() == {"closed": 0}
    later = int(time.time() * 1000) + 61_000
    monkeypatch.setattr(app.app(), "clock", lambda: later)
    assert sweep.handler() == {"closed": 2}
    assert sorted(api.closed) == ["g1", "t1"]
    chat_store = store()
    assert session_row("g1")["reason"] == "session limit reached"
    assert session_row("t1")["reason"] == "token expired"
    assert chat_store.get_connection("k1") is not None
    assert sweep.handler() == {"closed": 0}  # nothing twice
