"""MessageStore against moto's DynamoDB: messages stored, repeats of a client message id, id
clashes and pages, as a caller reads them back."""

import types

import pytest
from botocore.exceptions import ClientError

from handler import protocol
from handler.errors import StorageUnavailable
from handler.store import messages as messages_module
from tests.unit.store_support import T0, Wrapped, append, chat_stores


@pytest.fixture
def chats(dynamodb):
    return chat_stores(dynamodb)


def fixed_suffixes(monkeypatch, *suffixes):
    """Make the random part of new ids these, in order."""
    queue = iter(suffixes)
    monkeypatch.setattr(messages_module, "secrets", types.SimpleNamespace(
        token_hex=lambda _: next(queue), randbelow=messages_module.secrets.randbelow))


def append_once(chats, text, client_msg_id, at_ms=T0, room="general", sender="alice", window=600):
    return chats.messages.append_message_once(room=room, sender=sender, message=text, client_msg_id=client_msg_id,
                                     sent_at_ms=at_ms, window_seconds=window)


def test_a_repeated_client_msg_id_returns_the_original_and_stores_nothing(chats):
    first, new = append_once(chats, "hello", "c-1")
    assert new is True and first.client_msg_id == "c-1"
    again, new = append_once(chats, "hello, edited", "c-1", at_ms=T0 + 5000, room="elsewhere")
    assert (again, new) == (first, False)
    assert chats.messages.recent_messages("general", 10)[0] == [first] and chats.messages.recent_messages("elsewhere", 10)[0] == []
    other_user, new = append_once(chats, "hello", "c-1", sender="bob")
    assert new is True and other_user.id != first.id
    other_id, new = append_once(chats, "hello", "c-2")
    assert new is True


def test_a_client_msg_id_is_free_again_after_the_window(chats):
    first, _ = append_once(chats, "one", "c-1", window=600)
    assert append_once(chats, "one", "c-1", at_ms=T0 + 599_000)[1] is False
    later, new = append_once(chats, "one", "c-1", at_ms=T0 + 600_000)
    assert new is True and later.id != first.id


def test_a_repeat_reads_the_claim_when_dynamodb_did_not_return_it(dynamodb):
    def transact_write_items(TransactItems, **request):
        for action in TransactItems:
            action["Put"].pop("ReturnValuesOnConditionCheckFailure", None)
        return dynamodb.transact_write_items(TransactItems=TransactItems, **request)

    chats = chat_stores(Wrapped(dynamodb, transact_write_items=transact_write_items))
    first, _ = append_once(chats, "hello", "c-1")
    assert append_once(chats, "hello", "c-1") == (first, False)


def test_a_conflict_or_an_id_clash_in_the_transaction_is_tried_again(dynamodb, monkeypatch):
    calls = []

    def transact_write_items(TransactItems, **request):
        calls.append(TransactItems[1]["Put"]["Item"]["id"]["S"])
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
                              "TransactWriteItems")
        return dynamodb.transact_write_items(TransactItems=TransactItems, **request)

    fixed_suffixes(monkeypatch, "abcdef", "123456")
    chats = chat_stores(Wrapped(dynamodb, transact_write_items=transact_write_items))
    stored, new = append_once(chats, "hello", "c-1")
    assert new is True and calls == [f"{T0:013d}abcdef", f"{T0:013d}123456"] and stored.id == calls[-1]


def test_a_transaction_refused_for_another_reason_is_storage_unavailable(dynamodb):
    def transact_write_items(TransactItems, **request):
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "throttled"},
                           "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}]},
                          "TransactWriteItems")

    chats = chat_stores(Wrapped(dynamodb, transact_write_items=transact_write_items))
    with pytest.raises(StorageUnavailable, match="TransactionCanceledException"):
        append_once(chats, "hello", "c-1")


def test_an_appended_message_reads_back_with_its_time_ordered_id(chats):
    stored = append(chats, "hello", at_ms=T0 + 42, client_msg_id="m-1")
    assert stored.id.startswith(f"{T0 + 42:013d}") and protocol.is_message_id(stored.id)
    assert (stored.sender, stored.message, stored.sent_at, stored.client_msg_id) == (
        "alice", "hello", protocol.iso_utc(T0 + 42), "m-1")
    assert chats.messages.recent_messages("general", 10) == ([stored], False)


def test_ids_strictly_increase_within_a_process_even_in_one_millisecond_or_a_clock_step_back(chats):
    stored = [append(chats, f"m{i}", at_ms=T0) for i in range(5)]
    stored.append(append(chats, "after a clock step back", at_ms=T0 - 1000))
    ids = [m.id for m in stored]
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert {m.sent_at for m in stored[:5]} == {protocol.iso_utc(T0)}  # the time shown is still the clock's
    assert [m.message for m in chats.messages.recent_messages("general", 10)[0]] == [m.message for m in stored]


def test_an_id_clash_with_another_process_is_retried_with_a_new_suffix(dynamodb, monkeypatch):
    fixed_suffixes(monkeypatch, "abcdef", "abcdef", "123456")
    first = append(chat_stores(dynamodb), "from process one", at_ms=T0)
    second = append(chat_stores(dynamodb), "from process two", at_ms=T0)
    assert (first.id, second.id) == (f"{T0:013d}abcdef", f"{T0:013d}123456")
    messages, _ = chat_stores(dynamodb).messages.recent_messages("general", 10)
    assert sorted(m.message for m in messages) == ["from process one", "from process two"]


def test_an_id_that_keeps_clashing_is_unavailable_and_overwrites_nothing(dynamodb, monkeypatch):
    fixed_suffixes(monkeypatch, *["abcdef"] * 4)
    append(chat_stores(dynamodb), "the original", at_ms=T0)
    with pytest.raises(StorageUnavailable, match="no free id"):
        append(chat_stores(dynamodb), "the clash", at_ms=T0)
    assert [m.message for m in chat_stores(dynamodb).messages.recent_messages("general", 10)[0]] == ["the original"]


@pytest.fixture
def seven(chats):
    """Seven messages m0..m6 in room `paged`, one in another room."""
    stored = [append(chats, f"m{i}", at_ms=T0 + i * 1000, room="paged") for i in range(7)]
    append(chats, "not in this room", at_ms=T0 + 3500, room="other")
    return [m.id for m in stored]


def texts(page):
    messages, has_more = page
    return [m.message for m in messages], has_more


def test_recent_messages_are_the_last_ones_oldest_first(chats, seven):
    assert texts(chats.messages.recent_messages("paged", 3)) == (["m4", "m5", "m6"], True)
    assert texts(chats.messages.recent_messages("paged", 7)) == ([f"m{i}" for i in range(7)], False)
    assert texts(chats.messages.recent_messages("paged", 50)) == ([f"m{i}" for i in range(7)], False)
    assert chats.messages.recent_messages("empty", 50) == ([], False)


def test_messages_before_page_backwards(chats, seven):
    assert texts(chats.messages.messages_before("paged", seven[4], 3)) == (["m1", "m2", "m3"], True)
    assert texts(chats.messages.messages_before("paged", seven[3], 3)) == (["m0", "m1", "m2"], False)
    assert texts(chats.messages.messages_before("paged", seven[0], 3)) == ([], False)


def test_messages_after_page_forwards_from_an_id_or_a_moment(chats, seven):
    assert texts(chats.messages.messages_after("paged", seven[2], 2)) == (["m3", "m4"], True)
    assert texts(chats.messages.messages_after("paged", seven[4], 2)) == (["m5", "m6"], False)
    assert texts(chats.messages.messages_after("paged", seven[6], 2)) == ([], False)
    cursor = protocol.message_id_at(T0 + 5000)  # "from this moment": m5 was stored at exactly it
    assert texts(chats.messages.messages_after("paged", cursor, 10)) == (["m5", "m6"], False)
