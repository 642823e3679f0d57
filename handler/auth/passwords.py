"""Password hashing with scrypt (stdlib), stored as `scrypt$n$r$p$salt$hash` in base64.

The cost is OWASP's minimum for scrypt: N=2^17, r=8, p=1, which needs 128 * r * N bytes = 128 MiB
(the Lambdas have 512 MB). Measured on the shared 2-core development machine under the test
suites' load (load average about 15): 0.65-0.92 s per hash, median 0.8 s (N=2^14, the previous
cost: 0.04 s). A Lambda of 512 MB has about 0.3 of a vCPU, so expect about a second per hash there
(the log line's latencyMs of POST /login and /register shows it); well within the 10 s timeout.
Hashes made with another cost still verify, and a login that matches one gets a new hash at the
current cost (check_password returns it; the accounts service stores it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

N, R, P = 2**17, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
# scrypt needs 128 * r * N bytes (128 MiB here) plus a few KiB of OpenSSL's own; maxmem also
# refuses a stored hash that would ask for more (a damaged or planted row cannot buy a 1 GiB hash).
_MAXMEM = 128 * R * N + 1024 * 1024


@dataclass(frozen=True)
class Checked:
    """What check_password found: `ok`, and for an old hash that matched, its replacement."""

    ok: bool
    rehashed: str | None = None


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=_MAXMEM)


def hash_password(password: str) -> str:
    salt = os.urandom(_SALT_BYTES)
    key = _derive(password, salt, N, R, P)
    return "$".join(["scrypt", str(N), str(R), str(P), base64.b64encode(salt).decode(), base64.b64encode(key).decode()])


def check_password(password: str, stored: str | None) -> Checked:
    """Constant-time check, with at least the work of one hash at the current cost whatever is
    stored: no hash (unknown user, guest), a malformed one, a current one, or an older, cheaper
    one (which costs that hash and then a new one at the current cost, kept if the password
    matched). So a login for an unknown user takes as long as one with a wrong password."""
    parsed = _parse(stored)
    if parsed is None:
        _derive(password, b"\0" * _SALT_BYTES, N, R, P)
        return Checked(False)
    (n, r, p), salt, expected = parsed
    try:
        ok = hmac.compare_digest(_derive(password, salt, n, r, p), expected)
    except (ValueError, MemoryError):  # parameters scrypt refuses, or over maxmem
        ok = False
    if (n, r, p) == (N, R, P):
        return Checked(ok)
    # An older cost: the new hash is made whether or not the password matched, so that this
    # costs no less than a login for an unknown user; it is kept only if it did.
    rehashed = hash_password(password)
    return Checked(ok, rehashed if ok else None)


def verify_password(password: str, stored: str | None) -> bool:
    return check_password(password, stored).ok


def _parse(stored: str | None) -> tuple[tuple[int, int, int], bytes, bytes] | None:
    if not stored:
        return None
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return None
        return (int(n), int(r), int(p)), base64.b64decode(salt, validate=True), base64.b64decode(expected, validate=True)
    except (ValueError, TypeError):
        return None
