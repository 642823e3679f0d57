"""The metric lines through the real local stack: what `make dev` writes to .wschat/logs/ (sls
offline's log of the functions' output) carries the same embedded-metric-format lines as AWS
would get, for a message sent, a post that failed and a refusal.

The failed post: between the functions and the gateway's @connections port sits a relay that
answers 429 to every post of a chat message, as API Gateway does past its account's throttle
(TOOLCHAIN.md); every other post (welcome, presence) goes through."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from devstack.local_stage import Ports
from devstack.stack import LocalStack
from tests.emf import json_lines, metrics_of
from tests.integration.conftest import Client, unique_name


class ThrottlingRelay:
    """@connections in front of the gateway's: a post whose frame is a chat message gets 429."""

    def __init__(self, upstream_port: int):
        upstream = upstream_port
        self.throttled = 0
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the functions' transport expects

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "POST" and b'"type":"message"' in body:
                    relay.throttled += 1
                    return self._answer(429, b'{"message":"Too Many Requests"}')
                connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=10)
                try:
                    connection.request(self.command, self.path, body=body,
                                       headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                    answer = connection.getresponse()
                    self._answer(answer.status, answer.read())
                finally:
                    connection.close()

            def _answer(self, status: int, payload: bytes):
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_DELETE = do_GET = _relay

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def throttled_stack():
    ports = Ports.free()
    relay = ThrottlingRelay(ports.management)
    local = LocalStack(ports=ports, data_dir=None, env={"WSCHAT_MANAGEMENT_ENDPOINT": relay.url})
    try:
        with local:
            yield local, relay
    finally:
        relay.close()


def register(stack) -> dict:
    response = requests.post(f"{stack.http_url}/register",
                             json={"username": unique_name(), "password": "metrics-pw-1"}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def summary_lines(stack, username: str, route: str) -> list[dict]:
    paths = list(stack.log_dir.glob(f"*-{stack.ports.ws}.log"))
    return [line for line in json_lines(paths)
            if line.get("route") == route and line.get("username") == username and "latencyMs" in line]


def wait_for(stack, username, route, count, timeout=15) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = summary_lines(stack, username, route)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_the_logs_hold_metric_lines_for_a_message_a_failed_post_and_a_refusal(throttled_stack):
    stack, relay = throttled_stack
    room = unique_name("room")
    alice, bob = register(stack), register(stack)
    sender = Client(stack, alice["token"], room)
    listener = Client(stack, bob["token"], room)
    try:
        sender.join()
        listener.join()
        sender.send({"action": "sendmessage", "message": "hello"})
        assert sender.next("message")["message"] == "hello"  # stored: the sender's copy is the response
        assert relay.throttled >= 1  # bob's copy was a post, and it was throttled
        sender.send({"action": "sendmessage", "message": "x" * 5000})
        assert sender.next("error")["code"] == "too_large"
        name = alice["user"]["username"]
        sent, refused = wait_for(stack, name, "sendmessage", 2)[:2]
    finally:
        sender.close()
        listener.close()

    assert (sent["message"], sent["level"]) == ("delivery failed", "WARNING")  # not "ok": bob got nothing
    metrics = metrics_of(sent)
    stage, function = (("stage", "local"),), (("function", sent["function"]),)
    assert sent["function"] == "wschat-local-sendmessage"
    assert metrics[("MessagesStored", stage)] == 1 and metrics[("MessagesStored", function)] == 1
    assert metrics[("PostsFailed", stage)] == 1 and metrics[("PostsThrottled", stage)] == 1
    assert ("Deliveries", stage) not in metrics

    assert refused["message"] == "refused" and refused["code"] == "too_large"
    assert metrics_of(refused)[("Refusals", (("stage", "local"), ("code", "too_large")))] == 1
