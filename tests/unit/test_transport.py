"""The real transport against a local HTTP server standing in for API Gateway's management API:
signing, keep-alive, concurrency bound, retries and the broadcast deadline."""

import time

from handler.sender import Sender
from handler.transport import Transport, TransportError
from tests.unit.doubles import FakeManagementServer

REGION = "us-east-1"


def test_broadcast_signs_posts_reports_gone_and_overlaps_them_within_the_bound():
    server = FakeManagementServer(gone={"c3"}, delay=0.02)
    try:
        ids = [f"c{i}" for i in range(40)] + ["id=with/odd+chars"]
        result = Sender(server.endpoint, Transport(REGION, concurrency=8)).broadcast(ids, {"type": "message", "message": "hé"})
        assert result.gone == ["c3"] and result.delivered == 40 and result.failed == []
        assert 1 < server.most <= 8  # overlapped, never more than the bound
        connection_id, body, headers = server.posts[0]
        assert body == {"type": "message", "message": "hé"}
        assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        assert "/us-east-1/execute-api/aws4_request" in headers["Authorization"]
        assert any(cid == "id%3Dwith%2Fodd%2Bchars" for cid, _, _ in server.posts)
    finally:
        server.stop()


def test_one_send_and_a_close_are_signed_too():
    server = FakeManagementServer()
    try:
        sender = Sender(server.endpoint, Transport(REGION))
        sender.send("a", {"type": "x"})
        sender.send("b", {"type": "y"})  # the same keep-alive connection
        sender.close("a")
        assert [cid for cid, _, _ in server.posts] == ["a", "b"]
        assert server.deletes[0][0] == "a" and server.deletes[0][1]["Authorization"].startswith("AWS4-HMAC-SHA256")
    finally:
        server.stop()


def test_a_server_error_is_retried_once_then_fails():
    server = FakeManagementServer(status=503)
    try:
        result = Sender(server.endpoint, Transport(REGION)).broadcast(["a", "b"], {"type": "x"})
        assert sorted(result.failed) == ["a", "b"] and len(server.posts) == 4
        assert Transport(REGION).request("execute-api", "POST", server.endpoint + "/@connections/c", b"{}").status == 503
        assert len(server.posts) == 6
    finally:
        server.stop()


def test_nothing_listening_fails_fast_with_a_transport_error():
    result = Sender("http://127.0.0.1:9", Transport(REGION)).broadcast(["a"], {"type": "x"})
    assert result.failed == ["a"]
    try:
        Transport(REGION).request("execute-api", "POST", "http://127.0.0.1:9/x", b"")
    except TransportError as exc:
        assert not exc.timed_out
    else:
        raise AssertionError("expected a TransportError")


def test_a_broadcast_stops_at_its_deadline_and_counts_the_rest_failed():
    server = FakeManagementServer(delay=0.5)
    try:
        result = Sender(server.endpoint, Transport(REGION, concurrency=4), broadcast_deadline_seconds=0.2).broadcast(
            [f"c{i}" for i in range(40)], {"type": "x"})
        assert result.delivered + len(result.failed) == 40 and len(result.failed) >= 36
    finally:
        server.stop()


def test_a_timeout_is_not_retried():
    server = FakeManagementServer(delay=1.0)
    try:
        transport = Transport(REGION, timeout=0.3)
        try:
            transport.request("execute-api", "POST", server.endpoint + "/@connections/slow", b"{}")
        except TransportError as exc:
            assert exc.timed_out
        time.sleep(1.2)
        assert len(server.posts) == 1  # sent once: a second copy could be a duplicate frame
    finally:
        server.stop()
