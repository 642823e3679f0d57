"""The accounts service driven directly: login limits (reserved before the password is checked,
per name and address, per address, the per-name slowdown), known addresses, rehashing, username
normalisation, guest names. Moto's DynamoDB behind the store, a clock the test moves."""

import json
import re
import threading

import pytest

from handler import accounts as accounts_module
from handler import app
from handler.auth import passwords
from handler.events import HttpEvent
from handler.guard import Refused
from tests.unit.conftest import Clock, install_app
from tests.unit.doubles import Interleaved

T0 = 1_795_000_000_000  # epoch ms
OWNER_IP = "192.0.2.10"


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def service_with(dynamodb, clock, monkeypatch):
    """The accounts service of an App built with these settings, over moto (one call at a time)."""

    def build(client=None, **env):
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        instance = install_app(dynamodb=client or dynamodb)
        instance.clock = clock
        return instance.account_service

    return build


@pytest.fixture
def service(service_with):
    return service_with()


def event(body=None, ip="203.0.113.7") -> HttpEvent:
    raw = {"requestContext": {"http": {"sourceIp": ip}}, "body": json.dumps(body) if body is not None else None}
    return HttpEvent.of(raw)


def login(service, username, password, ip) -> tuple[int, dict]:
    """(status, body) as the HTTP route answers: refusals included."""
    try:
        return service.login(event({"username": username, "password": password}, ip))
    except Refused as refused:
        body = {"error": refused.message}
        if refused.retry_after is not None:
            body["retryAfterSeconds"] = refused.retry_after
        return refused.status, body


def register(service, username, password="right-password", ip=OWNER_IP) -> dict:
    status, body = service.register(event({"username": username, "password": password}, ip))
    assert status == 201
    return body


# -- reserved before the password is checked ------------------------------------------------------


def test_concurrent_guesses_check_no_more_passwords_than_the_limit(service_with, dynamodb, monkeypatch):
    """Twelve guesses at once, the right password among them, limit 5: at most 5 are checked."""
    service = service_with(Interleaved(dynamodb), WSCHAT_LOGIN_MAX_FAILURES=5)
    register(service, "kim")
    checking, release = [], threading.Event()
    real_check = accounts_module.check_password

    def held_check(password, stored):
        # Every guess that gets this far waits here until all twelve have answered or arrived:
        # a check that reads the counter first and counts afterwards would let all twelve in.
        checking.append(password)
        release.wait(timeout=10)
        return real_check(password, stored)

    monkeypatch.setattr(accounts_module, "check_password", held_check)
    guesses = [f"guess-{n:02d}" for n in range(11)] + ["right-password"]
    answers = []

    def guess(password):
        answers.append(login(service, "kim", password, "198.51.100.7"))
        if len(answers) + len(checking) >= len(guesses) and not release.is_set():
            release.set()

    threads = [threading.Thread(target=guess, args=(password,)) for password in guesses]
    for thread in threads:
        thread.start()
    watchdog = threading.Timer(5, release.set)  # in case fewer than twelve could ever arrive
    watchdog.start()
    for thread in threads:
        thread.join(timeout=30)
    watchdog.cancel()
    assert len(checking) <= 5
    statuses = sorted(status for status, _ in answers)
    assert len(statuses) == 12 and statuses.count(429) >= 7
    assert sum(1 for status in statuses if status in (200, 401)) == len(checking)


def test_a_refusal_gives_back_what_it_had_reserved(service_with):
    service = service_with(WSCHAT_LOGIN_ADDRESS_MAX_FAILURES=2)
    for name in ("ann", "ben"):
        assert login(service, name, "whatever1", "198.51.100.8")[0] == 401
    assert login(service, "cat", "whatever1", "198.51.100.8")[0] == 429
    store = app.app().accounts_store
    now = T0 // 1000
    assert store.counter("login#pair#cat#198.51.100.8", now) == 0
    assert store.counter("login#user#cat", now) == 0


def test_unknown_names_are_counted_like_known_ones_so_limits_reveal_nothing(service_with):
    service = service_with(WSCHAT_LOGIN_MAX_FAILURES=2)
    register(service, "real")
    answers = {}
    for name in ("real", "ghost"):
        answers[name] = [login(service, name, "wrong-guess", "198.51.100.9") for _ in range(3)]
    assert answers["real"] == answers["ghost"]
    assert [status for status, _ in answers["real"]] == [401, 401, 429]


# -- per name and address: only that address waits ---------------------------------------------


def test_the_pair_limit_holds_that_address_for_that_name_until_its_window_ends(service_with, clock):
    service = service_with(WSCHAT_LOGIN_MAX_FAILURES=3)
    register(service, "lee")
    for _ in range(3):
        assert login(service, "lee", "wrong-guess", "198.51.100.10")[0] == 401
    clock.advance(600)
    status, body = login(service, "lee", "right-password", "198.51.100.10")
    assert status == 429 and body["retryAfterSeconds"] == 300
    assert login(service, "lee", "right-password", OWNER_IP)[0] == 200  # the owner is not held up
    clock.advance(300)
    assert login(service, "lee", "right-password", "198.51.100.10")[0] == 200


# -- per name over all addresses: slowed down, never locked ---------------------------------------


@pytest.fixture
def slowed(service_with):
    """Past 3 failures of one name, unknown addresses take turns 2, 4, 8 s apart (at most 8)."""
    return service_with(WSCHAT_LOGIN_MAX_FAILURES=2, WSCHAT_LOGIN_SLOWDOWN_AFTER=3,
                        WSCHAT_LOGIN_SLOWDOWN_BASE_SECONDS=2, WSCHAT_LOGIN_SLOWDOWN_MAX_SECONDS=8)


def hammer(service, name, addresses):
    return [login(service, name, "wrong-guess", address) for address in addresses]


def test_past_the_threshold_unknown_addresses_take_turns_that_grow_apart(slowed, clock):
    register(slowed, "mia")
    answers = hammer(slowed, "mia", ["198.51.100.21", "198.51.100.22", "198.51.100.23"])
    assert [status for status, _ in answers] == [401, 401, 401]  # up to the threshold: no wait
    assert login(slowed, "mia", "wrong-guess", "198.51.100.24")[0] == 401  # the 4th: its turn was free
    status, body = login(slowed, "mia", "wrong-guess", "198.51.100.25")
    assert status == 429 and body["retryAfterSeconds"] == 2 and "slowed down" in body["error"]
    clock.advance(2)
    assert login(slowed, "mia", "wrong-guess", "198.51.100.25")[0] == 401  # the 5th: 4 s to the next
    clock.advance(3)
    assert login(slowed, "mia", "wrong-guess", "198.51.100.26") == (
        429, {"error": "too many failed logins for this name; it is being slowed down; try again in 1 s",
              "retryAfterSeconds": 1})


def test_the_owner_gets_in_from_a_known_address_while_others_hammer_the_name(slowed, clock):
    register(slowed, "noa")  # signing up makes OWNER_IP known for noa
    hammer(slowed, "noa", [f"198.51.100.{n}" for n in range(30, 40) for _ in range(3)])
    assert login(slowed, "noa", "right-password", OWNER_IP)[0] == 200
    # From an address never used, the owner is slowed like anyone else, not locked out.
    status, body = login(slowed, "noa", "right-password", "203.0.113.99")
    assert status == 429
    clock.advance(body["retryAfterSeconds"])
    assert login(slowed, "noa", "right-password", "203.0.113.99")[0] == 200
    # ...and that address is known from now on.
    hammer(slowed, "noa", ["198.51.100.41"])
    assert login(slowed, "noa", "right-password", "203.0.113.99")[0] == 200


def test_someone_sharing_the_owners_address_is_slowed_too_without_holding_up_others(slowed, clock):
    register(slowed, "nat")
    hammer(slowed, "nat", [f"198.51.100.{n}" for n in range(40, 45)])  # the name is hot
    # A guesser behind the owner's address (a NAT) takes that address's own turns...
    assert login(slowed, "nat", "wrong-guess", OWNER_IP)[0] == 401
    status, body = login(slowed, "nat", "wrong-guess", OWNER_IP)
    assert status == 429 and "slowed down" in body["error"]
    # ...which the attempts from elsewhere do not share: the name's turn is another one.
    clock.advance(body["retryAfterSeconds"])
    assert login(slowed, "nat", "right-password", OWNER_IP)[0] == 200


def test_an_address_is_known_for_30_days_after_its_last_login(slowed, clock):
    register(slowed, "oli")
    clock.advance(30 * 86400)
    hammer(slowed, "oli", [f"198.51.100.{n}" for n in range(50, 56)])
    assert login(slowed, "oli", "right-password", OWNER_IP)[0] == 429  # no longer known: slowed


def test_a_successful_login_does_not_reset_the_slowdown_for_the_others(slowed, clock):
    register(slowed, "pat")
    hammer(slowed, "pat", ["198.51.100.61", "198.51.100.62", "198.51.100.63", "198.51.100.64"])
    assert login(slowed, "pat", "right-password", OWNER_IP)[0] == 200
    assert login(slowed, "pat", "wrong-guess", "198.51.100.65")[0] == 429


# -- per address over all names: a NAT's known users are not held up ---------------------------


def test_an_address_guessing_many_names_is_refused_except_for_names_that_logged_in_from_it(service_with):
    service = service_with(WSCHAT_LOGIN_ADDRESS_MAX_FAILURES=3)
    register(service, "office-1", ip="198.51.100.70")
    register(service, "elsewhere", ip=OWNER_IP)
    for n in range(3):
        assert login(service, f"name{n}", "whatever1", "198.51.100.70")[0] == 401
    status, body = login(service, "elsewhere", "right-password", "198.51.100.70")
    assert status == 429 and body["error"].startswith("too many failed logins from your address")
    assert login(service, "office-1", "right-password", "198.51.100.70")[0] == 200
    assert login(service, "office-1", "wrong-guess", "198.51.100.70")[0] == 401  # its own pair still counts


def test_ipv6_addresses_are_counted_per_64(service_with):
    service = service_with(WSCHAT_LOGIN_MAX_FAILURES=2)
    assert login(service, "quinn", "guess-0001", "2001:db8:7:7::1")[0] == 401
    assert login(service, "quinn", "guess-0002", "2001:db8:7:7::2")[0] == 401
    assert login(service, "quinn", "guess-0003", "2001:db8:7:7:ffff::3")[0] == 429
    assert login(service, "quinn", "guess-0004", "2001:db8:7:8::1")[0] == 401  # another /64


# -- rehashing -------------------------------------------------------------------------------------


def test_a_login_with_an_older_hash_stores_one_at_the_current_cost(service, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(passwords, "N", 2**8)
        register(service, "rae")
    store = app.app().accounts_store
    assert store.get_user("rae").password_hash.startswith(f"scrypt${2**8}$")
    assert login(service, "rae", "wrong-guess", OWNER_IP)[0] == 401
    assert store.get_user("rae").password_hash.startswith(f"scrypt${2**8}$")  # only a match upgrades
    assert login(service, "rae", "right-password", OWNER_IP)[0] == 200
    assert store.get_user("rae").password_hash.startswith(f"scrypt${passwords.N}$8$1$")
    assert login(service, "rae", "right-password", OWNER_IP)[0] == 200


# -- usernames -------------------------------------------------------------------------------------


def test_a_look_alike_in_full_width_letters_is_the_same_name(service):
    register(service, "alice")
    with pytest.raises(Refused) as taken:
        service.register(event({"username": "ａｌｉｃｅ", "password": "other-password"}))
    assert taken.value.status == 409
    status, body = login(service, "ＡＬＩＣＥ", "right-password", OWNER_IP)
    assert status == 200 and body["user"]["username"] == "alice"


def test_a_name_is_shown_as_typed_after_nfkc(service):
    assert register(service, "Ｓａｍ_２")["user"]["username"] == "Sam_2"
    assert register(service, "\u212aai")["user"]["username"] == "Kai"  # KELVIN SIGN is a K


@pytest.mark.parametrize("typed, error", [
    ("ｇｕｅｓｔ-1234", "reserved"),
    ("Ｇuest-1234", "reserved"),
    ("ａ\u3000ｂ", "username must be"),  # an ideographic space is a space
    ("ab\u0301c", "username must be"),  # a combining accent stays a non-ASCII letter
    ("ａｂ", "username must be"),  # two letters, whatever their width
])
def test_names_are_checked_after_nfkc(service, typed, error):
    with pytest.raises(Refused) as refused:
        service.register(event({"username": typed, "password": "right-password"}))
    assert refused.value.status == 400 and error in refused.value.message


def test_failures_count_against_the_name_in_any_form(service_with):
    service = service_with(WSCHAT_LOGIN_MAX_FAILURES=2)
    register(service, "tess")
    assert login(service, "TESS", "wrong-guess", "198.51.100.80")[0] == 401
    assert login(service, "ｔｅｓｓ", "wrong-guess", "198.51.100.80")[0] == 401
    assert login(service, "tess", "right-password", "198.51.100.80")[0] == 429


# -- guests ----------------------------------------------------------------------------------------


def test_a_guest_name_has_80_random_bits_and_is_held_for_the_longest_retention(service, clock):
    status, body = service.guest(event())
    name = body["user"]["username"]
    assert status == 201 and re.fullmatch(r"guest-[a-z2-7]{16}", name)  # 16 base32 characters: 80 bits
    item = app.app().accounts_store.users.get("test", {"usernameKey": {"S": name}})
    accounts = app.app().settings.accounts
    assert accounts.guest_name_hold_days == 92  # the 90 days of SessionHistory, and 2 for TTL's delay
    held_until = T0 // 1000 + 900 + 900 + 92 * 86400 + 60
    assert item["ttl"] == {"N": str(held_until)}
    # Within that time nobody else gets the name.
    store = app.app().accounts_store
    assert not store.create_user(username=name, password_hash=None, guest=True,
                                 created_at_ms=(held_until - 1) * 1000, ttl=held_until + 1000)


def test_the_hold_follows_the_stages_retention(service_with):
    service = service_with(WSCHAT_SESSION_RETENTION_DAYS=365, WSCHAT_MESSAGE_RETENTION_DAYS=90)
    assert app.app().settings.accounts.guest_name_hold_days == 367
    assert service.guest(event())[0] == 201


def test_a_guest_name_already_held_is_never_handed_out_again(service, monkeypatch):
    taken = service.guest(event())[1]["user"]["username"]
    draws = iter([taken, taken, "guest-aaaaaaaaaaaaaaaa"])
    monkeypatch.setattr(accounts_module, "guest_name", lambda: next(draws))
    assert service.guest(event())[1]["user"]["username"] == "guest-aaaaaaaaaaaaaaaa"
