"""FollowUpStore against moto's DynamoDB: the sweep's work list, found by its deadline beside the
connections whose deadline passed, and nowhere else."""

import itertools
import types

import pytest

from handler.store import connections as connections_module
from handler.store.connections import SWEEP_SHARDS, Member
from handler.store.followups import FollowUp
from tests.unit.store_support import T0, chat_stores, connection


@pytest.fixture
def chats(dynamodb):
    return chat_stores(dynamodb)


def test_expired_connections_finds_only_expired_rows_in_every_shard_each_once(chats, monkeypatch):
    shards = itertools.cycle(range(SWEEP_SHARDS))
    monkeypatch.setattr(connections_module, "secrets", types.SimpleNamespace(
        randbelow=lambda _: next(shards), token_hex=connections_module.secrets.token_hex))
    now_s = T0 // 1000 + 1000
    expired = []
    for i in range(SWEEP_SHARDS):  # one expired row in each shard: half by token, half by session limit
        conn = connection(f"c-exp-{i}", f"user{i}", room=f"r{i}", expires_in=1000) if i % 2 else \
            connection(f"c-exp-{i}", f"user{i}", room=f"r{i}", expires_in=5000, session_limit=999)
        chats.connections.put_connection(conn)
        expired.append(conn)
    for i in range(SWEEP_SHARDS):  # and one that has a second left
        chats.connections.put_connection(connection(f"c-live-{i}", f"user{i}", expires_in=1001))
    found = chats.follow_ups.expired_connections(now_s)
    assert sorted(c.connection_id for c in found) == sorted(c.connection_id for c in expired)
    by_id = {c.connection_id: c for c in found}
    for conn in expired:
        assert (by_id[conn.connection_id].username, by_id[conn.connection_id].room,
                by_id[conn.connection_id].expires_at) == (conn.username, conn.room, conn.expires_at)
    assert chats.follow_ups.expired_connections(T0 // 1000) == []


def test_follow_ups_are_found_when_due_beside_expired_connections_and_nowhere_else(chats):
    chats.connections.put_connection(connection("c-old", "alice", "lobby", expires_in=10))
    logout = FollowUp("logout", ("alice", "jti#with#hashes"), T0 // 1000 + 5)
    presence = FollowUp("presence", ("lobby", "bob"), T0 // 1000 + 20)
    chats.follow_ups.schedule(logout)
    chats.follow_ups.schedule(presence)
    assert chats.follow_ups.due(T0 // 1000) == ([], [])
    expired, follow_ups = chats.follow_ups.due(T0 // 1000 + 10)
    assert [c.connection_id for c in expired] == ["c-old"] and follow_ups == [logout]
    assert chats.follow_ups.expired_connections(T0 // 1000 + 30)[0].connection_id == "c-old"
    assert sorted(chats.follow_ups.due(T0 // 1000 + 30)[1], key=lambda f: f.key) == [logout, presence]
    # A follow-up row is no member of a room and no connection of a user.
    assert chats.connections.room_members("lobby") == [Member("c-old", "alice", T0)]
    assert chats.connections.user_connections("bob") == [] and chats.connections.user_connections("alice") == [("c-old", None)]


def test_scheduling_again_replaces_and_finishing_keeps_a_later_schedule(chats):
    first = FollowUp("presence", ("lobby", "bob"), T0 // 1000 + 5)
    later = FollowUp("presence", ("lobby", "bob"), T0 // 1000 + 9)
    chats.follow_ups.schedule(first)
    chats.follow_ups.schedule(later)
    assert chats.follow_ups.due(T0 // 1000 + 60)[1] == [later]
    chats.follow_ups.finish(first)  # done with the one seen earlier: the later one stays
    assert chats.follow_ups.due(T0 // 1000 + 60)[1] == [later]
    chats.follow_ups.finish(later)
    assert chats.follow_ups.due(T0 // 1000 + 60) == ([], [])


def test_a_follow_up_whose_leading_parts_hold_a_separator_is_refused(chats):
    with pytest.raises(ValueError):
        chats.follow_ups.schedule(FollowUp("presence", ("lob#by", "bob"), T0 // 1000))
