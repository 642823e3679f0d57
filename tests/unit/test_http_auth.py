"""POST /register, /login and /guest against moto's DynamoDB."""

import json
import re

import jwt
import pytest

from handler import app, http_auth
from tests.unit.conftest import SECRET, load_event, reinstall_app, session_row, set_clock


def call(function, body):
    event = load_event("http_login")
    event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    response = function(event, None)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def users(dynamodb):
    return dynamodb


def decode(token):
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="wschat-test", issuer="wschat")


def test_register_then_login_returns_a_working_token(users):
    status, body = call(http_auth.register, {"username": "Alice", "password": "s3cret-pass"})
    assert status == 201
    assert body["user"] == {"username": "Alice", "guest": False, "sessionLimitSeconds": None}
    assert decode(body["token"])["sub"] == "Alice"
    status, body = call(http_auth.login, {"username": "alice", "password": "s3cret-pass"})
    assert status == 200
    claims = decode(body["token"])
    assert claims["sub"] == "Alice" and claims["guest"] is False
    assert claims["exp"] - claims["iat"] == 3600
    assert body["expiresAt"].endswith("Z")


def test_password_is_stored_hashed(users):
    call(http_auth.register, {"username": "carol", "password": "plain-text-pw"})
    item = users.get_item(TableName="wschat-test-Users", Key={"usernameKey": {"S": "carol"}})["Item"]
    assert "plain-text-pw" not in json.dumps(item)
    assert item["passwordHash"]["S"].startswith("scrypt$")


def test_taken_name_is_409_in_any_case(users):
    assert call(http_auth.register, {"username": "dave", "password": "password1"})[0] == 201
    status, body = call(http_auth.register, {"username": "DAVE", "password": "password2"})
    assert status == 409 and body == {"error": "that username is taken"}


@pytest.mark.parametrize("payload, fragment", [
    ({"username": "ab", "password": "password1"}, "username"),
    ({"username": "bad name", "password": "password1"}, "username"),
    ({"username": "guest-1234", "password": "password1"}, "reserved"),
    ({"username": "erin", "password": "short"}, "at least 8"),
    ({"username": "erin", "password": "x" * 300}, "at most"),
    ({"username": "erin"}, "strings"),
    ({"username": 5, "password": "password1"}, "strings"),
])
def test_register_validation(users, payload, fragment):
    status, body = call(http_auth.register, payload)
    assert status == 400 and fragment in body["error"]


@pytest.mark.parametrize("raw", [None, "", "not json", "[]", '"x"', "{" * 3000, "x" * 5000])
def test_malformed_bodies_are_4xx_with_a_json_error(users, raw):
    for function in (http_auth.register, http_auth.login):
        status, body = call(function, raw)
        assert 400 <= status < 500 and body["error"]


def test_login_failures_all_say_the_same(users):
    call(http_auth.register, {"username": "frank", "password": "right-password"})
    answers = {
        json.dumps(call(http_auth.login, payload))
        for payload in (
            {"username": "frank", "password": "wrong-password"},
            {"username": "nobody", "password": "whatever1"},
            {"username": "x", "password": "whatever1"},
            {"username": "frank", "password": "y" * 1000},
        )
    }
    assert answers == {json.dumps([401, {"error": "invalid username or password"}])}


def test_guest_gets_a_session_limited_token(users):
    status, body = call(http_auth.guest, None)
    assert status == 201
    user = body["user"]
    assert user["guest"] is True and re.fullmatch(r"guest-[a-z2-7]{16}", user["username"])
    assert user["sessionLimitSeconds"] == 900
    claims = decode(body["token"])
    assert claims["guest"] is True and claims["sessionLimitSeconds"] == 900
    assert claims["exp"] - claims["iat"] == 900
    # A guest name cannot be used to log in.
    assert call(http_auth.login, {"username": user["username"], "password": "anything1"})[0] == 401


def test_registration_and_guests_can_be_switched_off(users, monkeypatch):
    monkeypatch.setenv("WSCHAT_ALLOW_REGISTRATION", "false")
    monkeypatch.setenv("WSCHAT_ALLOW_GUESTS", "false")
    reinstall_app()
    assert call(http_auth.register, {"username": "gina", "password": "password1"})[0] == 403
    assert call(http_auth.guest, None)[0] == 403


def test_member_session_limit_is_configurable(users, monkeypatch):
    monkeypatch.setenv("WSCHAT_MEMBER_SESSION_LIMIT_SECONDS", "600")
    reinstall_app()
    status, body = call(http_auth.register, {"username": "hank", "password": "password1"})
    assert body["user"]["sessionLimitSeconds"] == 600
    assert decode(body["token"])["sessionLimitSeconds"] == 600


def test_store_failure_is_a_503_not_a_crash(monkeypatch):
    # No moto here: DynamoDB is unreachable.
    monkeypatch.setenv("WSCHAT_DDB_ENDPOINT", "http://127.0.0.1:9")
    reinstall_app()
    status, body = call(http_auth.login, {"username": "ivan", "password": "password1"})
    assert status == 503 and "unavailable" in body["error"]


def test_no_password_or_token_in_logs(users, capsys):
    _, body = call(http_auth.register, {"username": "judy", "password": "secret-password-99"})
    call(http_auth.login, {"username": "judy", "password": "secret-password-99"})
    out = capsys.readouterr().out
    assert "judy" in out  # the lines are there...
    assert "secret-password-99" not in out and body["token"] not in out  # ...without secrets
