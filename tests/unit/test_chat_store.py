"""ChatStore against moto's DynamoDB: connections, sessions and messages as a caller reads them back;
pages, batches and id clashes through a client that behaves as DynamoDB does at its limits."""

import itertools
import types

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from handler import protocol
from handler.errors import StorageUnavailable
from handler.settings import Settings
from handler.store import chat as chat_module
from handler.store.chat import SWEEP_SHARDS, ChatStore, Connection, FollowUp, Member
from handler.store.dynamo import ConditionFailed, ReadCounter
from tests.unit.conftest import STAGE

CONNECTIONS = f"wschat-{STAGE}-ActiveConnections"
T0 = 1_795_000_000_000  # epoch ms; every test's clock starts here


def chat_store(client, reads=None) -> ChatStore:
    settings = Settings.from_env()
    return ChatStore(client, settings.tables, settings.retention, reads)


@pytest.fixture
def chats(dynamodb):
    return chat_store(dynamodb)


def connection(connection_id, username="alice", room="general", *, at_ms=T0, expires_in=3600, session_limit=None,
               jti=None, guest=False) -> Connection:
    return Connection(
        connection_id=connection_id, username=username, guest=guest, room=room, connected_at_ms=at_ms,
        expires_at=at_ms // 1000 + expires_in,
        session_ends_at=at_ms // 1000 + session_limit if session_limit is not None else None, jti=jti,
    )


def session_item(client, connection_id) -> dict | None:
    return client.get_item(
        TableName=f"wschat-{STAGE}-SessionHistory", Key={"connectionId": {"S": connection_id}}, ConsistentRead=True
    ).get("Item")


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class Wrapped:
    """The moto client, with some operations replaced by a test."""

    def __init__(self, client, **replaced):
        self._client = client
        self._replaced = replaced

    def __getattr__(self, name):
        return self._replaced.get(name) or getattr(self._client, name)


# -- connections ---------------------------------------------------------------------------------


def test_a_connection_reads_back_as_it_was_put(chats):
    written = connection("c-full", "Alice", "lobby", session_limit=900, jti="jti-1", guest=True)
    chats.put_connection(written)
    assert chats.get_connection("c-full") == written
    plain = connection("c-plain")
    chats.put_connection(plain)
    read = chats.get_connection("c-plain")
    assert read == plain and read.session_ends_at is None and read.jti is None


def test_a_connection_that_was_never_put_reads_as_none(chats):
    assert chats.get_connection("c-never") is None


def test_deadline_is_the_earlier_of_token_expiry_and_session_limit():
    assert connection("c", expires_in=3600, session_limit=900).deadline == T0 // 1000 + 900
    assert connection("c", expires_in=600, session_limit=900).deadline == T0 // 1000 + 600
    assert connection("c", expires_in=600).deadline == T0 // 1000 + 600


def test_delete_connection_returns_what_the_row_held_then_none_once_gone(chats):
    written = connection("c-del", jti="jti-del")
    chats.put_connection(written)
    assert chats.delete_connection("c-del") == written
    assert chats.get_connection("c-del") is None
    assert chats.delete_connection("c-del") is None


def test_delete_connection_with_a_cutoff_keeps_a_row_connected_at_or_after_it(chats):
    chats.put_connection(connection("c-young", at_ms=T0))
    assert chats.delete_connection("c-young", connected_before_ms=T0) is None
    assert chats.get_connection("c-young") is not None
    assert chats.delete_connection("c-young", connected_before_ms=T0 + 1).connection_id == "c-young"
    assert chats.get_connection("c-young") is None
    assert chats.delete_connection("c-young", connected_before_ms=T0 + 1) is None


def test_move_connection_changes_only_the_room(chats):
    chats.put_connection(connection("c-mv", room="r1", jti="jti-mv", session_limit=60))
    moved = chats.move_connection("c-mv", "r2")
    assert moved == connection("c-mv", room="r2", jti="jti-mv", session_limit=60)
    assert chats.get_connection("c-mv").room == "r2"
    assert [m.connection_id for m in chats.room_members("r1")] == []
    assert [m.connection_id for m in chats.room_members("r2")] == ["c-mv"]


def test_moving_a_gone_connection_returns_none_and_leaves_no_row(chats):
    assert chats.move_connection("c-gone", "r2") is None
    assert chats.get_connection("c-gone") is None
    assert chats.room_members("r2") == []


def small_pages(client, page_size=2):
    """A client whose queries return `page_size` items a page, as DynamoDB does past 1 MB."""
    calls = []

    def query(**request):
        calls.append(request)
        return client.query(**{"Limit": page_size, **request})

    return Wrapped(client, query=query), calls


def test_room_members_follows_every_page(dynamodb):
    paged, calls = small_pages(dynamodb)
    chats = chat_store(paged)
    for i in range(5):
        chats.put_connection(connection(f"c-room-{i}", f"user{i}", "crowded", at_ms=T0 + i))
    chats.put_connection(connection("c-elsewhere", "zed", "quiet"))
    members = chats.room_members("crowded")
    assert sorted(members, key=lambda m: m.connection_id) == [
        Member(f"c-room-{i}", f"user{i}", T0 + i) for i in range(5)
    ]
    assert len(calls) == 3  # 2 + 2 + 1: every page was read, the last one without a next key


def test_an_empty_room_has_no_members(chats):
    assert chats.room_members("nobody-here") == []


def test_user_connections_lists_each_of_the_users_connections_with_its_token_id(chats):
    chats.put_connection(connection("c-a1", "alice", "r1", jti="jti-a1"))
    chats.put_connection(connection("c-a2", "alice", "r2"))
    chats.put_connection(connection("c-b1", "bob", "r1", jti="jti-b1"))
    assert sorted(chats.user_connections("alice")) == [("c-a1", "jti-a1"), ("c-a2", None)]
    assert chats.user_connections("carol") == []


def test_expired_connections_finds_only_expired_rows_in_every_shard_each_once(chats, monkeypatch):
    shards = itertools.cycle(range(SWEEP_SHARDS))
    monkeypatch.setattr(chat_module, "secrets", types.SimpleNamespace(
        randbelow=lambda _: next(shards), token_hex=chat_module.secrets.token_hex))
    now_s = T0 // 1000 + 1000
    expired = []
    for i in range(SWEEP_SHARDS):  # one expired row in each shard: half by token, half by session limit
        conn = connection(f"c-exp-{i}", f"user{i}", room=f"r{i}", expires_in=1000) if i % 2 else \
            connection(f"c-exp-{i}", f"user{i}", room=f"r{i}", expires_in=5000, session_limit=999)
        chats.put_connection(conn)
        expired.append(conn)
    for i in range(SWEEP_SHARDS):  # and one that has a second left
        chats.put_connection(connection(f"c-live-{i}", f"user{i}", expires_in=1001))
    found = chats.expired_connections(now_s)
    assert sorted(c.connection_id for c in found) == sorted(c.connection_id for c in expired)
    by_id = {c.connection_id: c for c in found}
    for conn in expired:
        assert (by_id[conn.connection_id].username, by_id[conn.connection_id].room,
                by_id[conn.connection_id].expires_at) == (conn.username, conn.room, conn.expires_at)
    assert chats.expired_connections(T0 // 1000) == []


# -- follow-ups ----------------------------------------------------------------------------------


def test_follow_ups_are_found_when_due_beside_expired_connections_and_nowhere_else(chats):
    chats.put_connection(connection("c-old", "alice", "lobby", expires_in=10))
    logout = FollowUp("logout", ("alice", "jti#with#hashes"), T0 // 1000 + 5)
    presence = FollowUp("presence", ("lobby", "bob"), T0 // 1000 + 20)
    chats.schedule(logout)
    chats.schedule(presence)
    assert chats.due(T0 // 1000) == ([], [])
    expired, follow_ups = chats.due(T0 // 1000 + 10)
    assert [c.connection_id for c in expired] == ["c-old"] and follow_ups == [logout]
    assert chats.expired_connections(T0 // 1000 + 30)[0].connection_id == "c-old"
    assert sorted(chats.due(T0 // 1000 + 30)[1], key=lambda f: f.key) == [logout, presence]
    # A follow-up row is no member of a room and no connection of a user.
    assert chats.room_members("lobby") == [Member("c-old", "alice", T0)]
    assert chats.user_connections("bob") == [] and chats.user_connections("alice") == [("c-old", None)]


def test_scheduling_again_replaces_and_finishing_keeps_a_later_schedule(chats):
    first = FollowUp("presence", ("lobby", "bob"), T0 // 1000 + 5)
    later = FollowUp("presence", ("lobby", "bob"), T0 // 1000 + 9)
    chats.schedule(first)
    chats.schedule(later)
    assert chats.due(T0 // 1000 + 60)[1] == [later]
    chats.finish(first)  # done with the one seen earlier: the later one stays
    assert chats.due(T0 // 1000 + 60)[1] == [later]
    chats.finish(later)
    assert chats.due(T0 // 1000 + 60) == ([], [])


def test_a_follow_up_whose_leading_parts_hold_a_separator_is_refused(chats):
    with pytest.raises(ValueError):
        chats.schedule(FollowUp("presence", ("lob#by", "bob"), T0 // 1000))


# -- session deadlines and sent ids (Limits) -----------------------------------------------------


def test_a_tokens_session_deadline_is_the_first_one_proposed(chats, dynamodb):
    assert chats.session_deadline("jti-1", T0 // 1000 + 900, T0 // 1000 + 900) == T0 // 1000 + 900
    assert chats.session_deadline("jti-1", T0 // 1000 + 960, T0 // 1000 + 900) == T0 // 1000 + 900
    assert chats.session_deadline("jti-2", T0 // 1000 + 960, T0 // 1000 + 1000) == T0 // 1000 + 960
    stored = dynamodb.get_item(TableName=f"wschat-{STAGE}-Limits", Key={"key": {"S": "session#jti-1"}})["Item"]
    assert stored["ttl"] == {"N": str(T0 // 1000 + 900)}


def append_once(chats, text, client_msg_id, at_ms=T0, room="general", sender="alice", window=600):
    return chats.append_message_once(room=room, sender=sender, message=text, client_msg_id=client_msg_id,
                                     sent_at_ms=at_ms, window_seconds=window)


def test_a_repeated_client_msg_id_returns_the_original_and_stores_nothing(chats):
    first, new = append_once(chats, "hello", "c-1")
    assert new is True and first.client_msg_id == "c-1"
    again, new = append_once(chats, "hello, edited", "c-1", at_ms=T0 + 5000, room="elsewhere")
    assert (again, new) == (first, False)
    assert chats.recent_messages("general", 10)[0] == [first] and chats.recent_messages("elsewhere", 10)[0] == []
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
    def transact_write_items(TransactItems):
        for action in TransactItems:
            action["Put"].pop("ReturnValuesOnConditionCheckFailure", None)
        return dynamodb.transact_write_items(TransactItems=TransactItems)

    chats = chat_store(Wrapped(dynamodb, transact_write_items=transact_write_items))
    first, _ = append_once(chats, "hello", "c-1")
    assert append_once(chats, "hello", "c-1") == (first, False)


def test_a_conflict_or_an_id_clash_in_the_transaction_is_tried_again(dynamodb, monkeypatch):
    calls = []

    def transact_write_items(TransactItems):
        calls.append(TransactItems[1]["Put"]["Item"]["id"]["S"])
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
                              "TransactWriteItems")
        return dynamodb.transact_write_items(TransactItems=TransactItems)

    fixed_suffixes(monkeypatch, "abcdef", "123456")
    chats = chat_store(Wrapped(dynamodb, transact_write_items=transact_write_items))
    stored, new = append_once(chats, "hello", "c-1")
    assert new is True and calls == [f"{T0:013d}abcdef", f"{T0:013d}123456"] and stored.id == calls[-1]


def test_a_transaction_refused_for_another_reason_is_storage_unavailable(dynamodb):
    def transact_write_items(TransactItems):
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "throttled"},
                           "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}]},
                          "TransactWriteItems")

    chats = chat_store(Wrapped(dynamodb, transact_write_items=transact_write_items))
    with pytest.raises(StorageUnavailable, match="TransactionCanceledException"):
        append_once(chats, "hello", "c-1")


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

    chats = chat_store(Wrapped(dynamodb, batch_write_item=batch_write_item))
    ids = [f"c-batch-{i:02d}" for i in range(30)]
    for cid in ids + ["c-kept"]:
        chats.put_connection(connection(cid))
    chats.delete_connections(ids)
    assert batches == [25, 2, 5]
    assert [cid for cid in ids if chats.get_connection(cid) is not None] == []
    assert chats.get_connection("c-kept") is not None


def test_delete_connections_of_nothing_makes_no_request(dynamodb):
    chats = chat_store(Wrapped(dynamodb, batch_write_item=lambda **_: pytest.fail("a request for nothing")))
    chats.delete_connections([])


# -- sessions ------------------------------------------------------------------------------------


def test_a_session_records_its_start_then_its_end_and_duration(chats, dynamodb):
    conn = connection("c-sess", "alice", "lobby", at_ms=T0 + 250)
    chats.start_session(conn, source_ip="203.0.113.9", user_agent="Mozilla/5.0")
    chats.end_session("c-sess", room="elsewhere", ended_at_ms=T0 + 95_900, reason="client closed")
    item = session_item(dynamodb, "c-sess")
    assert item["username"] == {"S": "alice"} and item["room"] == {"S": "lobby"}
    assert item["connectedAt"] == {"S": protocol.iso_utc(T0 + 250)}
    assert item["disconnectedAt"] == {"S": protocol.iso_utc(T0 + 95_900)}
    assert item["durationSeconds"] == {"N": "95"}
    assert item["reason"] == {"S": "client closed"} and item["lastRoom"] == {"S": "elsewhere"}
    assert item["sourceIp"] == {"S": "203.0.113.9"} and item["userAgent"] == {"S": "Mozilla/5.0"}
    assert int(item["ttl"]["N"]) == T0 // 1000 + 90 * 86400  # the stage's session retention


def test_ending_a_session_twice_keeps_the_first_end(chats, dynamodb):
    chats.start_session(connection("c-twice"), source_ip=None, user_agent=None)
    chats.end_session("c-twice", room="general", ended_at_ms=T0 + 5_000, reason="token expired")
    chats.end_session("c-twice", room="general", ended_at_ms=T0 + 9_000, reason="client closed")
    item = session_item(dynamodb, "c-twice")
    assert item["reason"] == {"S": "token expired"} and item["durationSeconds"] == {"N": "5"}
    assert "sourceIp" not in item and "userAgent" not in item


def test_ending_a_session_that_never_started_writes_nothing(chats, dynamodb):
    chats.end_session("c-unknown", room="general", ended_at_ms=T0, reason="gone")
    assert session_item(dynamodb, "c-unknown") is None


def test_a_long_user_agent_and_address_are_cut(chats, dynamodb):
    chats.start_session(connection("c-long"), source_ip="1" * 100, user_agent="u" * 1000)
    item = session_item(dynamodb, "c-long")
    assert len(item["sourceIp"]["S"]) == 64 and len(item["userAgent"]["S"]) == 512


# -- messages ------------------------------------------------------------------------------------


def append(chats, text, at_ms=T0, room="general", sender="alice", client_msg_id=None):
    return chats.append_message(room=room, sender=sender, message=text, client_msg_id=client_msg_id, sent_at_ms=at_ms)


def test_an_appended_message_reads_back_with_its_time_ordered_id(chats):
    stored = append(chats, "hello", at_ms=T0 + 42, client_msg_id="m-1")
    assert stored.id.startswith(f"{T0 + 42:013d}") and protocol.is_message_id(stored.id)
    assert (stored.sender, stored.message, stored.sent_at, stored.client_msg_id) == (
        "alice", "hello", protocol.iso_utc(T0 + 42), "m-1")
    assert chats.recent_messages("general", 10) == ([stored], False)


def test_ids_strictly_increase_within_a_process_even_in_one_millisecond_or_a_clock_step_back(chats):
    stored = [append(chats, f"m{i}", at_ms=T0) for i in range(5)]
    stored.append(append(chats, "after a clock step back", at_ms=T0 - 1000))
    ids = [m.id for m in stored]
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert {m.sent_at for m in stored[:5]} == {protocol.iso_utc(T0)}  # the time shown is still the clock's
    assert [m.message for m in chats.recent_messages("general", 10)[0]] == [m.message for m in stored]


def fixed_suffixes(monkeypatch, *suffixes):
    """Make the random part of new ids these, in order."""
    queue = iter(suffixes)
    monkeypatch.setattr(chat_module, "secrets", types.SimpleNamespace(
        token_hex=lambda _: next(queue), randbelow=chat_module.secrets.randbelow))


def test_an_id_clash_with_another_process_is_retried_with_a_new_suffix(dynamodb, monkeypatch):
    fixed_suffixes(monkeypatch, "abcdef", "abcdef", "123456")
    first = append(chat_store(dynamodb), "from process one", at_ms=T0)
    second = append(chat_store(dynamodb), "from process two", at_ms=T0)
    assert (first.id, second.id) == (f"{T0:013d}abcdef", f"{T0:013d}123456")
    messages, _ = chat_store(dynamodb).recent_messages("general", 10)
    assert sorted(m.message for m in messages) == ["from process one", "from process two"]


def test_an_id_that_keeps_clashing_is_unavailable_and_overwrites_nothing(dynamodb, monkeypatch):
    fixed_suffixes(monkeypatch, *["abcdef"] * 4)
    append(chat_store(dynamodb), "the original", at_ms=T0)
    with pytest.raises(StorageUnavailable, match="no free id"):
        append(chat_store(dynamodb), "the clash", at_ms=T0)
    assert [m.message for m in chat_store(dynamodb).recent_messages("general", 10)[0]] == ["the original"]


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
    assert texts(chats.recent_messages("paged", 3)) == (["m4", "m5", "m6"], True)
    assert texts(chats.recent_messages("paged", 7)) == ([f"m{i}" for i in range(7)], False)
    assert texts(chats.recent_messages("paged", 50)) == ([f"m{i}" for i in range(7)], False)
    assert chats.recent_messages("empty", 50) == ([], False)


def test_messages_before_page_backwards(chats, seven):
    assert texts(chats.messages_before("paged", seven[4], 3)) == (["m1", "m2", "m3"], True)
    assert texts(chats.messages_before("paged", seven[3], 3)) == (["m0", "m1", "m2"], False)
    assert texts(chats.messages_before("paged", seven[0], 3)) == ([], False)


def test_messages_after_page_forwards_from_an_id_or_a_moment(chats, seven):
    assert texts(chats.messages_after("paged", seven[2], 2)) == (["m3", "m4"], True)
    assert texts(chats.messages_after("paged", seven[4], 2)) == (["m5", "m6"], False)
    assert texts(chats.messages_after("paged", seven[6], 2)) == ([], False)
    cursor = protocol.message_id_at(T0 + 5000)  # "from this moment": m5 was stored at exactly it
    assert texts(chats.messages_after("paged", cursor, 10)) == (["m5", "m6"], False)


def test_stored_message_frame_is_the_protocols_message_frame(chats):
    stored = append(chats, "hi", client_msg_id=None)
    assert stored.frame() == {"type": "message", "id": stored.id, "room": "general", "sender": "alice",
                              "message": "hi", "sentAt": protocol.iso_utc(T0), "clientMsgId": None}


# -- reads counted -------------------------------------------------------------------------------


def test_reads_count_the_items_returned_across_pages_and_tables(dynamodb):
    reads = ReadCounter()
    paged, _ = small_pages(dynamodb)
    chats = chat_store(paged, reads)
    for i in range(5):
        chats.put_connection(connection(f"c-read-{i}", room="counted"))
        append(chats, f"m{i}", at_ms=T0 + i)
    assert reads.total == 0  # writes read nothing
    chats.get_connection("c-read-0")
    chats.get_connection("c-missing")
    assert reads.total == 1
    chats.room_members("counted")
    assert reads.total == 6
    chats.recent_messages("general", 3)  # one page of 3 + the one that says there is more
    assert reads.total == 6 + 4


# -- errors --------------------------------------------------------------------------------------


def failing(client, operation, error):
    def raise_(**_):
        raise error

    return chat_store(Wrapped(client, **{operation: raise_}))


@pytest.mark.parametrize("operation, call", [
    ("get_item", lambda chats: chats.get_connection("c1")),
    ("put_item", lambda chats: chats.put_connection(connection("c1"))),
    ("delete_item", lambda chats: chats.delete_connection("c1")),
    ("update_item", lambda chats: chats.move_connection("c1", "r2")),
    ("update_item", lambda chats: chats.session_deadline("jti-1", T0 // 1000, T0 // 1000 + 60)),
    ("update_item", lambda chats: chats.end_session("c1", room="r", ended_at_ms=T0, reason="gone")),
    ("query", lambda chats: chats.room_members("r")),
    ("query", lambda chats: chats.recent_messages("r", 5)),
    ("batch_write_item", lambda chats: chats.delete_connections(["c1"])),
    ("put_item", lambda chats: append(chats, "hi")),
])
def test_a_database_error_is_storage_unavailable_even_where_conditions_are_absorbed(dynamodb, operation, call):
    chats = failing(dynamodb, operation, client_error("ProvisionedThroughputExceededException", operation))
    with pytest.raises(StorageUnavailable, match="ProvisionedThroughputExceededException"):
        call(chats)


def test_no_answer_from_the_database_is_storage_unavailable(dynamodb):
    chats = failing(dynamodb, "get_item", EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    with pytest.raises(StorageUnavailable, match="get_connection: EndpointConnectionError"):
        chats.get_connection("c1")


def test_a_condition_the_store_does_not_absorb_is_condition_failed(chats):
    chats.put_connection(connection("c-cond"))
    with pytest.raises(ConditionFailed):
        chats.connections.put("insert_only", {"connectionId": {"S": "c-cond"}},
                              ConditionExpression="attribute_not_exists(connectionId)")
    assert chats.get_connection("c-cond") == connection("c-cond")
