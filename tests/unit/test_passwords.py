"""scrypt hashing: OWASP's cost, the same work whatever is stored, old hashes upgraded on a match.

Every other unit test hashes at N=2^10 (conftest.cheap_password_hashing); the tests here that are
about the cost itself ask for the real one."""

import base64
import hashlib

import pytest

from handler.auth import passwords
from handler.auth.passwords import check_password, hash_password, verify_password

REAL_N = 2**17


@pytest.fixture
def real_password_cost(monkeypatch):
    monkeypatch.setattr(passwords, "N", REAL_N)


@pytest.fixture
def derived(monkeypatch):
    """The (n, r, p) of every scrypt run, in order."""
    runs = []
    real = passwords._derive

    def derive(password, salt, n, r, p):
        runs.append((n, r, p))
        return real(password, salt, n, r, p)

    monkeypatch.setattr(passwords, "_derive", derive)
    return runs


def hash_at(password: str, n: int, monkeypatch) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(passwords, "N", n)
        return hash_password(password)


def test_the_cost_is_owasps_minimum_for_scrypt_and_fits_its_memory_limit(real_password_cost):
    stored = hash_password("correct horse")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**17, 8, 1)
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(key)) == 32
    assert verify_password("correct horse", stored)
    # 128 * r * N bytes = 128 MiB, within the 512 MB Lambda; maxmem leaves room for OpenSSL's own.
    assert 128 * 8 * 2**17 == 128 * 1024 * 1024 < passwords._MAXMEM <= 130 * 1024 * 1024


def test_hash_is_salted_and_verifies():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert first.startswith("scrypt$")
    assert "correct horse" not in first
    assert verify_password("correct horse", first)
    assert not verify_password("correct horsE", first)


def test_verify_without_a_stored_hash_is_false():
    assert not verify_password("anything", None)
    assert not verify_password("anything", "")


def test_verify_rejects_malformed_hashes():
    for stored in ("plain", "md5$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$!!", "scrypt$3$8$1$AAAA$AAAA"):
        assert not verify_password("anything", stored)


def test_a_planted_hash_cannot_ask_for_more_memory_than_the_limit(derived):
    salt = base64.b64encode(b"s" * 16).decode()
    assert not verify_password("anything", f"scrypt${2**20}$8$1${salt}$AAAA")  # 1 GiB: refused at once


@pytest.mark.parametrize("stored", [None, "", "garbage", "scrypt$x$8$1$AAAA$AAAA"])
def test_no_usable_hash_costs_one_hash_at_the_current_cost(derived, stored):
    assert check_password("guess-1234", stored).ok is False
    assert derived == [(passwords.N, 8, 1)]


def test_a_current_hash_costs_one_hash_and_is_not_rehashed(derived):
    stored = hash_password("right-password")
    derived.clear()
    assert check_password("right-password", stored) == passwords.Checked(True, None)
    assert check_password("wrong-password", stored) == passwords.Checked(False, None)
    assert derived == [(passwords.N, 8, 1)] * 2


def test_an_older_hash_that_matches_comes_back_rehashed_at_the_current_cost(monkeypatch, derived):
    old = hash_at("right-password", 2**8, monkeypatch)
    assert old.startswith(f"scrypt${2**8}$8$1$")
    derived.clear()
    checked = check_password("right-password", old)
    # The old hash, then the new one: never less work than a login for an unknown user.
    assert derived == [(2**8, 8, 1), (passwords.N, 8, 1)]
    assert checked.ok and checked.rehashed.startswith(f"scrypt${passwords.N}$8$1$")
    assert verify_password("right-password", checked.rehashed)


def test_an_older_hash_that_does_not_match_costs_the_same_and_gives_nothing(monkeypatch, derived):
    old = hash_at("right-password", 2**8, monkeypatch)
    derived.clear()
    assert check_password("wrong-password", old) == passwords.Checked(False, None)
    assert derived == [(2**8, 8, 1), (passwords.N, 8, 1)]


def test_hashes_made_before_the_upgrade_still_verify():
    # The format and cost the previous code stored (N=2^14), made here by hand.
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"legacy-password", salt=salt, n=2**14, r=8, p=1, dklen=32, maxmem=64 * 1024 * 1024)
    stored = "$".join(["scrypt", "16384", "8", "1", base64.b64encode(salt).decode(), base64.b64encode(key).decode()])
    checked = check_password("legacy-password", stored)
    assert checked.ok and checked.rehashed is not None
