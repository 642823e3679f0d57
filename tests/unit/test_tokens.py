"""Issuing tokens and the $connect authorizer against forged, expired and malformed tokens."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from authorizer import handler as authorizer
from handler.auth.tokens import TokenError, TokenExpired, TokenInvalid, TokenMissing, issue_token, verify_token
from tests.unit.conftest import SECRET, load_event

AUDIENCE = "wschat-test"


# Forged tokens are made when this module is imported, which under `make test` is many minutes
# before its tests run (the browser and integration suites come first): they live a day, so that
# each is refused for the flaw it was made with, never merely because it has expired meanwhile.
LIFETIME = 86_400


def make_token(**overrides):
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "nbf": now, "exp": now + LIFETIME, "iss": "wschat", "aud": AUDIENCE, "guest": False}
    claims.update(overrides)
    claims = {key: value for key, value in claims.items() if value is not None}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def authorize(token):
    event = load_event("authorizer")
    event["queryStringParameters"] = {"token": token} if token is not None else {}
    return authorizer.handler(event, None)


def effect(policy):
    return policy["policyDocument"]["Statement"][0]["Effect"]


def test_issued_token_round_trips():
    token, expires_at = issue_token(username="bob", guest=True, ttl_seconds=60, session_limit_seconds=30,
                                    secret=SECRET.encode(), audience=AUDIENCE, now=int(time.time()))
    claims = verify_token(f"Bearer {token}", keys=[SECRET.encode()], audience=AUDIENCE)
    assert (claims.username, claims.guest, claims.expires_at, claims.session_limit_seconds) == ("bob", True, expires_at, 30)


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""])
def test_authorizer_allows_a_valid_token_with_or_without_bearer(prefix):
    policy = authorize(prefix + make_token(sessionLimitSeconds=120))
    assert effect(policy) == "Allow"
    assert policy["principalId"] == "alice"
    assert policy["policyDocument"]["Statement"][0]["Resource"] == load_event("authorizer")["methodArn"]
    assert policy["context"]["username"] == "alice"
    assert policy["context"]["guest"] == "false"
    assert policy["context"]["sessionLimitSeconds"] == 120
    assert policy["context"]["expiresAt"] > time.time()


def _unsigned(claims, header):
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
    return f"{encode(header)}.{encode(claims)}."


def _rs256_token():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now, "exp": now + LIFETIME, "iss": "wschat", "aud": AUDIENCE}, key, algorithm="RS256")


NOW = int(time.time())
FORGED = {
    "missing": None,
    "empty": "",
    "bearer only": "Bearer ",
    "garbage": "not.a.jwt",
    "truncated": make_token()[:-10],
    "wrong key": jwt.encode({"sub": "alice", "iat": NOW, "exp": NOW + LIFETIME, "iss": "wschat", "aud": AUDIENCE},
                            "another-secret-another-secret-another-secret", algorithm="HS256"),
    "alg none": _unsigned({"sub": "alice", "iat": NOW, "exp": NOW + LIFETIME, "iss": "wschat", "aud": AUDIENCE},
                          {"alg": "none", "typ": "JWT"}),
    "RS256": _rs256_token(),
    "expired": make_token(iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 3600),
    "not yet valid": make_token(nbf=NOW + LIFETIME // 2),
    "wrong audience": make_token(aud="wschat-prod"),
    "wrong issuer": make_token(iss="evil"),
    "no exp": make_token(exp=None),
    "no sub": make_token(sub=None),
    "no aud": make_token(aud=None),
    "bad sub": make_token(sub="alice'; DROP TABLE users;--"),
    "path sub": make_token(sub="../../etc/passwd"),
    "unicode sub": make_token(sub="ålice"),
    "guest not bool": make_token(guest="true"),
    "negative limit": make_token(sessionLimitSeconds=-5),
    "huge": make_token(pad="x" * 10000),
}


@pytest.mark.parametrize("name", FORGED)
def test_authorizer_denies_bad_tokens_and_never_raises(name):
    policy = authorize(FORGED[name])
    assert effect(policy) == "Deny"
    assert "context" not in policy


def test_authorizer_denies_on_garbage_events():
    for event in (None, {}, {"queryStringParameters": None}, {"queryStringParameters": {"token": ["a", "b"]}}, "x"):
        assert effect(authorizer.handler(event, None)) == "Deny"


def test_authorizer_denies_when_the_secret_is_missing(monkeypatch):
    from handler import app

    monkeypatch.setenv("WSCHAT_JWT_SECRET", "short")
    app.install(None)
    assert effect(authorize(make_token())) == "Deny"


def test_verify_raises_a_token_error_that_says_why():
    with pytest.raises(TokenInvalid):
        verify_token(make_token(aud="other"), keys=[SECRET.encode()], audience=AUDIENCE)
    with pytest.raises(TokenExpired):
        verify_token(make_token(exp=int(time.time()) - 10), keys=[SECRET.encode()], audience=AUDIENCE)
    with pytest.raises(TokenMissing):
        verify_token("Bearer ", keys=[SECRET.encode()], audience=AUDIENCE)
    assert issubclass(TokenInvalid, TokenError) and issubclass(TokenExpired, TokenError)


def test_a_token_signed_with_the_previous_secret_passes_during_a_rotation():
    previous = b"p" * 48
    token, _ = issue_token(username="bob", guest=False, ttl_seconds=60, session_limit_seconds=0,
                           secret=previous, audience=AUDIENCE, now=int(time.time()))
    assert verify_token(token, keys=[SECRET.encode(), previous], audience=AUDIENCE).username == "bob"
    with pytest.raises(TokenInvalid):
        verify_token(token, keys=[SECRET.encode()], audience=AUDIENCE)


@pytest.mark.parametrize("name", [n for n in FORGED if n not in ("missing", "expired")])
def test_the_http_api_refuses_the_same_bad_tokens(dynamodb, name):
    import json as json_module

    from handler import http_auth

    event = load_event("http_login")
    event["headers"] = {"authorization": f"Bearer {FORGED[name]}"}
    event["body"] = None
    response = http_auth.logout(event, None)
    assert response["statusCode"] == 401
    assert json_module.loads(response["body"]) == {"error": "invalid token"}
