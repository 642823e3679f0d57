"""Login abuse through the real local stack (docs/reliability.md, "Abuse"): concurrent guessing,
locking others out, `make dev`'s own set-up, the password cost, look-alike names, guest names.

Each attacker is an HTTP client bound to its own loopback address (127.0.0.2, ...): serverless-
offline reports the TCP peer as the request's sourceIp, so the server sees separate addresses.
This module runs its own stack, with small limits, so that its failed logins count against
nobody else's tests."""

import base64
import hashlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.adapters import HTTPAdapter

from devstack.__main__ import ensure_demo_users, local_settings
from devstack.local_stage import Ports, jwt_secret
from devstack.stack import LocalStack
from handler.auth.tokens import verify_token

PAIR_MAX = 3  # failed logins per (name, address) per window
ADDRESS_MAX = 6  # per address over all names
SLOWDOWN_AFTER = 4  # per name over all addresses, then unknown addresses take turns 2, 4, 4... s apart
USERS = "wschat-local-Users"
LIMITS = "wschat-local-Limits"


@pytest.fixture(scope="module")
def stack():
    local = LocalStack(ports=Ports.free(), data_dir=None, env={
        "WSCHAT_LOGIN_MAX_FAILURES": str(PAIR_MAX), "WSCHAT_LOGIN_ADDRESS_MAX_FAILURES": str(ADDRESS_MAX),
        "WSCHAT_LOGIN_SLOWDOWN_AFTER": str(SLOWDOWN_AFTER), "WSCHAT_LOGIN_SLOWDOWN_BASE_SECONDS": "2",
        "WSCHAT_LOGIN_SLOWDOWN_MAX_SECONDS": "4",
    })
    with local:
        yield local


class BoundAdapter(HTTPAdapter):
    """Connects from one local address, so the server sees the client as that address."""

    def __init__(self, address: str):
        self.address = address
        super().__init__(pool_maxsize=16)  # room for the concurrent test's twelve at once

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class From:
    """POSTs from one loopback address."""

    def __init__(self, stack, address="127.0.0.1"):
        self.url = stack.http_url
        self.session = requests.Session()
        self.session.mount("http://", BoundAdapter(address))

    def post(self, path, body=None) -> requests.Response:
        return self.session.post(f"{self.url}/{path}", json=body, timeout=60)

    def login(self, username, password) -> requests.Response:
        return self.post("login", {"username": username, "password": password})

    def register(self, username, password) -> requests.Response:
        return self.post("register", {"username": username, "password": password})


def unique(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def item(stack, table, key_name, key):
    return stack.dynamodb().get_item(TableName=table, Key={key_name: {"S": key}}, ConsistentRead=True).get("Item")


def limit_keys(stack, fragment):
    """Every Limits key that mentions `fragment` (a test-sized table: a scan is fine here)."""
    items = stack.dynamodb().scan(TableName=LIMITS)["Items"]
    return sorted(i["key"]["S"] for i in items if fragment in i["key"]["S"])


# -- 1. concurrent guesses -----------------------------------------------------------------------


def test_twelve_concurrent_guesses_check_no_more_passwords_than_the_limit(stack):
    name = unique()
    assert From(stack).register(name, "right-password").status_code == 201
    attacker = From(stack, "127.0.0.2")
    guesses = [f"guess-{n:02d}" for n in range(11)] + ["right-password"]
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda password: attacker.login(name, password).status_code, guesses))
    # Every guess reserves a failure before its password is checked: at most PAIR_MAX wrong ones
    # were checked; the rest were refused unchecked (the right one may be among either).
    assert statuses.count(401) <= PAIR_MAX, statuses
    assert statuses.count(429) >= len(guesses) - PAIR_MAX - 1, statuses
    assert set(statuses) <= {200, 401, 429}


# -- 2. nobody can lock anyone out -----------------------------------------------------------------


def test_the_owner_gets_in_from_their_own_address_while_others_hammer_their_name(stack):
    name = unique()
    owner = From(stack)  # registers from 127.0.0.1: that address is the owner's
    assert owner.register(name, "right-password").status_code == 201
    answers = []
    for n in range(3, 7):
        attacker = From(stack, f"127.0.0.{n}")
        answers += [attacker.login(name, "wrong-guess") for _ in range(PAIR_MAX + 1)]
    # Before: the name was locked for 15 minutes for everyone, the owner included.
    assert owner.login(name, "right-password").status_code == 200
    # The attackers were slowed down: past SLOWDOWN_AFTER failures, told to wait (Retry-After).
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) >= SLOWDOWN_AFTER and 429 in statuses
    slowed = [answer for answer in answers if answer.status_code == 429 and "slowed" in answer.json()["error"]]
    assert slowed, [answer.json() for answer in answers if answer.status_code == 429]
    assert int(slowed[0].headers["Retry-After"]) >= 1 and slowed[0].json()["retryAfterSeconds"] >= 1
    # From an address it never used, the owner is slowed down, not locked out: it gets in after
    # waiting what it was told (an attacker could take that turn first; none does here).
    traveller = From(stack, "127.0.0.9")
    answer = traveller.login(name, "right-password")
    if answer.status_code == 429:
        time.sleep(int(answer.headers["Retry-After"]))
        answer = traveller.login(name, "right-password")
    assert answer.status_code == 200


def test_one_address_cannot_lock_other_names_nor_the_users_behind_it(stack):
    behind_nat = From(stack, "127.0.0.10")
    colleague = unique("c")
    assert behind_nat.register(colleague, "right-password").status_code == 201
    victims = [unique("v") for _ in range(3)]
    for victim in victims:
        assert From(stack).register(victim, "right-password").status_code == 201
    # One address spraying names: each name PAIR_MAX times would once have locked them all.
    statuses = [behind_nat.login(victim, f"guess-{n}").status_code for victim in victims for n in range(PAIR_MAX)]
    assert statuses.count(401) == ADDRESS_MAX and statuses.count(429) == len(statuses) - ADDRESS_MAX
    refused = behind_nat.login(unique("x"), "whatever1")
    assert refused.status_code == 429 and "your address" in refused.json()["error"]
    # The victims are not locked: from their own addresses they get in.
    for victim in victims:
        assert From(stack).login(victim, "right-password").status_code == 200
    # Someone behind the same address (a NAT) who signed up from it is not held up by the sprayer.
    assert behind_nat.login(colleague, "right-password").status_code == 200


def test_make_dev_sets_up_its_demo_users_without_spending_a_login_failure(stack):
    """Before: `make dev` logged in first (a failure on a fresh database), so after three typos
    from 127.0.0.1 the address was locked and make dev could not restart ("HTTP 409")."""
    alice, bob = unique("alice"), unique("bob")
    passwords = {alice: "alice-pw-1234", bob: "bob-pw-5678"}
    settings = local_settings(stack)
    tokens = ensure_demo_users(stack.dynamodb(), passwords, settings)
    assert limit_keys(stack, alice) == [] and limit_keys(stack, bob) == []
    for name, token in tokens.items():
        assert verify_token(token, keys=[jwt_secret().encode()], audience="wschat-local").username == name

    here = From(stack)
    for _ in range(PAIR_MAX):
        assert here.login(alice, "typo-typo").status_code == 401
    again = ensure_demo_users(stack.dynamodb(), passwords, settings)  # make dev, restarted
    assert set(again) == {alice, bob}
    assert here.login(bob, passwords[bob]).status_code == 200  # 127.0.0.1 is not locked
    # A lost passwords file: the demo user is given the new password rather than refused.
    ensure_demo_users(stack.dynamodb(), {bob: "bob-new-password"}, settings)
    assert here.login(bob, "bob-new-password").status_code == 200


# -- 3. the password cost ----------------------------------------------------------------------


def test_passwords_are_hashed_at_owasps_scrypt_cost_and_old_hashes_upgraded_on_login(stack):
    name = unique()
    assert From(stack).register(name, "right-password").status_code == 201
    assert item(stack, USERS, "usernameKey", name)["passwordHash"]["S"].startswith("scrypt$131072$8$1$")

    # An account stored by the previous code (N=2^14) still logs in, and leaves with the new cost.
    old = unique("old")
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"legacy-password", salt=salt, n=2**14, r=8, p=1, dklen=32, maxmem=64 * 1024 * 1024)
    stack.dynamodb().put_item(TableName=USERS, Item={
        "usernameKey": {"S": old}, "username": {"S": old}, "guest": {"BOOL": False},
        "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
        "passwordHash": {"S": f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"},
    })
    assert From(stack).login(old, "legacy-password").status_code == 200
    assert item(stack, USERS, "usernameKey", old)["passwordHash"]["S"].startswith("scrypt$131072$8$1$")
    assert From(stack).login(old, "legacy-password").status_code == 200


# -- 4. look-alike names -----------------------------------------------------------------------


def test_a_look_alike_name_in_full_width_letters_cannot_register_and_logs_in_as_the_owner(stack):
    name = unique("ab")
    assert From(stack).register(name, "right-password").status_code == 201
    wide = "".join(chr(ord(c) + 0xFEE0) for c in name)  # ａｂ0123... : the same name, full width
    taken = From(stack).register(wide, "other-password")
    assert taken.status_code == 409 and taken.json() == {"error": "that username is taken"}
    answer = From(stack).login(wide.upper(), "right-password")
    assert answer.status_code == 200 and answer.json()["user"]["username"] == name


# -- 5. guest names ----------------------------------------------------------------------------


def test_guest_names_have_80_random_bits_and_are_held_while_history_may_show_them(stack):
    names = [From(stack).post("guest").json()["user"]["username"] for _ in range(3)]
    assert len(set(names)) == 3
    for name in names:
        assert len(name) == 22 and name.startswith("guest-") and set(name[6:]) <= set("abcdefghijklmnopqrstuvwxyz234567")
    held_until = int(item(stack, USERS, "usernameKey", names[0])["ttl"]["N"])
    # 90 days of SessionHistory (the local stage's retention) and 2 for DynamoDB's TTL delay.
    assert held_until >= time.time() + 92 * 86400
