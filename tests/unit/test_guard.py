"""The one guard and the kinds of entry point: what each failure writes in the summary line and
what the caller is answered; that nothing escapes; that no line holds a secret or a message."""

import json

import pytest

from authorizer import handler as authorizer
from handler import connect, http_auth, messages
from handler.auth.tokens import TokenExpired, TokenInvalid
from handler.entry import BackgroundFailed, authorizer_entry, background, connect_route, disconnect_route, http_route, websocket_route
from handler.errors import ConnectionGone, SendFailed, SessionExpired, StorageUnavailable
from handler.guard import Refused, guard
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.settings import ConfigError
from handler.store.messages import MessageStore
from tests.unit.conftest import connection_store, load_event, reinstall_app, session_row, set_clock, ws_event

METHOD_ARN = load_event("authorizer")["methodArn"]


def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def raising(exc):
    def work(*_):
        raise exc

    return work


class Bug(Exception):
    """What a mistake in the code raises: nothing the guard knows."""


# -- the summary line ----------------------------------------------------------------------------


@pytest.mark.parametrize("exc, outcome, level, fields", [
    (ProtocolError(ErrorCode.RATE_LIMITED, "too many messages: wait 1.0 s"), "refused", "INFO",
     {"code": "rate_limited"}),
    (Refused(429, "too many new accounts from this address; try again later", locked=True), "refused", "INFO",
     {"status": 429, "error": "too many new accounts from this address; try again later", "locked": True}),
    (TokenExpired("ExpiredSignatureError"), "deny", "INFO", {"reason": "ExpiredSignatureError"}),
    (SessionExpired(), "session expired", "INFO", {}),
    (ConnectionGone("c-gone"), "sender gone", "INFO", {}),
    (StorageUnavailable("put_message: ThrottlingException"), "storage unavailable", "WARNING",
     {"error": "put_message: ThrottlingException"}),
    (SendFailed("post_to_connection: HTTP 500"), "send failed", "WARNING", {"error": "post_to_connection: HTTP 500"}),
    (ConfigError("WSCHAT_FANOUT_BATCH_SIZE must be an integer, got 'x'"), "misconfigured", "ERROR",
     {"error": "WSCHAT_FANOUT_BATCH_SIZE must be an integer, got 'x'"}),
    (Bug("boom"), "internal error", "ERROR", {}),
])
def test_each_failure_is_one_summary_line_and_the_entry_points_answer(capsys, exc, outcome, level, fields):
    seen = []
    entry = guard("test-route", open_event=lambda raw: raw, bind=lambda event: {"requestId": event["id"]},
                  on_failure=lambda event, failure: seen.append((event, failure)) or "the answer",
                  fallback="the fallback")(raising(exc))
    assert entry({"id": "req-1"}) == "the answer"
    assert seen == [({"id": "req-1"}, exc)]
    *before, summary = log_lines(capsys)
    assert (summary["message"], summary["level"], summary["route"], summary["requestId"]) == (
        outcome, level, "test-route", "req-1")
    assert {key: summary[key] for key in fields} == fields and "latencyMs" in summary
    assert "exception" not in summary
    if isinstance(exc, Bug):
        (traceback_line,) = before
        assert (traceback_line["message"], traceback_line["level"]) == ("unhandled error", "ERROR")
        assert "Traceback" in traceback_line["exception"] and "Bug: boom" in traceback_line["exception"]
    else:
        assert before == []  # an expected failure needs no traceback, a misconfiguration names itself


def test_success_is_one_ok_line_with_the_bound_keys(capsys):
    entry = guard("test-route", open_event=lambda raw: raw, bind=lambda event: {"connectionId": event["cid"]},
                  on_failure=lambda event, exc: pytest.fail("no failure"), fallback=None)(lambda event: {"done": 1})
    assert entry({"cid": "c-ok"}) == {"done": 1}
    (line,) = log_lines(capsys)
    assert (line["message"], line["level"], line["route"], line["connectionId"]) == ("ok", "INFO", "test-route", "c-ok")


def test_a_failure_while_answering_a_failure_still_returns_the_fallback(capsys):
    entry = guard("test-route", open_event=lambda raw: raw, on_failure=raising(Bug("answering broke")),
                  fallback={"statusCode": 200})(raising(StorageUnavailable("get_connection: ThrottlingException")))
    assert entry({}) == {"statusCode": 200}
    summary, failure = log_lines(capsys)
    assert summary["message"] == "storage unavailable"
    assert (failure["message"], failure["level"]) == ("failure handling failed", "ERROR")
    assert "answering broke" in failure["exception"]


def test_an_event_that_cannot_be_opened_is_answered_without_one():
    seen = []
    entry = guard("test-route", open_event=raising(ValueError("not an event")),
                  on_failure=lambda event, exc: seen.append(event) or "answered", fallback="fallback")(
        lambda event: pytest.fail("the work ran"))
    assert entry("garbage") == "answered" and seen == [None]


# -- WebSocket routes: an error frame, or nothing ------------------------------------------------


@pytest.mark.parametrize("exc, frames", [
    (ProtocolError(ErrorCode.TOO_LARGE, "message is longer than 2000 characters"),
     [{"type": "error", "code": "too_large", "message": "message is longer than 2000 characters",
       "action": "sendmessage"}]),
    (StorageUnavailable("append_message: ThrottlingException"),
     [{"type": "error", "code": "unavailable", "message": "the chat store is unavailable; try again",
       "action": "sendmessage"}]),
    (SendFailed("post_to_connection: HTTP 500"),
     [{"type": "error", "code": "internal", "message": "internal error", "action": "sendmessage"}]),
    (Bug("boom"), [{"type": "error", "code": "internal", "message": "internal error", "action": "sendmessage"}]),
    (SessionExpired(), []),  # told why and closed already
])
def test_a_websocket_route_answers_a_failure_with_an_error_frame(api, exc, frames):
    route = websocket_route("sendmessage", raising(exc))
    assert route(ws_event("sendmessage", {"action": "sendmessage", "message": "hi"}, connection_id="w1")) == {
        "statusCode": 200}
    assert api.frames("w1") == frames


@pytest.mark.parametrize("route_key, body, action", [
    ("join", {"action": "join", "room": "garden"}, "join"),
    # $default: the frame's own action, if the server knows it; an unknown one is not echoed back.
    ("$default", {"action": "history"}, "history"),
    ("$default", {"action": "<img src=x>"}, None),
    ("$default", "not json", None),
])
def test_an_error_frame_names_the_action_it_answers(api, route_key, body, action):
    """A client with a join, a read marker and a room action out at once tells their refusals apart."""
    route = websocket_route(route_key, raising(ProtocolError(ErrorCode.FORBIDDEN, "no")))
    route(ws_event(route_key, body, connection_id="w1"))
    [frame] = api.frames("w1")
    assert frame.get("action") == action and frame["code"] == "forbidden"


def test_a_websocket_route_whose_sender_left_forgets_the_connection(api):
    connect.handler(ws_event("$connect", connection_id="w-left", username="leaver"))
    set_clock(int(session_row("w-left")["connectedAtEpoch"]) * 1000 + 60_000)
    route = websocket_route("sendmessage", raising(ConnectionGone("w-left")))
    assert route(ws_event("sendmessage", {"action": "sendmessage", "message": "hi"}, connection_id="w-left")) == {
        "statusCode": 200}
    assert api.frames("w-left") == []
    assert connection_store().get_connection("w-left") is None and session_row("w-left")["reason"] == "gone"


def test_a_websocket_route_without_an_authorized_connection_is_403_and_runs_nothing(api):
    route = websocket_route("sendmessage", lambda *args: pytest.fail("the work ran"))
    assert route(ws_event("sendmessage", {"action": "sendmessage", "message": "hi"}, authorized=False)) == {
        "statusCode": 403}
    assert route({"requestContext": {"routeKey": "sendmessage"}}) == {"statusCode": 403}
    assert api.posts == {}


def test_a_websocket_route_with_nowhere_to_post_returns_the_fallback(api, monkeypatch, capsys):
    monkeypatch.delenv("WSCHAT_WS_API_URL")
    reinstall_app()
    event = ws_event("sendmessage", {"action": "sendmessage", "message": "hi"}, connection_id="w1")
    del event["requestContext"]["apiId"]  # no endpoint from the event, none configured
    assert messages.send_message(event) == {"statusCode": 200}
    summary, failure = log_lines(capsys)
    assert (summary["message"], summary["error"]) == (
        "misconfigured", "no management endpoint: set WSCHAT_WS_API_URL or WSCHAT_MANAGEMENT_ENDPOINT")
    assert failure["message"] == "failure handling failed"


# -- $connect and $disconnect: a status, or nothing ----------------------------------------------


@pytest.mark.parametrize("exc, answer", [
    (Refused(401, "token expired"), {"statusCode": 401, "body": "token expired"}),
    (ProtocolError(ErrorCode.INVALID_ROOM, "room names are 1-64 characters of A-Z a-z 0-9 _ -"),
     {"statusCode": 400, "body": "room names are 1-64 characters of A-Z a-z 0-9 _ -"}),
    (StorageUnavailable("put_connection: ThrottlingException"), {"statusCode": 503, "body": "unavailable"}),
    (ConfigError("WSCHAT_MESSAGE_RATE must be a number, got 'x'"), {"statusCode": 500, "body": "internal error"}),
    (Bug("boom"), {"statusCode": 500, "body": "internal error"}),
])
def test_connect_answers_a_failure_with_the_status_the_upgrade_is_refused_with(api, exc, answer):
    assert connect_route(raising(exc))(ws_event("$connect", connection_id="w1")) == answer


@pytest.mark.parametrize("exc", [StorageUnavailable("delete_connection: x"), Bug("boom"), ConfigError("x")])
def test_disconnect_answers_200_whatever_failed(api, exc):
    assert disconnect_route(raising(exc))(ws_event("$disconnect", connection_id="w1")) == {"statusCode": 200}


# -- HTTP routes: a status and a JSON error --------------------------------------------------------


@pytest.mark.parametrize("exc, status, error", [
    (Refused(409, "that username is taken"), 409, "that username is taken"),
    (StorageUnavailable("create_user: ThrottlingException"), 503, "service unavailable; try again"),
    (ConfigError("cannot read the JWT secret parameter /wschat/test/jwt-secret: not found"), 500,
     "server misconfigured"),
    (Bug("boom"), 500, "internal error"),
])
def test_an_http_route_answers_a_failure_with_a_status_and_a_json_error(dynamodb, exc, status, error):
    response = http_route("register", raising(exc))(load_event("http_login"))
    assert response == {
        "statusCode": status, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps({"error": error}),
    }


# -- the authorizer: Allow or Deny, never an exception -------------------------------------------


IDENTITY = Identity(username="alice", guest=False, expires_at=1_900_000_000, session_limit_seconds=0, jti="jti-1")


def test_the_authorizer_allows_with_the_identity_in_the_context(dynamodb):
    answer = authorizer_entry(lambda event: IDENTITY)(load_event("authorizer"))
    assert answer["principalId"] == "alice"
    assert answer["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}]
    assert Identity.from_authorizer_context(answer["context"]) == IDENTITY


@pytest.mark.parametrize("exc, resource", [
    (TokenInvalid("InvalidSignatureError"), METHOD_ARN),
    (StorageUnavailable("is_revoked: ThrottlingException"), "*"),  # revocation unknown: no way in
    (ConfigError("the JWT secret must be at least 32 bytes"), "*"),
    (Bug("boom"), "*"),
])
def test_the_authorizer_denies_whatever_failed(dynamodb, exc, resource):
    answer = authorizer_entry(raising(exc))(load_event("authorizer"))
    assert answer == {"principalId": "anonymous", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": resource}]}}


# -- background functions: the fallback -----------------------------------------------------------


def test_a_background_function_returns_its_result_or_reports_its_failure():
    # Raised to Lambda (Errors, the failures queue) after the summary line; on the local stage
    # returned (tests/unit/test_metrics.py), since sls offline hangs on an escaped exception.
    assert background("sweep", lambda event: {"closed": 3}, fallback={"closed": 0})({}) == {"closed": 3}
    for exc, outcome in ((StorageUnavailable("x"), "storage unavailable"), (Bug("boom"), "internal error"),
                         (ConfigError("x"), "misconfigured")):
        with pytest.raises(BackgroundFailed, match=f"sweep: {outcome}"):
            background("sweep", raising(exc), fallback={"closed": 0})({})


# -- no secrets in the logs ----------------------------------------------------------------------


def http(function, body=None, headers=None):
    event = load_event("http_login")
    event["body"] = json.dumps(body) if body is not None else None
    event["headers"] = headers or {}
    response = function(event, None)
    return response["statusCode"], json.loads(response["body"])


def test_no_line_holds_a_token_a_password_or_a_message(api, monkeypatch, capsys):
    secrets = []

    def secret(value):
        secrets.append(value)
        return value

    status, body = http(http_auth.register, {"username": "keeper", "password": secret("pw-register-7f3a")})
    assert status == 201
    token = secret(body["token"])
    http(http_auth.login, {"username": "keeper", "password": secret("pw-wrong-91cd")})
    http(http_auth.login, {"username": "keeper", "password": "pw-register-7f3a"})
    forged = secret(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    for presented in (token, forged, secret("Bearer not-a-jwt-5e6f")):
        event = load_event("authorizer")
        event["queryStringParameters"] = {"token": presented}
        authorizer.handler(event)
    connect_event = ws_event("$connect", connection_id="k1", username="keeper")
    connect_event["queryStringParameters"]["token"] = f"Bearer {token}"
    assert connect.handler(connect_event)["statusCode"] == 200

    def send(text):
        messages.send_message(ws_event("sendmessage", {"action": "sendmessage", "message": text},
                                       connection_id="k1", username="keeper"))

    send(secret("body-delivered-2b8e"))
    send(secret("body-too-long-" + "x" * 2000))
    messages.default(ws_event("$default", {"action": secret("action-c4d1")}, connection_id="k1", username="keeper"))
    monkeypatch.setattr(MessageStore, "append_message", raising(Bug("store broke")))
    send(secret("body-during-a-bug-0a9b"))
    http(http_auth.logout, {"token": token}, headers={"Authorization": f"Bearer {token}"})
    out = capsys.readouterr().out
    assert '"route": "sendmessage"' in out and '"route": "POST /logout"' in out  # the lines are there...
    assert [value for value in secrets if value in out] == []  # ...without secrets
