"""Sender: posts, broadcasts and closes through the transport; API Gateway's answers become domain errors."""

import pytest

from handler.errors import ConnectionGone, FrameTooLarge, SendFailed
from handler.sender import Sender
from handler.transport import Response, TransportError
from tests.unit.conftest import ENDPOINT, FakeManagementApi


def test_send_posts_the_encoded_frame_to_the_connection():
    api = FakeManagementApi()
    Sender(ENDPOINT + "/", api).send("c/1", {"type": "x", "text": "hé"})
    assert api.posts == {"c/1": [{"type": "x", "text": "hé"}]}


def test_send_to_a_gone_connection_raises_connection_gone():
    api = FakeManagementApi()
    api.gone.add("c1")
    with pytest.raises(ConnectionGone) as raised:
        Sender(ENDPOINT, api).send("c1", {"type": "x"})
    assert raised.value.connection_id == "c1"


def test_send_that_fails_otherwise_raises_send_failed():
    api = FakeManagementApi()
    api.broken.add("c1")
    with pytest.raises(SendFailed, match="HTTP 500"):
        Sender(ENDPOINT, api).send("c1", {"type": "x"})


class Unreachable(FakeManagementApi):
    def request(self, *args, **kwargs):
        raise TransportError("POST host: ConnectionRefusedError")

    def request_many(self, service, method, urls, body, headers, deadline):
        return [TransportError("timeout", timed_out=True) for _ in urls]


def test_no_answer_is_send_failed_and_a_broadcast_counts_it_failed():
    with pytest.raises(SendFailed):
        Sender(ENDPOINT, Unreachable()).send("c1", {"type": "x"})
    result = Sender(ENDPOINT, Unreachable()).broadcast(["a", "b"], {"type": "x"})
    assert result.failed == ["a", "b"] and result.delivered == 0


def test_broadcast_sorts_members_into_delivered_gone_and_failed():
    api = FakeManagementApi()
    api.gone.add("b")
    api.broken.add("c")
    result = Sender(ENDPOINT, api).broadcast(["a", "b", "c", "d"], {"type": "x"})
    assert (result.delivered, result.gone, result.failed) == (2, ["b"], ["c"])


def test_close_deletes_the_connection_and_a_gone_one_is_fine():
    api = FakeManagementApi()
    Sender(ENDPOINT, api).close("c1")
    Sender(ENDPOINT, api).close("c1")  # already gone: 410, not an error
    assert api.closed == ["c1"]


def test_close_that_fails_raises_send_failed():
    class Broken(FakeManagementApi):
        def request(self, service, method, url, body=b"", headers=None, retryable=None):
            return Response(500)

    with pytest.raises(SendFailed, match="delete_connection"):
        Sender(ENDPOINT, Broken()).close("c1")


def test_a_post_over_128_kb_is_frame_too_large_with_its_size():
    api = FakeManagementApi()
    padding = '{"type":"x","text":""}'
    Sender(ENDPOINT, api).send("c1", {"type": "x", "text": "a" * (128 * 1024 - len(padding))})  # exactly 128 KB
    with pytest.raises(FrameTooLarge, match="HTTP 413 PayloadTooLargeException") as raised:
        Sender(ENDPOINT, api).send("c1", {"type": "x", "text": "a" * (128 * 1024)})
    assert isinstance(raised.value, SendFailed) and raised.value.size == 128 * 1024 + len(padding)
    assert api.refused == [("c1", raised.value.size)]


def test_a_broadcast_refused_as_too_large_counts_failed_and_is_logged(capsys):
    api = FakeManagementApi()
    api.post_max_bytes = 100
    result = Sender(ENDPOINT, api).broadcast(["a", "b"], {"type": "x", "text": "a" * 200})
    assert result.failed == ["a", "b"] and result.delivered == 0
    assert "broadcast frame too large for API Gateway" in capsys.readouterr().out
