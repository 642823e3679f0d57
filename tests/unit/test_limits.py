"""Server-side limits and revocation: message rate, login back-off, sign-ups per address, logout, sweep."""

import json
import time

import jwt
import pytest

from authorizer import handler as authorizer
from handler import app, connect, http_auth, messages, sweep
from handler.limits import Budget, LoginPolicy, address_group
from tests.unit.conftest import SECRET, connection_store, load_event, message_store, reinstall_app, session_row, set_clock, through_gateway, ws_event


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


POLICY = LoginPolicy(pair_max_failures=5, address_max_failures=100, window_seconds=900, slowdown_after=10,
                     slowdown_window_seconds=86400, slowdown_base_seconds=1, slowdown_max_seconds=900,
                     known_address_days=30)


def test_the_login_slowdown_starts_past_its_threshold_and_doubles_up_to_its_cap():
    assert [POLICY.delay_seconds(failures) for failures in (0, 9, 10)] == [0, 0, 0]
    assert [POLICY.delay_seconds(failures) for failures in range(11, 22)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]
    assert POLICY.delay_seconds(10**9) == 900  # a huge count is still cheap and capped
    assert POLICY.known_address_seconds == 30 * 86400


@pytest.mark.parametrize("address, group", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::2", "2001:db8:1:2::/64"),  # one subscriber's /64 is one address
    ("::ffff:198.51.100.1", "198.51.100.1"),
    ("unknown", "unknown"),
])
def test_addresses_are_counted_by_ipv4_address_or_ipv6_64(address, group):
    assert address_group(address) == group


def send(cid, text, **kwargs):
    return through_gateway(messages.send_message,
                           ws_event("sendmessage", {"action": "sendmessage", "message": text}, connection_id=cid, **kwargs))


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
                              "retryAfterMs": 1000, "action": "sendmessage"}
    assert [f["message"] for f in api.frames("b1", "message")] == ["m0", "m1", "m2"]
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == ["m0", "m1", "m2"]
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


def test_failed_logins_stop_that_address_for_that_name_only(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_LOGIN_MAX_FAILURES", "3")
    reinstall_app()
    http(http_auth.register, {"username": "victim", "password": "right-password"}, ip="192.0.2.10")
    for _ in range(3):
        assert http(http_auth.login, {"username": "victim", "password": "wrong-password"}, ip="198.51.100.1")[0] == 401
    # That address, for that name: 429 with how long to wait, even with the right password.
    status, body = http(http_auth.login, {"username": "victim", "password": "right-password"}, ip="198.51.100.1")
    assert status == 429 and 0 < body["retryAfterSeconds"] <= 900
    # Anyone else is not held up by it: the owner, and another address.
    assert http(http_auth.login, {"username": "victim", "password": "right-password"}, ip="192.0.2.10")[0] == 200
    assert http(http_auth.login, {"username": "victim", "password": "right-password"}, ip="198.51.100.2")[0] == 200


def test_a_successful_login_gives_its_reservation_back_and_forgives_nothing_else(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_LOGIN_MAX_FAILURES", "3")
    reinstall_app()
    http(http_auth.register, {"username": "forgetful", "password": "right-password"})
    ip = "198.51.100.50"
    for _ in range(2):
        assert http(http_auth.login, {"username": "forgetful", "password": "wrong-one"}, ip=ip)[0] == 401
    for _ in range(3):  # successes cost nothing...
        assert http(http_auth.login, {"username": "forgetful", "password": "right-password"}, ip=ip)[0] == 200
    # ...and do not wipe out the failures: one more is the third, then that address waits.
    assert http(http_auth.login, {"username": "forgetful", "password": "wrong-one"}, ip=ip)[0] == 401
    assert http(http_auth.login, {"username": "forgetful", "password": "right-password"}, ip=ip)[0] == 429


def test_one_address_guessing_many_names_is_stopped_but_not_for_names_that_logged_in_from_it(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_LOGIN_ADDRESS_MAX_FAILURES", "3")
    reinstall_app()
    http(http_auth.register, {"username": "target", "password": "right-password"}, ip="192.0.2.1")
    http(http_auth.register, {"username": "office", "password": "right-password"}, ip="192.0.2.66")
    for n in range(3):
        assert http(http_auth.login, {"username": f"name{n}", "password": "whatever1"}, ip="192.0.2.66")[0] == 401
    status, body = http(http_auth.login, {"username": "target", "password": "right-password"}, ip="192.0.2.66")
    assert status == 429 and "your address" in body["error"]
    # Someone else behind the same address (a NAT) who signed up or logged in from it gets in.
    assert http(http_auth.login, {"username": "office", "password": "right-password"}, ip="192.0.2.66")[0] == 200
    assert http(http_auth.login, {"username": "target", "password": "right-password"}, ip="192.0.2.67")[0] == 200


def test_sign_ups_per_address_are_limited(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_REGISTRATIONS_PER_IP", "2")
    reinstall_app()
    assert http(http_auth.guest, ip="192.0.2.1")[0] == 201
    assert http(http_auth.register, {"username": "second", "password": "password1"}, ip="192.0.2.1")[0] == 201
    status, body = http(http_auth.guest, ip="192.0.2.1")
    assert (status, body["error"]) == (429, "too many new accounts from this address; try again later")
    assert 0 < body["retryAfterSeconds"] <= 3600
    assert http(http_auth.guest, ip="192.0.2.2")[0] == 201


def test_logout_revokes_the_token_and_closes_its_connections(api, monkeypatch):
    monkeypatch.setenv("WSCHAT_MANAGEMENT_ENDPOINT", "https://abc123.execute-api.us-east-1.amazonaws.com/test")
    reinstall_app()
    _, body = http(http_auth.register, {"username": "leaver", "password": "password1"})
    token = body["token"]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="wschat-test")
    connect.handler(ws_event("$connect", connection_id="l1", username="leaver") | {})
    # The authorizer passes the jti and the refresh family; the saved event carries them for this connection.
    event = ws_event("$connect", connection_id="l2", username="leaver")
    event["requestContext"]["authorizer"]["jti"] = claims["jti"]
    event["requestContext"]["authorizer"]["family"] = claims["fam"]
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
    chat_store = connection_store()
    assert session_row("g1")["reason"] == "session limit reached"
    assert session_row("t1")["reason"] == "token expired"
    assert chat_store.get_connection("k1") is not None
    assert sweep.handler() == {"closed": 0}  # nothing twice
