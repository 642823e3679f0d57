"""Broadcaster and the fanout function: batches handed to async invocations, nothing lost when a
hand-off fails, gone members reported back and removed in one batch."""

import json
import time

import pytest

from handler import app
from handler import fanout as fanout_function
from handler.broadcast import Broadcaster
from handler.sender import Sender
from handler.store.connections import Member
from tests.unit.conftest import ENDPOINT, FakeManagementApi, connection_store, session_row, ws_event


class RecordingInvoker:
    def __init__(self, succeed=True):
        self.payloads = []
        self.succeed = succeed

    def invoke(self, payload):
        self.payloads.append(json.loads(json.dumps(payload)))  # what Lambda would receive
        return self.succeed


def members(n, prefix="m"):
    return [Member(f"{prefix}{i}", f"user{i}", 0) for i in range(n)]


def broadcaster(api, invoker=None, batch_size=10):
    return Broadcaster(Sender(ENDPOINT, api), invoker, batch_size=batch_size)


def test_small_room_is_delivered_inline():
    api, invoker = FakeManagementApi(), RecordingInvoker()
    posted, gone = broadcaster(api, invoker).deliver("r", members(10), {"type": "x"})
    assert posted == 10 and gone == [] and invoker.payloads == []
    assert len(api.posts) == 10


def test_big_room_is_split_into_async_batches():
    api, invoker = FakeManagementApi(), RecordingInvoker()
    everyone = members(23)
    posted, _ = broadcaster(api, invoker).deliver("r", everyone, {"type": "x"})
    assert posted == 10 and sorted(api.posts) == sorted(m.connection_id for m in everyone[:10])
    assert [len(p["members"]) for p in invoker.payloads] == [10, 3]
    assert invoker.payloads[0] == {
        "endpoint": ENDPOINT, "room": "r", "frame": {"type": "x"},
        "members": [[m.connection_id, m.username, 0] for m in everyone[10:20]],
    }


def test_a_failed_hand_off_is_delivered_inline_so_nothing_is_lost():
    api = FakeManagementApi()
    posted, _ = broadcaster(api, RecordingInvoker(succeed=False)).deliver("r", members(25), {"type": "x"})
    assert posted == 25 and len(api.posts) == 25


def test_presence_and_a_fanout_batch_are_never_split_further():
    # Only sendmessage may invoke fanout (infra/roles.yml): presence (rooms up to presenceMaxRoom)
    # and a batch fanout was handed are delivered where they are.
    api, invoker = FakeManagementApi(), RecordingInvoker()
    posted, _ = broadcaster(api, invoker, batch_size=5).deliver("r", members(23), {"type": "x"}, split=False)
    assert posted == 23 and len(api.posts) == 23 and invoker.payloads == []
    assert broadcaster(api, invoker).deliver("r", [], {"type": "x"}, split=False) == (0, [])


def test_without_an_invoker_everything_is_inline():
    api = FakeManagementApi()
    assert broadcaster(api, None, batch_size=5).deliver("r", members(12), {"type": "x"})[0] == 12


def test_gone_members_are_reported_back():
    api = FakeManagementApi()
    api.gone.update({"m3", "m7"})
    _, gone = broadcaster(api, None, batch_size=50).deliver("r", members(10), {"type": "x"})
    assert sorted(m.connection_id for m in gone) == ["m3", "m7"]


def test_fanout_function_delivers_its_batch_and_drops_stale_members_in_one_batch(api, monkeypatch):
    from handler import connect

    for i in range(4):
        assert connect.handler(ws_event("$connect", connection_id=f"c{i}", username=f"user{i}", room="big"))["statusCode"] == 200
    api.gone.update({"c1", "c2"})
    api.clear()
    writes = []
    client = connection_store().connections.client
    original = client.batch_write_item

    def spy(**kwargs):
        writes.append(kwargs)
        return original(**kwargs)

    # Rows are old enough to be dropped.
    monkeypatch.setattr(app.app(), "clock", lambda: int(time.time() * 1000) + 60_000)
    monkeypatch.setattr(client, "batch_write_item", spy)
    event = {"endpoint": ENDPOINT, "room": "big", "frame": {"type": "message", "id": "x"},
             "members": [[f"c{i}", f"user{i}", 0] for i in range(4)]}
    assert fanout_function.handler(event) == {"statusCode": 200}
    assert sorted(cid for cid in api.posts if api.frames(cid, "message")) == ["c0", "c3"]
    assert len(writes) == 1 and len(writes[0]["RequestItems"]["wschat-test-ActiveConnections"]) == 2
    assert connection_store().get_connection("c1") is None and connection_store().get_connection("c0") is not None
    assert session_row("c2")["reason"] == "gone"


def test_fanout_function_reports_a_bad_event_as_a_failure(api):
    # Raised to Lambda so that the event reaches the failures queue (tests/unit/test_metrics.py).
    from handler.entry import BackgroundFailed

    for event in (None, {}, {"members": "x"}, {"endpoint": ENDPOINT, "room": "r", "frame": {}, "members": [[1]]},
                  {"endpoint": 5, "room": "r", "frame": {}, "members": []}):
        with pytest.raises(BackgroundFailed, match="fanout: internal error"):
            fanout_function.handler(event)
