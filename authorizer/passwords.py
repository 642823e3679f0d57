"""Password hashing with scrypt (stdlib), stored as `scrypt$n$r$p$salt$hash` in base64."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

# n=2**14, r=8 costs about 16 MiB and tens of milliseconds per hash: cheap for a login, dear for
# an attacker with a stolen table.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=_MAXMEM)


def hash_password(password: str) -> str:
    salt = os.urandom(_SALT_BYTES)
    key = _derive(password, salt, _N, _R, _P)
    return "$".join(
        ["scrypt", str(_N), str(_R), str(_P), base64.b64encode(salt).decode(), base64.b64encode(key).decode()]
    )


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check. With no stored hash it still spends the same work, so a login for an
    unknown user takes as long as one with a wrong password."""
    if not stored:
        _derive(password, b"\0" * _SALT_BYTES, _N, _R, _P)
        return False
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        key = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(key, base64.b64decode(expected))
