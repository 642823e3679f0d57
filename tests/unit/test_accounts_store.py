"""AccountsStore against moto's DynamoDB: users, limit counters and revoked tokens.

Moto never runs TTL, like AWS in the up to two days before it gets round to an item: an item past
its ttl is still readable here, which is what the store must see through."""

import pytest

from handler.settings import Settings
from handler.store.accounts import AccountsStore, User
from tests.unit.conftest import STAGE

T0 = 1_795_000_000  # epoch seconds; every test's clock starts here


@pytest.fixture
def accounts(dynamodb):
    return AccountsStore(dynamodb, Settings.from_env().tables)


def raw_item(client, table, key_name, key) -> dict | None:
    return client.get_item(TableName=f"wschat-{STAGE}-{table}", Key={key_name: {"S": key}},
                           ConsistentRead=True).get("Item")


def member(accounts, username, password_hash="scrypt$hash", at_s=T0):
    return accounts.create_user(username=username, password_hash=password_hash, guest=False, created_at_ms=at_s * 1000)


def guest(accounts, username, *, at_s=T0, ttl):
    return accounts.create_user(username=username, password_hash=None, guest=True, created_at_ms=at_s * 1000, ttl=ttl)


# -- users ---------------------------------------------------------------------------------------


def test_a_user_reads_back_under_the_name_as_typed_in_any_letter_case(accounts):
    assert member(accounts, "Alice", "scrypt$alice") is True
    expected = User(username="Alice", password_hash="scrypt$alice", guest=False)
    assert accounts.get_user("Alice") == expected
    assert accounts.get_user("alice") == expected and accounts.get_user("ALICE") == expected


def test_an_unknown_user_is_none(accounts):
    assert accounts.get_user("nobody") is None


def test_a_name_is_taken_in_any_letter_case_and_the_first_account_is_kept(accounts):
    assert member(accounts, "bob", "scrypt$first") is True
    assert member(accounts, "BOB", "scrypt$second") is False
    assert member(accounts, "bob", "scrypt$third", at_s=T0 + 10 * 365 * 86400) is False  # members never expire
    assert accounts.get_user("bob") == User("bob", "scrypt$first", False)


def test_a_guest_is_a_user_without_a_password(accounts):
    assert guest(accounts, "guest-0a1b", ttl=T0 + 960) is True
    assert accounts.get_user("guest-0a1b") == User("guest-0a1b", None, True)


def test_a_live_guests_name_cannot_be_taken(accounts):
    guest(accounts, "guest-live", ttl=T0 + 960)
    assert guest(accounts, "guest-live", at_s=T0 + 959, ttl=T0 + 959 + 960) is False
    assert guest(accounts, "GUEST-LIVE", at_s=T0 + 960, ttl=T0 + 960 + 960) is False  # until its ttl has passed


def test_an_expired_guests_name_can_be_taken_before_ttl_deletes_it(accounts, dynamodb):
    guest(accounts, "guest-old1", ttl=T0 + 960)
    assert raw_item(dynamodb, "Users", "usernameKey", "guest-old1") is not None  # still there, as on AWS
    assert guest(accounts, "guest-old1", at_s=T0 + 961, ttl=T0 + 961 + 960) is True
    item = raw_item(dynamodb, "Users", "usernameKey", "guest-old1")
    assert item["ttl"] == {"N": str(T0 + 961 + 960)}  # the new guest's, so the name is held again


# -- limit counters ------------------------------------------------------------------------------


def test_an_unknown_counter_is_zero(accounts):
    assert accounts.counter("login#user#nobody", T0) == 0


def test_a_counter_counts_within_the_window_that_its_first_count_started(accounts):
    key = "login#user#carol"
    assert [accounts.bump_counter(key, T0 + step, 60) for step in (0, 10, 59)] == [1, 2, 3]
    assert accounts.counter(key, T0 + 59) == 3
    assert accounts.counter(key, T0 + 60) == 0  # the window of the first count has ended


def test_an_ended_window_starts_over_though_its_item_is_still_readable(accounts, dynamodb):
    key = "login#ip#198.51.100.7"
    accounts.bump_counter(key, T0, 60)
    accounts.bump_counter(key, T0 + 30, 60)
    assert raw_item(dynamodb, "Limits", "key", key)["count"] == {"N": "2"}  # TTL has not deleted it
    assert accounts.bump_counter(key, T0 + 60, 60) == 1  # a new window from T0 + 60...
    assert accounts.bump_counter(key, T0 + 119, 60) == 2  # ...to T0 + 120, not the old one's end
    assert accounts.counter(key, T0 + 119) == 2
    assert accounts.counter(key, T0 + 120) == 0


def test_counters_are_kept_apart_by_key(accounts):
    accounts.bump_counter("signup#ip#192.0.2.1", T0, 3600)
    accounts.bump_counter("signup#ip#192.0.2.1", T0, 3600)
    accounts.bump_counter("signup#ip#192.0.2.2", T0, 3600)
    assert accounts.counter("signup#ip#192.0.2.1", T0) == 2
    assert accounts.counter("signup#ip#192.0.2.2", T0) == 1


def test_a_cleared_counter_is_zero_and_counts_again_from_one(accounts):
    key = "login#user#dave"
    for _ in range(3):
        accounts.bump_counter(key, T0, 900)
    accounts.clear_counter(key)
    assert accounts.counter(key, T0) == 0
    assert accounts.bump_counter(key, T0 + 1, 900) == 1
    accounts.clear_counter("login#user#never-counted")  # nothing to clear is fine


# -- revoked tokens ------------------------------------------------------------------------------


def test_a_revoked_token_reads_as_revoked_and_others_do_not(accounts, dynamodb):
    accounts.revoke_token("jti-out", T0 + 3600)
    assert accounts.is_revoked("jti-out") is True
    assert accounts.is_revoked("jti-still-in") is False
    assert raw_item(dynamodb, "Limits", "key", "revoked#jti-out")["ttl"] == {"N": str(T0 + 3600)}

