"""ConnectionStore against moto's DynamoDB: connection rows and room audiences as a caller reads
them back; pages, batches and refusals through a client that behaves as DynamoDB does at its
limits; and, for every chat store, reads counted and database errors as StorageUnavailable."""

import pytest
from botocore.exceptions import EndpointConnectionError

from handler.errors import StorageUnavailable
from handler.store.connections import Member
from handler.store.dynamo import ConditionFailed, ReadCounter
from tests.unit.store_support import (CONNECTIONS, T0, Wrapped, append, chat_stores, client_error, connection, failing,
                                      small_pages)


@pytest.fixture
def chats(dynamodb):
    return chat_stores(dynamodb)


def test_a_connection_reads_back_as_it_was_put(chats):
    written = connection("c-full", "Alice", "lobby", session_limit=900, jti="jti-1", guest=True)
    chats.connections.put_connection(written)
    assert chats.connections.get_connection("c-full") == written
    plain = connection("c-plain")
    chats.connections.put_connection(plain)
    read = chats.connections.get_connection("c-plain")
    assert read == plain and read.session_ends_at is None and read.jti is None


def test_a_connection_that_was_never_put_reads_as_none(chats):
    assert chats.connections.get_connection("c-never") is None


def test_deadline_is_the_earlier_of_token_expiry_and_session_limit():
    assert connection("c", expires_in=3600, session_limit=900).deadline == T0 // 1000 + 900
    assert connection("c", expires_in=600, session_limit=900).deadline == T0 // 1000 + 600
    assert connection("c", expires_in=600).deadline == T0 // 1000 + 600


def test_delete_connection_returns_what_the_row_held_then_none_once_gone(chats):
    written = connection("c-del", jti="jti-del")
    chats.connections.put_connection(written)
    assert chats.connections.delete_connection("c-del") == written
    assert chats.connections.get_connection("c-del") is None
    assert chats.connections.delete_connection("c-del") is None


def test_delete_connection_with_a_cutoff_keeps_a_row_connected_at_or_after_it(chats):
    chats.connections.put_connection(connection("c-young", at_ms=T0))
    assert chats.connections.delete_connection("c-young", connected_before_ms=T0) is None
    assert chats.connections.get_connection("c-young") is not None
    assert chats.connections.delete_connection("c-young", connected_before_ms=T0 + 1).connection_id == "c-young"
    assert chats.connections.get_connection("c-young") is None
    assert chats.connections.delete_connection("c-young", connected_before_ms=T0 + 1) is None


def test_move_connection_changes_only_the_room(chats):
    chats.connections.put_connection(connection("c-mv", room="r1", jti="jti-mv", session_limit=60))
    moved = chats.connections.move_connection("c-mv", "r2")
    assert moved == connection("c-mv", room="r2", jti="jti-mv", session_limit=60)
    assert chats.connections.get_connection("c-mv").room == "r2"
    assert [m.connection_id for m in chats.connections.room_members("r1")] == []
    assert [m.connection_id for m in chats.connections.room_members("r2")] == ["c-mv"]


def test_moving_a_gone_connection_returns_none_and_leaves_no_row(chats):
    assert chats.connections.move_connection("c-gone", "r2") is None
    assert chats.connections.get_connection("c-gone") is None
    assert chats.connections.room_members("r2") == []


def test_room_members_follows_every_page(dynamodb):
    paged, calls = small_pages(dynamodb)
    chats = chat_stores(paged)
    for i in range(5):
        chats.connections.put_connection(connection(f"c-room-{i}", f"user{i}", "crowded", at_ms=T0 + i))
    chats.connections.put_connection(connection("c-elsewhere", "zed", "quiet"))
    members = chats.connections.room_members("crowded")
    assert sorted(members, key=lambda m: m.connection_id) == [
        Member(f"c-room-{i}", f"user{i}", T0 + i) for i in range(5)
    ]
    assert len(calls) == 3  # 2 + 2 + 1: every page was read, the last one without a next key


def test_an_empty_room_has_no_members(chats):
    assert chats.connections.room_members("nobody-here") == []


def test_user_connections_lists_each_of_the_users_connections_with_its_token_id(chats):
    chats.connections.put_connection(connection("c-a1", "alice", "r1", jti="jti-a1"))
    chats.connections.put_connection(connection("c-a2", "alice", "r2"))
    chats.connections.put_connection(connection("c-b1", "bob", "r1", jti="jti-b1"))
    assert sorted(chats.connections.user_connections("alice")) == [("c-a1", "jti-a1"), ("c-a2", None)]
    assert chats.connections.user_connections("carol") == []


def test_delete_connections_writes_batches_of_25_and_retries_what_was_left_unprocessed(dynamodb):
    batches = []

    def batch_write_item(RequestItems):
        (requests,) = RequestItems.values()
        batches.append(len(requests))
        if len(batches) == 1:
            # DynamoDB processed all but the last two of the first batch.
            dynamodb.batch_write_item(RequestItems={CONNECTIONS: requests[:-2]})
            return {"UnprocessedItems": {CONNECTIONS: requests[-2:]}}
        return dynamodb.batch_write_item(RequestItems=RequestItems)

    chats = chat_stores(Wrapped(dynamodb, batch_write_item=batch_write_item))
    ids = [f"c-batch-{i:02d}" for i in range(30)]
    for cid in ids + ["c-kept"]:
        chats.connections.put_connection(connection(cid))
    chats.connections.delete_connections(ids)
    assert batches == [25, 2, 5]
    assert [cid for cid in ids if chats.connections.get_connection(cid) is not None] == []
    assert chats.connections.get_connection("c-kept") is not None


def test_delete_connections_of_nothing_makes_no_request(dynamodb):
    chats = chat_stores(Wrapped(dynamodb, batch_write_item=lambda **_: pytest.fail("a request for nothing")))
    chats.connections.delete_connections([])


def test_reads_count_the_items_returned_across_pages_and_tables(dynamodb):
    reads = ReadCounter()
    paged, _ = small_pages(dynamodb)
    chats = chat_stores(paged, reads)
    for i in range(5):
        chats.connections.put_connection(connection(f"c-read-{i}", room="counted"))
        append(chats, f"m{i}", at_ms=T0 + i)
    assert reads.total == 0  # writes read nothing
    chats.connections.get_connection("c-read-0")
    chats.connections.get_connection("c-missing")
    assert reads.total == 1
    chats.connections.room_members("counted")
    assert reads.total == 6
    chats.messages.recent_messages("general", 3)  # one page of 3 + the one that says there is more
    assert reads.total == 6 + 4


@pytest.mark.parametrize("operation, call", [
    ("get_item", lambda chats: chats.connections.get_connection("c1")),
    ("put_item", lambda chats: chats.connections.put_connection(connection("c1"))),
    ("delete_item", lambda chats: chats.connections.delete_connection("c1")),
    ("update_item", lambda chats: chats.connections.move_connection("c1", "r2")),
    ("update_item", lambda chats: chats.sessions.session_deadline("jti-1", T0 // 1000, T0 // 1000 + 60)),
    ("update_item", lambda chats: chats.sessions.end_session("c1", room="r", ended_at_ms=T0, reason="gone")),
    ("query", lambda chats: chats.connections.room_members("r")),
    ("query", lambda chats: chats.messages.recent_messages("r", 5)),
    ("batch_write_item", lambda chats: chats.connections.delete_connections(["c1"])),
    ("put_item", lambda chats: append(chats, "hi")),
])
def test_a_database_error_is_storage_unavailable_even_where_conditions_are_absorbed(dynamodb, operation, call):
    chats = failing(dynamodb, operation, client_error("ProvisionedThroughputExceededException", operation))
    with pytest.raises(StorageUnavailable, match="ProvisionedThroughputExceededException"):
        call(chats)


def test_no_answer_from_the_database_is_storage_unavailable(dynamodb):
    chats = failing(dynamodb, "get_item", EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(StorageUnavailable, match="get_connection: EndpointConnectionError"):
        chats.connections.get_connection("c1")


def test_a_condition_the_store_does_not_absorb_is_condition_failed(chats):
    chats.connections.put_connection(connection("c-cond"))
    with pytest.raises(ConditionFailed):
        chats.connections.connections.put("insert_only", {"connectionId": {"S": "c-cond"}},
                              ConditionExpression="attribute_not_exists(connectionId)")
    assert chats.connections.get_connection("c-cond") == connection("c-cond")
