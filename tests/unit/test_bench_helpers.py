"""The benchmark's references work as they claim: the proxy delays posts, the bare server broadcasts,
the seed's baseline stores a message as wschat does and posts it to the room it scanned for."""

import json
import time

from websockets.sync.client import connect

from bench import seed
from bench.bare import BareServer
from bench.proxy import DelayProxy
from handler import protocol
from handler.sender import Sender
from handler.transport import Transport
from tests.unit.conftest import ws_event
from tests.unit.doubles import FakeManagementServer


def test_the_delay_proxy_adds_its_delay_and_passes_posts_through():
    server = FakeManagementServer()
    upstream_port = int(server.endpoint.split(":")[2].split("/")[0])
    proxy = DelayProxy(upstream_port, 0.05).start()
    try:
        started = time.monotonic()
        result = Sender(f"{proxy.url}/local", Transport("us-east-1")).broadcast(["a", "b", "c"], {"type": "x"})
        elapsed = time.monotonic() - started
        assert result.delivered == 3 and proxy.requests == 3
        assert elapsed >= 0.05  # delayed
        assert sorted(cid for cid, _, _ in server.posts) == ["a", "b", "c"]
    finally:
        proxy.stop()
        server.stop()


def test_the_bare_server_broadcasts_to_the_room_only():
    bare = BareServer().start()
    try:
        with connect(f"{bare.url}/?room=r1") as a, connect(f"{bare.url}/?room=r1") as b, \
                connect(f"{bare.url}/?room=r2") as c:
            time.sleep(0.1)
            a.send(json.dumps({"action": "sendmessage", "message": "hi", "clientMsgId": "m1"}))
            assert json.loads(b.recv(timeout=5))["message"] == "hi"
            assert json.loads(a.recv(timeout=5))["clientMsgId"] == "m1"
            try:
                c.recv(timeout=0.3)
                raise AssertionError("the other room got it")
            except TimeoutError:
                pass
    finally:
        bare.stop()


def test_the_seed_baseline_stores_the_message_and_posts_it_to_the_room_only(dynamodb, monkeypatch):
    monkeypatch.setattr(seed, "_dynamodb", None)
    monkeypatch.setattr(seed, "_clients", {})
    for connection_id, room in (("c1", "r1"), ("c2", "r1"), ("c3", "r2")):
        dynamodb.put_item(TableName="wschat-test-ActiveConnections", Item={
            "connectionId": {"S": connection_id}, "room": {"S": room}, "username": {"S": f"user-{connection_id}"}})
    server = FakeManagementServer()
    try:
        event = ws_event("sendmessage", {"action": "sendmessage", "message": "hi", "clientMsgId": "m1"},
                         connection_id="c1", username="alice")
        assert seed.send_message(event, server.endpoint) == {"statusCode": 200}
    finally:
        server.stop()
    assert sorted(connection_id for connection_id, _, _ in server.posts) == ["c1", "c2"]
    frame = server.posts[0][1]
    assert {key: frame[key] for key in ("type", "room", "sender", "message", "clientMsgId")} == {
        "type": "message", "room": "r1", "sender": "alice", "message": "hi", "clientMsgId": "m1"}
    assert protocol.is_message_id(frame["id"])
    stored = dynamodb.query(TableName="wschat-test-MessageHistory", KeyConditionExpression="room = :r",
                            ExpressionAttributeValues={":r": {"S": "r1"}})["Items"]
    assert len(stored) == 1
    assert stored[0]["id"]["S"] == frame["id"] and stored[0]["sentAt"]["S"] == frame["sentAt"]
    assert stored[0]["clientMsgId"]["S"] == "m1" and int(stored[0]["ttl"]["N"]) > 0
