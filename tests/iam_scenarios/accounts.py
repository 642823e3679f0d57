"""The HTTP API's functions (register, guest, login, logout, refresh) and the $connect authorizer."""

from __future__ import annotations

import json
import time

import jwt

from handler.auth import passwords
from tests.iam_scenarios.registry import scenario
from tests.iam_scenarios.world import PREVIOUS_SECRET, SECRET, World, signed_in, status


@scenario("register")
def register_signs_up_and_refuses_a_taken_name(w: World):
    w.start()
    assert status(w.call("register", w.http({"username": "reg-ann", "password": "password-1"}))) == 201
    assert status(w.call("register", w.http({"username": "REG-ANN", "password": "password-2"}))) == 409


@scenario("register")
def register_past_the_sign_ups_of_an_address(w: World):
    w.start(WSCHAT_REGISTRATIONS_PER_IP="1")
    ip = "198.51.100.20"
    assert status(w.call("register", w.http({"username": "reg-bob", "password": "password-1"}, source_ip=ip))) == 201
    assert status(w.call("register", w.http({"username": "reg-cat", "password": "password-1"}, source_ip=ip))) == 429


@scenario("guest")
def guests_sign_up_until_the_address_has_had_its_share(w: World):
    w.start(WSCHAT_REGISTRATIONS_PER_IP="1")
    ip = "198.51.100.21"
    assert status(w.call("guest", w.http(source_ip=ip))) == 201
    assert status(w.call("guest", w.http(source_ip=ip))) == 429


@scenario("login")
def login_from_a_new_address_and_a_known_one(w: World):
    w.start()
    w.register_user("log-ann", "password-1")
    assert status(w.call("login", w.http({"username": "log-ann", "password": "password-1"}))) == 200
    assert status(w.call("login", w.http({"username": "log-ann", "password": "password-1"}))) == 200
    assert status(w.call("login", w.http({"username": "log-ann", "password": "wrong-pass"}))) == 401


@scenario("login")
def login_upgrades_an_old_hash(w: World):
    w.start()
    w.register_user("log-old", "password-1", cost=2**8)
    assert status(w.call("login", w.http({"username": "log-old", "password": "password-1"}))) == 200
    assert w.app.accounts_store.get_user("log-old").password_hash.split("$")[1] == str(passwords.N)


@scenario("login")
def login_refused_past_the_failures_of_a_name_and_slowed_down(w: World):
    w.start(WSCHAT_LOGIN_MAX_FAILURES="2", WSCHAT_LOGIN_SLOWDOWN_AFTER="1")
    w.register_user("log-bob", "password-1")
    answers = [status(w.call("login", w.http({"username": "log-bob", "password": "wrong-pass"}, source_ip=ip)))
               for ip in ("198.51.100.30", "198.51.100.30", "198.51.100.30", "198.51.100.31", "198.51.100.32")]
    assert answers[0] == 401 and 429 in answers, answers


@scenario("logout")
def logout_revokes_the_token_and_closes_its_connections(w: World):
    w.start()
    token = w.token("out-ann")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    w.connect("out-1", "out-ann", room="out-room", jti=jti)
    w.connect("out-2", "out-bob", room="out-room")
    w.connect("out-3", "out-cat", room="out-room")
    w.later(20)
    w.api.gone.add("out-3")  # found gone by the presence
    response = w.call("logout", w.http(headers={"authorization": f"Bearer {token}"}))
    assert status(response) == 200 and json.loads(response["body"])["closed"] == 1
    assert "out-1" in w.api.closed
    assert w.api.frames("out-2", "presence")[-1]["event"] == "left"


@scenario("authorizer")
def authorizer_allows_current_and_previous_secrets_and_denies_a_revoked_token(w: World):
    w.start()
    for secret in (SECRET, PREVIOUS_SECRET):
        policy = w.call("authorizer", w.authorizer_event(w.token("auth-ann", secret=secret)))
        assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    token = w.token("auth-bob")
    assert status(w.call("logout", w.http(headers={"authorization": f"Bearer {token}"}))) == 200
    policy = w.call("authorizer", w.authorizer_event(token))
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@scenario("refresh")
def refresh_rotates_and_a_reuse_ends_the_sign_in(w: World):
    w.start()
    first = signed_in(w, "ref-ann")
    w.start()  # a cold start: the refresh reads the signing secret itself
    renewed = w.call("refresh", w.http({"refreshToken": first["refreshToken"]}))
    assert status(renewed) == 200
    claims = jwt.decode(json.loads(renewed["body"])["token"], options={"verify_signature": False})
    w.connect("ref-1", "ref-ann", room="ref-room", jti=claims["jti"], family=claims["fam"])
    w.connect("ref-2", "ref-bob", room="ref-room")
    w.connect("ref-3", "ref-cat", room="ref-room")
    w.later(20)
    latest = w.call("refresh", w.http({"refreshToken": json.loads(renewed["body"])["refreshToken"]}))
    assert status(latest) == 200  # renewed once more: the first secret is no longer the last rotated away
    w.api.gone.add("ref-3")  # found gone by the `left` of the sign-in's closed connection
    reused = w.call("refresh", w.http({"refreshToken": first["refreshToken"]}))
    assert status(reused) == 401 and "ref-1" in w.api.closed
    assert status(w.call("refresh", w.http({"refreshToken": json.loads(latest["body"])["refreshToken"]}))) == 401


@scenario("refresh")
def refresh_is_limited_per_address(w: World):
    # Over the per-address limit, the counter is read to say when it ends (GetItem on Limits).
    w.start(WSCHAT_REFRESH_PER_IP="1")
    assert status(w.call("refresh", w.http({"refreshToken": "x" * 10 + "." + "y" * 43}, source_ip="198.51.100.9"))) == 401
    assert status(w.call("refresh", w.http({"refreshToken": "x" * 10 + "." + "y" * 43}, source_ip="198.51.100.9"))) == 429


@scenario("logout")
def logout_with_an_expired_token_ends_its_refresh_family(w: World):
    w.start()
    signed = signed_in(w, "out-eve")
    claims = jwt.decode(signed["token"], options={"verify_signature": False})
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, SECRET, algorithm="HS256")
    w.connect("out-5", "out-eve", room="out-fam", jti=claims["jti"], family=claims["fam"])
    assert status(w.call("logout", w.http(headers={"authorization": f"Bearer {expired}"}))) == 200
    assert "out-5" in w.api.closed
    assert status(w.call("refresh", w.http({"refreshToken": signed["refreshToken"]}))) == 401


@scenario("logout")
def logout_ends_the_refresh_family(w: World):
    w.start()
    signed = signed_in(w, "out-dan")
    claims = jwt.decode(signed["token"], options={"verify_signature": False})
    w.connect("out-4", "out-dan", room="out-fam", jti=claims["jti"], family=claims["fam"])
    assert status(w.call("logout", w.http(headers={"authorization": f"Bearer {signed['token']}"}))) == 200
    assert "out-4" in w.api.closed
    assert status(w.call("refresh", w.http({"refreshToken": signed["refreshToken"]}))) == 401
