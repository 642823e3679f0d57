"""Issuing and checking wschat's JWTs (HS256, PyJWT). Shared by login and the $connect authorizer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import jwt

from handler.config import TOKEN_ISSUER
from handler.protocol import is_valid_username

# Pinned: the algorithm is never taken from the token's header, so `alg: none` and
# HS/RS confusion tokens fail signature checks.
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "iat", "exp", "iss", "aud"]
# A real token is a few hundred bytes; refusing long ones bounds the work an attacker can cause.
TOKEN_MAX_CHARS = 4096


class TokenError(Exception):
    """Raised when a token is missing, malformed, forged, expired or meant for someone else."""


@dataclass(frozen=True)
class Claims:
    username: str
    guest: bool
    expires_at: int  # epoch seconds
    session_limit_seconds: int  # 0: no limit
    jti: str | None = None


def issue_token(
    *, username: str, guest: bool, ttl_seconds: int, session_limit_seconds: int, secret: bytes,
    audience: str, now: int,
) -> tuple[str, int]:
    """Return (token, expires_at)."""
    expires_at = now + ttl_seconds
    claims = {
        "sub": username,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
        "iss": TOKEN_ISSUER,
        "aud": audience,
        "jti": secrets.token_urlsafe(12),
        "guest": guest,
    }
    if session_limit_seconds > 0:
        claims["sessionLimitSeconds"] = session_limit_seconds
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at


def strip_bearer(value: object) -> str:
    """Accept `Bearer <jwt>` and a bare `<jwt>`."""
    if not isinstance(value, str):
        raise TokenError("no token")
    value = value.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if not value:
        raise TokenError("no token")
    return value


def verify_token(token: object, *, secret: bytes, audience: str) -> Claims:
    token = strip_bearer(token)
    if len(token) > TOKEN_MAX_CHARS:
        raise TokenError("token too long")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=TOKEN_ISSUER,
            options={"require": REQUIRED_CLAIMS, "verify_signature": True},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(exc.__class__.__name__) from None
    username = claims.get("sub")
    if not is_valid_username(username):
        raise TokenError("bad subject")
    guest = claims.get("guest", False)
    limit = claims.get("sessionLimitSeconds", 0)
    exp = claims.get("exp")
    if not isinstance(guest, bool) or not _is_count(limit) or not _is_count(exp):
        raise TokenError("bad claims")
    jti = claims.get("jti")
    if jti is not None and (not isinstance(jti, str) or not 0 < len(jti) <= 64):
        raise TokenError("bad jti")
    return Claims(username=username, guest=guest, expires_at=exp, session_limit_seconds=limit, jti=jti)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
