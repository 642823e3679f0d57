"""Fan-out: batches handed to the fanout function, bounded concurrency, stale members removed in one batch."""

import json
import threading
import time

from handler import fanout as fanout_module
from handler import sender as sender_module
from handler.fanout import Fanout
from handler.sender import Sender
from handler.storage import Member
from tests.unit.conftest import ENDPOINT, FakeManagementApi, ws_event


class RecordingInvoker:
    def __init__(self, succeed=True):
        self.payloads = []
        self.succeed = succeed

    def invoke(self, payload):
        self.payloads.append(json.loads(json.dumps(payload)))  # what Lambda would receive
        return self.succeed


def members(n, prefix="m"):
    return [Member(f"{prefix}{i}", f"user{i}", 0) for i in range(n)]


def test_small_room_is_delivered_inline():
    api, invoker = FakeManagementApi(), RecordingInvoker()
    posted, gone = Fanout(Sender(ENDPOINT, client=api), invoker, batch_size=10).deliver("r", members(10), {"type": "x"})
    assert posted == 10 and gone == [] and invoker.payloads == []
    assert len(api.posts) == 10


def test_big_room_is_split_into_async_batches():
    api, invoker = FakeManagementApi(), RecordingInvoker()
    everyone = members(23)
    posted, _ = Fanout(Sender(ENDPOINT, client=api), invoker, batch_size=10).deliver("r", everyone, {"type": "x"})
    assert posted == 10 and sorted(api.posts) == sorted(m.connection_id for m in everyone[:10])
    assert [len(p["members"]) for p in invoker.payloads] == [10, 3]
    assert invoker.payloads[0] == {
        "endpoint": ENDPOINT, "room": "r", "frame": {"type": "x"},
        "members": [[m.connection_id, m.username, 0] for m in everyone[10:20]],
    }


def test_a_failed_hand_off_is_delivered_inline_so_nothing_is_lost():
    api = FakeManagementApi()
    posted, _ = Fanout(Sender(ENDPOINT, client=api), RecordingInvoker(succeed=False), batch_size=10).deliver(
        "r", members(25), {"type": "x"})
    assert posted == 25 and len(api.posts) == 25


def test_without_an_invoker_everything_is_inline():
    api = FakeManagementApi()
    assert Fanout(Sender(ENDPOINT, client=api), None, batch_size=5).deliver("r", members(12), {"type": "x"})[0] == 12


def test_gone_members_are_reported_back():
    api = FakeManagementApi()
    api.gone.update({"m3", "m7"})
    _, gone = Fanout(Sender(ENDPOINT, client=api), None, batch_size=50).deliver("r", members(10), {"type": "x"})
    assert sorted(m.connection_id for m in gone) == ["m3", "m7"]


class SlowApi(FakeManagementApi):
    def __init__(self, delay):
        super().__init__()
        self.delay = delay
        self.in_flight = 0
        self.most = 0
        self.lock = threading.Lock()

    def post_to_connection(self, ConnectionId, Data):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
        super().post_to_connection(ConnectionId, Data)


def test_posts_overlap_but_never_exceed_the_worker_bound():
    api = SlowApi(0.02)
    result = Sender(ENDPOINT, client=api).broadcast([m.connection_id for m in members(100)], {"type": "x"})
    assert result.delivered == 100
    assert 1 < api.most <= sender_module.FANOUT_CONCURRENCY


def test_a_broadcast_is_bounded_in_time(monkeypatch):
    monkeypatch.setattr(sender_module, "BROADCAST_DEADLINE_SECONDS", 0.2)
    api = SlowApi(0.5)
    started = time.monotonic()
    result = Sender(ENDPOINT, client=api).broadcast([m.connection_id for m in members(40)], {"type": "x"})
    assert time.monotonic() - started < 1.5
    assert result.delivered + len(result.failed) == 40 and result.failed


def test_fanout_function_delivers_its_batch_and_drops_stale_members_in_one_batch(api, monkeypatch):
    from handler import connect
    from handler.storage import Storage
    from handler import config

    for i in range(4):
        assert connect.handler(ws_event("$connect", connection_id=f"c{i}", username=f"user{i}", room="big"))["statusCode"] == 200
    api.gone.update({"c1", "c2"})
    api.clear()
    writes = []
    store = Storage(config.settings())
    original = store.client.batch_write_item

    def spy(**kwargs):
        writes.append(kwargs)
        return original(**kwargs)

    # Rows are old enough to be dropped.
    from handler import chat as chat_module
    monkeypatch.setattr(chat_module, "_now_ms", lambda: int(time.time() * 1000) + 60_000)
    from handler import app
    app._storage = store
    monkeypatch.setattr(store.client, "batch_write_item", spy)
    event = {"endpoint": ENDPOINT, "room": "big", "frame": {"type": "message", "id": "x"},
             "members": [[f"c{i}", f"user{i}", 0] for i in range(4)]}
    assert fanout_module.handler(event) == {"statusCode": 200}
    assert sorted(cid for cid in api.posts if api.frames(cid, "message")) == ["c0", "c3"]
    assert len(writes) == 1 and len(writes[0]["RequestItems"]["wschat-test-ActiveConnections"]) == 2
    assert store.get_connection("c1") is None and store.get_connection("c0") is not None
    assert store.get_session("c2")["reason"] == "gone"


def test_fanout_function_never_raises():
    for event in (None, {}, {"members": "x"}, {"endpoint": ENDPOINT, "room": "r", "frame": {}, "members": [[1]]}):
        assert fanout_module.handler(event) == {"statusCode": 200}


class FakeManagementServer:
    """A real HTTP server standing in for API Gateway's @connections API, to test the real poster."""

    def __init__(self, gone=(), delay=0.0, status=204):
        import http.server

        outer = self
        self.posts, self.gone, self.delay, self.status = [], set(gone), delay, status
        self.in_flight = self.most = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                with outer.lock:
                    outer.in_flight += 1
                    outer.most = max(outer.most, outer.in_flight)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(outer.delay)
                connection_id = self.path.rsplit("/", 1)[1]
                outer.posts.append((connection_id, json.loads(body), dict(self.headers)))
                status = 410 if connection_id in outer.gone else outer.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with outer.lock:
                    outer.in_flight -= 1

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # the poster opens many connections at once

        self.httpd = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}/local"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_real_poster_signs_posts_reports_gone_and_overlaps_them():
    server = FakeManagementServer(gone={"c3"}, delay=0.02)
    try:
        ids = [f"c{i}" for i in range(40)] + ["id=with/odd+chars"]
        started = time.monotonic()
        result = Sender(server.endpoint).broadcast(ids, {"type": "message", "message": "hé"})
        elapsed = time.monotonic() - started
        assert result.gone == ["c3"] and result.delivered == 40 and result.failed == []
        assert elapsed < 40 * 0.02  # overlapped, not one after another
        assert server.most > 1
        connection_id, body, headers = server.posts[0]
        assert body == {"type": "message", "message": "hé"}
        assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        assert "/execute-api/aws4_request" in headers["Authorization"]
        assert any(cid == "id%3Dwith%2Fodd%2Bchars" for cid, _, _ in server.posts)
    finally:
        server.stop()


def test_the_real_poster_retries_a_server_error_once_then_fails():
    server = FakeManagementServer(status=503)
    try:
        result = Sender(server.endpoint).broadcast(["a", "b"], {"type": "x"})
        assert sorted(result.failed) == ["a", "b"] and len(server.posts) == 4
    finally:
        server.stop()


def test_the_real_poster_fails_fast_when_nothing_listens():
    result = Sender("http://127.0.0.1:9").broadcast(["a"], {"type": "x"})
    assert result.failed == ["a"]
