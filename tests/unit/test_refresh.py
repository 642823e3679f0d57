"""POST /refresh and the refresh family (handler/accounts.py, handler/store/refresh.py) against
moto's DynamoDB: rotation, reuse detection, logout, guests, the member session limit."""

import json
import time

import jwt
import pytest

from handler import app, http_auth
from handler.auth.tokens import TokenRevoked
from tests.unit.conftest import SECRET, load_event, reinstall_app, set_clock


def call(function, body=None, headers=None):
    event = load_event("http_login")
    event["body"] = None if body is None else json.dumps(body)
    event["headers"] = {"content-type": "application/json", **(headers or {})}
    response = function(event, None)
    return response["statusCode"], json.loads(response["body"])


def claims(token):
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="wschat-test", options={"verify_nbf": False,
                                                                                          "verify_iat": False})


@pytest.fixture
def member(dynamodb):
    status, body = call(http_auth.register, {"username": "keeper", "password": "password-1"})
    assert status == 201
    return body


def test_a_sign_in_gets_a_refresh_token_a_guest_none(member):
    assert member["refreshToken"].count(".") == 1 and member["refreshExpiresAt"].endswith("Z")
    assert claims(member["token"])["fam"] == member["refreshToken"].split(".")[0]
    status, body = call(http_auth.login, {"username": "keeper", "password": "password-1"})
    assert status == 200 and body["refreshToken"] != member["refreshToken"]  # a sign-in of its own
    status, guest = call(http_auth.guest)
    assert status == 201 and "refreshToken" not in guest and "fam" not in claims(guest["token"])


def test_only_the_hash_is_stored(member):
    family, secret = member["refreshToken"].split(".")
    item = app.app().refresh_store.limits.get("t", {"key": {"S": f"refresh#{family}"}})
    assert secret not in json.dumps(item) and item["username"]["S"] == "keeper" and int(item["ttl"]["N"]) > time.time()


def test_each_use_rotates_and_a_reused_token_ends_the_sign_in(member):
    status, second = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert status == 200 and second["refreshToken"] != member["refreshToken"]
    assert second["user"] == member["user"] and claims(second["token"])["jti"] != claims(member["token"])["jti"]
    status, third = call(http_auth.refresh, {"refreshToken": second["refreshToken"]})
    assert status == 200
    status, answer = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})  # a used one again
    assert status == 401 and "already used" in answer["error"]
    assert call(http_auth.refresh, {"refreshToken": third["refreshToken"]})[0] == 401
    for token in (member["token"], second["token"], third["token"]):
        with pytest.raises(TokenRevoked):
            app.app().verified(token)


def test_logout_ends_the_sign_in(member):
    status, second = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert call(http_auth.logout, headers={"authorization": f"Bearer {member['token']}"})[0] == 200
    assert call(http_auth.refresh, {"refreshToken": second["refreshToken"]})[0] == 401
    with pytest.raises(TokenRevoked):
        app.app().verified(second["token"])


def test_logout_with_an_expired_token_still_ends_the_sign_in_given_the_refresh_token(member, monkeypatch):
    expired = jwt.encode({**claims(member["token"]), "exp": int(time.time()) - 10}, SECRET, algorithm="HS256")
    status, _ = call(http_auth.logout, {"token": expired, "refreshToken": member["refreshToken"]})
    assert status == 200
    assert call(http_auth.refresh, {"refreshToken": member["refreshToken"]})[0] == 401


@pytest.mark.parametrize("body", [{}, {"refreshToken": 5}, {"refreshToken": "nodot"}, {"refreshToken": "a.b"},
                                  {"refreshToken": "a" * 16 + "." + "b" * 43}, {"refreshToken": "x" * 300}])
def test_a_malformed_or_unknown_refresh_token_is_401(member, body):
    status, answer = call(http_auth.refresh, body)
    assert (status, answer["error"]) == (401, "invalid refresh token")


def test_a_sign_in_ends_with_the_member_session_limit(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_MEMBER_SESSION_LIMIT_SECONDS", "600")
    reinstall_app()
    now = int(time.time())
    set_clock(now * 1000)
    _, first = call(http_auth.register, {"username": "limited", "password": "password-1"})
    set_clock((now + 500) * 1000)
    status, second = call(http_auth.refresh, {"refreshToken": first["refreshToken"]})
    renewed = claims(second["token"])
    assert status == 200 and renewed["exp"] <= now + 600 and renewed["sessionLimitSeconds"] == 100
    set_clock((now + 601) * 1000)
    status, answer = call(http_auth.refresh, {"refreshToken": second["refreshToken"]})
    assert status == 401 and "run its time" in answer["error"]


# -- the security review (findings 1 and 2) -------------------------------------------------------

def test_a_made_up_secret_under_a_known_family_is_401_and_ends_nothing(member):
    # The family id is in every access token (claim `fam`), which travels in ?token= URLs.
    family = claims(member["token"])["fam"]
    status, answer = call(http_auth.refresh, {"refreshToken": f"{family}.{'A' * 43}"})
    assert (status, answer["error"]) == (401, "invalid refresh token")
    app.app().verified(member["token"])  # the access token still works
    status, renewed = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert status == 200 and renewed["token"]  # and so does the owner's refresh token


def test_only_a_secret_the_family_issued_and_rotated_away_counts_as_reuse(member):
    status, second = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert status == 200
    item = app.app().refresh_store.limits.get("t", {"key": {"S": f"refresh#{claims(member['token'])['fam']}"}})
    secret = member["refreshToken"].split(".")[1]
    assert secret not in json.dumps(item) and len(item["used"]["SS"]) == 1  # a short hash, never the secret
    set_clock(int(time.time() * 1000) + 61_000)  # past the replay window of a lost answer
    status, answer = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert status == 401 and "already used" in answer["error"]
    assert call(http_auth.refresh, {"refreshToken": second["refreshToken"]})[0] == 401


def test_refresh_is_limited_per_address(dynamodb, monkeypatch):
    monkeypatch.setenv("WSCHAT_REFRESH_PER_IP", "3")
    reinstall_app()
    _, body = call(http_auth.register, {"username": "renewer", "password": "password-1"})
    for _ in range(3):
        assert call(http_auth.refresh, {"refreshToken": "x" * 10 + "." + "y" * 43})[0] == 401
    status, answer = call(http_auth.refresh, {"refreshToken": body["refreshToken"]})
    assert status == 429 and answer["retryAfterSeconds"] > 0


def test_a_family_that_rotated_its_limit_must_sign_in_again(member, monkeypatch):
    from handler.store import refresh
    monkeypatch.setattr(refresh, "MAX_ROTATIONS", 2)
    token = member["refreshToken"]
    for _ in range(2):
        status, body = call(http_auth.refresh, {"refreshToken": token})
        assert status == 200
        token = body["refreshToken"]
    status, answer = call(http_auth.refresh, {"refreshToken": token})
    assert status == 401 and "log in again" in answer["error"]


def test_logout_with_an_expired_token_and_no_body_ends_its_sign_in(member):
    expired = jwt.encode({**claims(member["token"]), "exp": int(time.time()) - 10}, SECRET, algorithm="HS256")
    status, answer = call(http_auth.logout, headers={"authorization": f"Bearer {expired}"})  # what chat/sign_in.js sent
    assert status == 200 and answer["loggedOut"] is True
    assert call(http_auth.refresh, {"refreshToken": member["refreshToken"]})[0] == 401
    with pytest.raises(TokenRevoked):
        app.app().verified(member["token"])


def test_logout_with_a_forged_expired_token_ends_nothing(member):
    forged = jwt.encode({**claims(member["token"]), "exp": int(time.time()) - 10}, "not-the-secret" * 3,
                        algorithm="HS256")
    assert call(http_auth.logout, headers={"authorization": f"Bearer {forged}"})[0] == 401
    assert call(http_auth.refresh, {"refreshToken": member["refreshToken"]})[0] == 200


NOW_MS = int(time.time() * 1000)


def test_a_rotation_whose_answer_was_lost_can_be_asked_again_once_soon_after(member):
    # A page whose /refresh timed out while the server went on asks again with the secret it holds:
    # within the replay window that renews, and does not end the sign-in everywhere.
    set_clock(NOW_MS)
    status, lost = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})  # the answer never arrives
    assert status == 200
    status, again = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert status == 200 and again["refreshToken"] not in (member["refreshToken"], lost["refreshToken"])
    assert call(http_auth.refresh, {"refreshToken": again["refreshToken"]})[0] == 200  # the sign-in lives on
    app.app().verified(again["token"])


def test_a_replayed_secret_makes_the_answer_it_replaced_a_reuse_that_ends_the_sign_in(member):
    # A thief replaying a stolen secret within the window: the owner's next renewal (with the secret
    # the replay rotated away) is a reuse, which ends the sign-in for both, as without the window.
    set_clock(NOW_MS)
    status, owners = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    status, thiefs = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert status == 200
    status, answer = call(http_auth.refresh, {"refreshToken": owners["refreshToken"]})
    assert status == 401 and "already used" in answer["error"]
    assert call(http_auth.refresh, {"refreshToken": thiefs["refreshToken"]})[0] == 401


def test_the_replay_window_closes_and_a_replay_is_allowed_once(member):
    set_clock(NOW_MS)
    call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    set_clock(NOW_MS + 61_000)  # past REPLAY_SECONDS: a plain reuse
    status, answer = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert status == 401 and "already used" in answer["error"]

    status, fresh = call(http_auth.login, {"username": "keeper", "password": "password-1"})
    assert status == 200
    call(http_auth.refresh, {"refreshToken": fresh["refreshToken"]})
    assert call(http_auth.refresh, {"refreshToken": fresh["refreshToken"]})[0] == 200  # the one replay
    status, answer = call(http_auth.refresh, {"refreshToken": fresh["refreshToken"]})  # a second: reuse
    assert status == 401 and "already used" in answer["error"]


def test_a_replay_revokes_the_access_token_the_lost_answer_carried(member):
    # Whoever holds that answer (a thief who renewed first with a copied secret) keeps nothing.
    set_clock(NOW_MS)
    status, taken = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    status, owners = call(http_auth.refresh, {"refreshToken": member["refreshToken"]})
    assert status == 200
    with pytest.raises(TokenRevoked):
        app.app().verified(taken["token"])
    app.app().verified(owners["token"])
