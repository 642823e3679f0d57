"""The benchmark's references work as they claim: the proxy delays posts, the bare server broadcasts."""

import json
import time

from websockets.sync.client import connect

from bench.bare import BareServer
from bench.proxy import DelayProxy
from handler.sender import Sender
from handler.transport import Transport
from tests.unit.test_transport import FakeManagementServer


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
