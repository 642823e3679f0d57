"""Issuing and checking wschat's JWTs (HS256, PyJWT). Shared by login and the $connect authorizer.

    TokenError          the token is not one to accept
    ├── TokenMissing    no token, or an empty one
    ├── TokenExpired    its `exp` has passed (signature and claims were otherwise fine)
    ├── TokenRevoked    it was logged out (the caller checks revocation: AccountsStore)
    └── TokenInvalid    malformed, forged, too long, for another stage, or claims of the wrong shape
"""

from __future__ import annotations

import secrets

import jwt

from handler.protocol import Identity, is_valid_username
from handler.settings import TOKEN_ISSUER

# Pinned: the algorithm is never taken from the token's header, so `alg: none` and
# HS/RS confusion tokens fail signature checks.
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "iat", "exp", "iss", "aud"]
# A real token is a few hundred bytes; refusing long ones bounds the work an attacker can cause.
TOKEN_MAX_CHARS = 4096


class TokenError(Exception):
    """Raised when a token is not one to accept; the subclass says why (str() is safe to log)."""


class TokenMissing(TokenError):
    """Raised when there is no token at all."""


class TokenExpired(TokenError):
    """Raised when a token's `exp` has passed."""


class TokenRevoked(TokenError):
    """Raised when a token was logged out."""


class TokenInvalid(TokenError):
    """Raised when a token is malformed, forged, meant for another stage, or has bad claims."""


def issue_token(
    *, username: str, guest: bool, ttl_seconds: int, session_limit_seconds: int, secret: bytes,
    audience: str, now: int, family: str | None = None, jti: str | None = None,
) -> tuple[str, int]:
    """Return (token, expires_at). `family`: the refresh family it belongs to (claim `fam`)."""
    expires_at = now + ttl_seconds
    claims = {
        "sub": username,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
        "iss": TOKEN_ISSUER,
        "aud": audience,
        "jti": jti or secrets.token_urlsafe(12),
        "guest": guest,
    }
    if session_limit_seconds > 0:
        claims["sessionLimitSeconds"] = session_limit_seconds
    if family:
        claims["fam"] = family
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at


def strip_bearer(value: object) -> str:
    """Accept `Bearer <jwt>` and a bare `<jwt>`."""
    if not isinstance(value, str):
        raise TokenMissing("no token")
    scheme, _, rest = value.strip().partition(" ")
    value = rest.strip() if scheme.lower() == "bearer" else value.strip()
    if not value or value.lower() == "bearer":
        raise TokenMissing("no token")
    return value


def verify_token(token: object, *, keys: list[bytes], audience: str, allow_expired: bool = False) -> Identity:
    """The identity in a valid token. `keys`: the current signing secret first, then any
    previous one still accepted during a rotation's grace period. `allow_expired`: accept a
    token past its `exp` (everything else checked): only for logout, which ends its sign-in."""
    token = strip_bearer(token)
    if len(token) > TOKEN_MAX_CHARS:
        raise TokenInvalid("token too long")
    claims = None
    for secret in keys:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=TOKEN_ISSUER,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True, "verify_exp": not allow_expired},
            )
            break
        except jwt.ExpiredSignatureError:
            raise TokenExpired("ExpiredSignatureError") from None
        except jwt.InvalidSignatureError:
            continue  # perhaps signed with the previous secret
        except jwt.PyJWTError as exc:
            raise TokenInvalid(exc.__class__.__name__) from None
    if claims is None:
        raise TokenInvalid("InvalidSignatureError")
    username = claims.get("sub")
    if not is_valid_username(username):
        raise TokenInvalid("bad subject")
    guest = claims.get("guest", False)
    limit = claims.get("sessionLimitSeconds", 0)
    exp = claims.get("exp")
    if not isinstance(guest, bool) or not _is_count(limit) or not _is_count(exp):
        raise TokenInvalid("bad claims")
    jti = claims.get("jti")
    if jti is not None and (not isinstance(jti, str) or not 0 < len(jti) <= 64):
        raise TokenInvalid("bad jti")
    family = claims.get("fam")
    if family is not None and (not isinstance(family, str) or not 0 < len(family) <= 64 or "#" in family):
        raise TokenInvalid("bad fam")
    return Identity(username=username, guest=guest, expires_at=exp, session_limit_seconds=limit, jti=jti,
                    family=family)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
