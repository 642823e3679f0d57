"""SessionStore against moto's DynamoDB: a session's record from start to end, and each token's
session deadline."""

import pytest

from handler import protocol
from tests.unit.conftest import STAGE
from tests.unit.store_support import T0, chat_stores, connection


@pytest.fixture
def chats(dynamodb):
    return chat_stores(dynamodb)


def test_a_tokens_session_deadline_is_the_first_one_proposed(chats, dynamodb):
    assert chats.sessions.session_deadline("jti-1", T0 // 1000 + 900, T0 // 1000 + 900) == T0 // 1000 + 900
    assert chats.sessions.session_deadline("jti-1", T0 // 1000 + 960, T0 // 1000 + 900) == T0 // 1000 + 900
    assert chats.sessions.session_deadline("jti-2", T0 // 1000 + 960, T0 // 1000 + 1000) == T0 // 1000 + 960
    stored = dynamodb.get_item(TableName=f"wschat-{STAGE}-Limits", Key={"key": {"S": "session#jti-1"}})["Item"]
    assert stored["ttl"] == {"N": str(T0 // 1000 + 900)}


def session_item(client, connection_id) -> dict | None:
    return client.get_item(
        TableName=f"wschat-{STAGE}-SessionHistory", Key={"connectionId": {"S": connection_id}}, ConsistentRead=True
    ).get("Item")


def test_a_session_records_its_start_then_its_end_and_duration(chats, dynamodb):
    conn = connection("c-sess", "alice", "lobby", at_ms=T0 + 250)
    chats.sessions.start_session(conn, source_ip="203.0.113.9", user_agent="Mozilla/5.0")
    chats.sessions.end_session("c-sess", room="elsewhere", ended_at_ms=T0 + 95_900, reason="client closed")
    item = session_item(dynamodb, "c-sess")
    assert item["username"] == {"S": "alice"} and item["room"] == {"S": "lobby"}
    assert item["connectedAt"] == {"S": protocol.iso_utc(T0 + 250)}
    assert item["disconnectedAt"] == {"S": protocol.iso_utc(T0 + 95_900)}
    assert item["durationSeconds"] == {"N": "95"}
    assert item["reason"] == {"S": "client closed"} and item["lastRoom"] == {"S": "elsewhere"}
    assert item["sourceIp"] == {"S": "203.0.113.9"} and item["userAgent"] == {"S": "Mozilla/5.0"}
    assert int(item["ttl"]["N"]) == T0 // 1000 + 90 * 86400  # the stage's session retention


def test_ending_a_session_twice_keeps_the_first_end(chats, dynamodb):
    chats.sessions.start_session(connection("c-twice"), source_ip=None, user_agent=None)
    chats.sessions.end_session("c-twice", room="general", ended_at_ms=T0 + 5_000, reason="token expired")
    chats.sessions.end_session("c-twice", room="general", ended_at_ms=T0 + 9_000, reason="client closed")
    item = session_item(dynamodb, "c-twice")
    assert item["reason"] == {"S": "token expired"} and item["durationSeconds"] == {"N": "5"}
    assert "sourceIp" not in item and "userAgent" not in item


def test_ending_a_session_that_never_started_writes_nothing(chats, dynamodb):
    chats.sessions.end_session("c-unknown", room="general", ended_at_ms=T0, reason="gone")
    assert session_item(dynamodb, "c-unknown") is None


def test_a_long_user_agent_and_address_are_cut(chats, dynamodb):
    chats.sessions.start_session(connection("c-long"), source_ip="1" * 100, user_agent="u" * 1000)
    item = session_item(dynamodb, "c-long")
    assert len(item["sourceIp"]["S"]) == 64 and len(item["userAgent"]["S"]) == 512
