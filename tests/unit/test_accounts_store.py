"""AccountsStore against moto's DynamoDB: users, limit counters and revoked tokens.

Moto never runs TTL, like AWS in the up to two days before it gets round to an item: an item past
its ttl is still readable here, which is what the store must see through."""

import pytest

from handler.settings import Settings
from handler.store.accounts import AccountsStore, Taken, User, username_key
from tests.unit.conftest import STAGE
from tests.unit.doubles import Interleaved

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



# -- usernames -----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, key", [
    ("Alice", "alice"), ("ＡＬＩＣＥ", "alice"), ("ａｌｉｃｅ", "alice"),
    ("\u212aate", "kate"),  # KELVIN SIGN, which lower() alone keeps
    ("ﬁona", "fiona"),  # the ligature is two letters
    ("bob_2.x-y", "bob_2.x-y"),
])
def test_a_name_is_keyed_by_its_nfkc_case_folded_form(typed, key):
    assert username_key(typed) == key


def test_a_look_alike_in_another_form_is_the_same_name(accounts):
    assert member(accounts, "alice", "scrypt$alice") is True
    assert member(accounts, "ａｌｉｃｅ", "scrypt$look-alike") is False
    assert accounts.get_user("ＡＬＩＣＥ") == User("alice", "scrypt$alice", False)


def test_a_password_hash_is_replaced_only_if_it_is_still_the_one_read(accounts):
    member(accounts, "erin", "scrypt$old")
    assert accounts.set_password_hash("Erin", "scrypt$rehashed", replacing="scrypt$old") is True
    # A password changed meanwhile is not undone by a rehash of the old one.
    assert accounts.set_password_hash("erin", "scrypt$stale", replacing="scrypt$old") is False
    assert accounts.get_user("erin").password_hash == "scrypt$rehashed"
    assert accounts.set_password_hash("erin", "scrypt$reset") is True
    assert accounts.set_password_hash("nobody", "scrypt$x") is False  # never creates a user
    assert accounts.get_user("nobody") is None


# -- take: a counter with a limit, reserved before the work it counts ----------------------------


def test_take_grants_up_to_the_limit_within_the_window_then_refuses_until_it_ends(accounts):
    key = "login#pair#frank#192.0.2.1"
    granted = [accounts.take(key, T0 + step, 900, limit=3) for step in (0, 1, 2)]
    assert [(t.granted, t.count, t.ends_at) for t in granted] == [(True, n, T0 + 900) for n in (1, 2, 3)]
    refused = accounts.take(key, T0 + 3, 900, limit=3)
    assert (refused.granted, refused.count, refused.ends_at) == (False, 3, T0 + 900)
    assert accounts.counter(key, T0 + 3) == 3  # a refusal counts nothing
    assert accounts.take(key, T0 + 900, 900, limit=3) == Taken(True, 1, T0 + 1800)  # a new window


def test_a_limit_of_zero_refuses_everything(accounts):
    assert accounts.take("signup#ip#192.0.2.9", T0, 3600, limit=0).granted is False


def test_given_back_a_taken_count_frees_its_place_but_never_in_a_later_window(accounts):
    key = "login#ip#192.0.2.2"
    first = accounts.take(key, T0, 60, limit=2)
    second = accounts.take(key, T0, 60, limit=2)
    accounts.give_back(key, second)
    assert accounts.take(key, T0 + 1, 60, limit=2).granted is True
    accounts.take(key, T0 + 60, 60)  # a new window
    accounts.give_back(key, first)  # from the old window: changes nothing
    assert accounts.counter(key, T0 + 60) == 1
    accounts.give_back(key, Taken(False, 2, T0 + 120))  # a refusal has nothing to give back
    assert accounts.counter(key, T0 + 60) == 1


def test_two_counts_at_a_windows_end_start_one_new_window_and_both_count(dynamodb):
    key = "login#user#grace"
    accounts = AccountsStore(dynamodb, Settings.from_env().tables)
    accounts.bump_counter(key, T0, 60)
    client = Interleaved(dynamodb, parties=2)
    racing = AccountsStore(client, Settings.from_env().tables)
    counts = client.run_all(lambda: racing.bump_counter(key, T0 + 60, 60), 2)
    # Both found the old window ended; one started the new window and the other counted in it
    # (it must not start the window again: that would wipe out the first one's count).
    assert sorted(counts) == [1, 2]
    assert accounts.counter(key, T0 + 60) == 2


def test_concurrent_takes_never_grant_more_than_the_limit(dynamodb):
    key = "login#pair#henry#192.0.2.3"
    client = Interleaved(dynamodb)
    racing = AccountsStore(client, Settings.from_env().tables)
    results = client.run_all(lambda: racing.take(key, T0, 900, limit=5).granted, 12)
    assert results.count(True) == 5 and results.count(False) == 7


# -- turns: the per-username slowdown ------------------------------------------------------------


def test_a_turn_is_held_until_its_time_and_then_free_for_the_next(accounts):
    key = "login#user#ivan"
    accounts.take(key, T0, 86400)
    assert accounts.take_turn(key, T0, T0 + 4, T0 + 86400) is None
    assert accounts.take_turn(key, T0 + 3, T0 + 3 + 8, T0 + 86400) == T0 + 4  # held: wait until then
    assert accounts.take_turn(key, T0 + 4, T0 + 4 + 8, T0 + 86400) is None
    assert raw_item(accounts.limits.client, "Limits", "key", key)["ttl"] == {"N": str(T0 + 86400)}


# -- known addresses -----------------------------------------------------------------------------


def test_a_remembered_address_is_known_until_its_time_runs_out(accounts):
    key = "login#known#judy#198.51.100.4"
    assert accounts.remembered(key, T0) is False
    accounts.remember(key, T0 + 30 * 86400)
    assert accounts.remembered(key, T0 + 30 * 86400 - 1) is True
    assert accounts.remembered(key, T0 + 30 * 86400) is False  # still stored, as before TTL runs
