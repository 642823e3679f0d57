"""The chat page's outbox in real Chromium against the server's per-connection rate limit: whatever
is typed arrives once, in order, however fast it was typed or however long the page was offline."""

import json
import re
import time

import pytest
import requests

from devstack.local_stage import Ports, free_port
from devstack.site import SiteServer, build_local_site
from devstack.stack import LocalStack
from tests.browser.conftest import log_in, message_texts, send, site_origin
from tests.integration.conftest import Client, unique_name

# The default burst (serverless.yml), and a slower refill than the default 2 a second: 15 messages
# meet the limit however slowly a busy machine sends them.
BURST, RATE = 10, 1
TYPED = [f"queued {n:02d}" for n in range(1, 16)]


# This module's own stack, with the limit above (the session's stack has a roomy one).
@pytest.fixture(scope="module")
def site_port():
    return free_port()


@pytest.fixture(scope="module")
def stack(site_port):
    local = LocalStack(ports=Ports.free(), allowed_origins=(site_origin(site_port),),
                       env={"WSCHAT_MESSAGE_BURST": str(BURST), "WSCHAT_MESSAGE_RATE": str(RATE)})
    with local:
        yield local


@pytest.fixture(scope="module")
def site(stack, site_port, tmp_path_factory):
    out = build_local_site(stack, tmp_path_factory.mktemp("outbox-site"), reconnectBaseMs=500)
    server = SiteServer(out, site_port).start()
    yield server
    server.stop()


class Cable:
    """The page's WebSockets, passed through to the server, with a plug the test can pull: the open
    ones close and new ones are refused until it is plugged in again. Keeps the server's frames."""

    def __init__(self, page):
        self.plugged = True
        self.open = []
        self.from_server = []
        page.route_web_socket(re.compile(".*"), self._route)

    def _route(self, ws):
        if not self.plugged:
            ws.close(code=4000, reason="unplugged")
            return
        server = ws.connect_to_server()

        def relay(message, ws=ws):
            self.from_server.append(json.loads(message))
            ws.send(message)

        server.on_message(relay)
        self.open.append((ws, server))

    def pull(self):
        self.plugged = False
        for ws, server in self.open:
            server.close()
            ws.close(code=4000, reason="unplugged")
        self.open.clear()

    def plug(self):
        self.plugged = True

    def errors(self, code):
        return [frame for frame in self.from_server if frame.get("type") == "error" and frame.get("code") == code]


def reader_in(stack, room, account):
    name, password = account()
    token = requests.post(f"{stack.http_url}/login", json={"username": name, "password": password}, timeout=30)
    reader = Client(stack, token.json()["token"], room)
    reader.join()
    return reader


def wait_until_shown(page, count):
    """Waits (on the page: Playwright runs the routes' handlers only while the test waits on it) until
    the page shows `count` messages, then a little longer, for any that would come twice."""
    page.wait_for_function(f"document.querySelectorAll('#messages li.message').length >= {count}", timeout=90000)
    page.wait_for_timeout(1500)


def received_texts(reader):
    """The texts of the message frames the reader has been sent so far."""
    return [frame["message"] for frame in reader.nothing_more(0.5) if frame.get("type") == "message"]


def stored_texts(reader):
    reader.send({"action": "history", "limit": 100})
    return [message["message"] for message in reader.next("history")["messages"]]


def test_messages_typed_offline_all_arrive_once_and_in_order_under_the_rate_limit(site, stack, new_page, account):
    room = unique_name("room")
    name, password = account()
    page = new_page()
    cable = Cable(page)
    log_in(page, site, name, password, room)
    reader = reader_in(stack, room, account)

    cable.pull()
    page.wait_for_selector("#conn-state:not([data-state=open])")
    for text in TYPED:
        send(page, text)
    page.wait_for_function(f"document.getElementById('outbox-status').textContent === '{len(TYPED)} waiting to send'")
    cable.plug()

    wait_until_shown(page, len(TYPED))
    assert received_texts(reader) == TYPED  # each once, in the order typed
    assert stored_texts(reader) == TYPED
    assert cable.errors("rate_limited"), "the test never met the rate limit"
    assert message_texts(page) == TYPED
    # Once everything went out the banner saying messages were held back clears itself.
    page.wait_for_selector("#banner", state="hidden")
    assert page.input_value("#message-input") == ""
    assert page.inner_text("#outbox-status") == ""
    assert page.errors == []
    reader.close()


def test_messages_typed_fast_wait_their_turn_and_the_banner_clears_itself(site, stack, new_page, account):
    room = unique_name("room")
    name, password = account()
    page = new_page()
    cable = Cable(page)
    log_in(page, site, name, password, room)
    reader = reader_in(stack, room, account)

    for text in TYPED:
        send(page, text)
    page.wait_for_selector("#banner[data-kind=rate-limited]:not([hidden])", timeout=30000)
    assert "go out in order" in page.inner_text("#banner-text")
    wait_until_shown(page, len(TYPED))
    page.wait_for_selector("#banner", state="hidden", timeout=30000)
    assert received_texts(reader) == TYPED
    assert stored_texts(reader) == TYPED
    assert cable.errors("rate_limited")
    assert page.input_value("#message-input") == ""
    reader.close()


def intercept_sends(page, answer):
    """Routes the page's WebSocket through; each `sendmessage` goes to answer(ws, frame), which returns
    True to pass it to the server. Returns the list of (monotonic time, text) of the sends passed on."""
    passed = []

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            if frame.get("action") == "sendmessage" and not answer(ws, frame):
                return
            if frame.get("action") == "sendmessage":
                passed.append((time.monotonic(), frame["message"]))
            server.send(message)

        ws.on_message(from_page)

    page.route_web_socket(re.compile(".*"), route)
    return passed


def test_a_rate_limited_message_goes_again_after_the_servers_wait_and_first(site, stack, new_page, account):
    name, password = account()
    refused_at = []

    def answer(ws, frame):
        if frame["message"] == "first" and not refused_at:
            refused_at.append(time.monotonic())
            ws.send(json.dumps({"type": "error", "code": "rate_limited", "message": "too many messages: wait 1.5 s",
                                "action": "sendmessage",
                                "retryAfterMs": 1500}))
            return False
        return True

    page = new_page()
    passed = intercept_sends(page, answer)
    log_in(page, site, name, password, unique_name("room"))
    send(page, "first")
    send(page, "second")
    page.wait_for_function("document.querySelectorAll('#messages li.message').length === 2")
    assert message_texts(page) == ["first", "second"]
    assert [text for _, text in passed] == ["first", "second"]
    # Timers never fire early: the page cannot have sent it again sooner than the server asked.
    assert passed[0][0] - refused_at[0] >= 1.5
    page.wait_for_selector("#banner", state="hidden")


def test_a_message_refused_for_good_comes_back_after_the_draft(site, stack, new_page, account):
    name, password = account()
    refusal = []

    def answer(ws, frame):
        if frame["message"] == "first" and not refusal:
            refusal.append(ws)  # answered below, once a draft is being typed
            return False
        return True

    page = new_page()
    passed = intercept_sends(page, answer)
    log_in(page, site, name, password, unique_name("room"))
    send(page, "first")
    send(page, "second")
    page.wait_for_function("document.getElementById('message-input').value === ''")
    page.fill("#message-input", "a draft")
    refusal[0].send(json.dumps({"type": "error", "code": "bad_request", "message": "message has control characters",
                                "action": "sendmessage"}))
    page.wait_for_selector("#messages li.message:has-text('second')")
    assert page.input_value("#message-input") == "a draft\nfirst"
    assert "control characters" in page.inner_text("#banner-text")
    assert [text for _, text in passed] == ["second"]
    assert message_texts(page) == ["second"]
