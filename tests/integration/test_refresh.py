"""Staying signed in, through a local stack of its own whose access tokens live
TOKEN_TTL seconds (the sweep runs every second): POST /refresh rotation and reuse detection,
logout ending the refresh family, guests without one, and `renew` keeping an open socket alive."""

import time

import pytest
import requests

from devstack.local_stage import Ports
from devstack.stack import LocalStack
from tests.integration.conftest import unique_name

TOKEN_TTL = 12


@pytest.fixture(scope="module")
def stack():
    local = LocalStack(ports=Ports.free(), data_dir=None, sweep_seconds=1,
                       env={"WSCHAT_TOKEN_TTL_SECONDS": str(TOKEN_TTL)})
    with local:
        yield local


def post(stack, path, **kwargs):
    return requests.post(f"{stack.http_url}{path}", timeout=30, **kwargs)


def refresh(stack, token):
    return post(stack, "/refresh", json={"refreshToken": token})


def test_a_member_gets_a_refresh_token_and_a_guest_none(stack, register):
    member = register()
    assert member["refreshToken"] and member["refreshExpiresAt"] > member["expiresAt"]
    guest = post(stack, "/guest").json()
    assert "refreshToken" not in guest  # a guest's limit must still end their session


def test_refresh_rotates_and_a_reused_token_ends_the_sign_in(stack, register, client):
    first = register()
    second = refresh(stack, first["refreshToken"])
    assert second.status_code == 200, second.text
    renewed = second.json()
    assert renewed["token"] != first["token"] and renewed["refreshToken"] != first["refreshToken"]
    assert renewed["user"] == first["user"]
    c = client(renewed["token"], unique_name("room"))
    c.join()
    latest = refresh(stack, renewed["refreshToken"])  # renewed once more, as a page does
    assert latest.status_code == 200, latest.text
    # An older refresh token again: a copy someone kept (not the last one rotated away, which may be
    # asked again once within a minute: a lost answer). The whole sign-in ends, everywhere.
    reused = refresh(stack, first["refreshToken"])
    assert reused.status_code == 401 and "already used" in reused.json()["error"]
    ended = c.next("error", code="session_expired")
    assert ended["reason"] == "logged_out"
    assert refresh(stack, latest.json()["refreshToken"]).status_code == 401
    with pytest.raises(Exception):
        client(renewed["token"]).join()  # the authorizer refuses the family's tokens too


def test_a_malformed_refresh_token_is_refused(stack):
    for body in ({"refreshToken": "nope"}, {"refreshToken": 5}, {}, {"refreshToken": "a" * 12 + "." + "b" * 43}):
        answer = post(stack, "/refresh", json=body)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid refresh token", body


def test_logout_revokes_the_access_and_the_refresh_token(stack, register, client):
    member = register()
    renewed = refresh(stack, member["refreshToken"]).json()
    c = client(renewed["token"], unique_name("room"))
    c.join()
    # Logging out with the first access token ends the sign-in: its later token's socket too.
    out = post(stack, "/logout", headers={"Authorization": f"Bearer {member['token']}"})
    assert out.status_code == 200 and out.json()["closed"] == 1
    assert c.next("error", code="session_expired")["reason"] == "logged_out"
    assert refresh(stack, renewed["refreshToken"]).status_code == 401
    for token in (member["token"], renewed["token"]):
        with pytest.raises(Exception):
            client(token).join()


def test_a_renewed_token_keeps_the_socket_open_past_the_old_expiry(stack, register, client):
    member = register()
    r = unique_name("room")
    renewing, idle = client(member["token"], r), client(member["token"], r)
    welcome = renewing.join()
    idle.join()
    # Half-way through the first token's life, as a client renews: the new one lasts well past it.
    time.sleep(TOKEN_TTL / 2)
    fresh = refresh(stack, member["refreshToken"]).json()
    renewing.send({"action": "renew", "token": fresh["token"]})
    renewed = renewing.next("renewed")
    assert renewed["expiresAt"] > welcome["expiresAt"]
    # The connection that did not renew ends at its token's expiry; the renewed one stays.
    # (The same sweep run saw both rows due by the index; the renewed one's row said otherwise.)
    assert idle.next("error", code="session_expired", timeout=TOKEN_TTL + 10)["reason"] == "token_expired"
    renewing.send({"action": "heartbeat"})
    assert renewing.next("heartbeat")["type"] == "heartbeat"
    renewing.send({"action": "sendmessage", "message": "still here"})
    assert renewing.next("message")["message"] == "still here"


def test_renew_refuses_another_users_or_a_bad_token(stack, register, client):
    alice, bob = register(), register()
    a = client(alice["token"], unique_name("room"))
    a.join()
    a.send({"action": "renew", "token": bob["token"]})
    assert a.next("error")["code"] == "forbidden"
    a.send({"action": "renew", "token": alice["token"][:-4] + "AAAA"})
    assert a.next("error")["code"] == "invalid_token"
    guest = post(stack, "/guest").json()
    g = client(guest["token"])
    g.join()
    g.send({"action": "renew", "token": post(stack, "/guest").json()["token"]})
    assert g.next("error")["code"] == "forbidden"  # a guest cannot stretch a session with another guest's token


# -- a made-up secret, an expired access token: what they may end -----------------------------------

def _family(token: str) -> str:
    import jwt
    return jwt.decode(token, options={"verify_signature": False})["fam"]  # readable by anyone holding it


def test_a_made_up_secret_under_a_known_sign_in_ends_nothing(stack, register, client):
    member = register()
    c = client(member["token"], unique_name("room"))
    c.join()
    answer = refresh(stack, f"{_family(member['token'])}.{'A' * 43}")
    assert answer.status_code == 401 and answer.json()["error"] == "invalid refresh token"
    c.send({"action": "sendmessage", "message": "still signed in"})
    assert c.next("message")["message"] == "still signed in"
    assert refresh(stack, member["refreshToken"]).status_code == 200


def test_logout_with_an_expired_access_token_ends_the_sign_in(stack, register):
    member = register()
    time.sleep(TOKEN_TTL + 1)
    out = post(stack, "/logout", headers={"Authorization": f"Bearer {member['token']}"})  # no body
    assert out.status_code == 200 and out.json()["loggedOut"] is True
    assert refresh(stack, member["refreshToken"]).status_code == 401
