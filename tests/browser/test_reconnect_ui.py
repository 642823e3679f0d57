"""Reconnecting without losing or repeating a message: after sls offline restarts, and when the
catch-up after a drop fails once (it is retried) or keeps failing (the page says so and goes on
sending)."""

import json
import re

import requests

from tests.browser.conftest import log_in, message_texts, send, wait_connected
from tests.integration.conftest import Client, unique_name


def test_reconnect_after_sls_offline_restart_loses_and_repeats_nothing(site, stack, new_page, account):
    room = unique_name("room")
    (alice, pw_a), (bob, pw_b) = account(), account()
    a = new_page()
    log_in(a, site, alice, pw_a, room)
    send(a, "before the restart")
    a.wait_for_selector("#messages li.message:has-text('before the restart')")

    stack.stop_offline()
    a.wait_for_selector("#conn-state[data-state=waiting]", timeout=10000)
    stack.start_offline()
    token = requests.post(f"{stack.http_url}/login", json={"username": bob, "password": pw_b}).json()["token"]
    writer = Client(stack, token, room)
    writer.join()
    missed = [f"while away {n}" for n in range(3)]
    for text in missed:
        writer.send({"action": "sendmessage", "message": text})
        writer.next("message")

    wait_connected(a, timeout=60000)
    a.wait_for_function("document.querySelectorAll('#messages li.message').length >= 4", timeout=20000)
    writer.send({"action": "sendmessage", "message": "after the reconnect"})
    a.wait_for_selector("text=after the reconnect")
    assert message_texts(a) == ["before the restart", *missed, "after the reconnect"]
    writer.close()


class CatchUpFaults:
    """Routes the page's WebSocket through the test: the first `failures` catch-up requests (history
    `after`, sent on a reconnect) are answered with an error frame, as a store failure would be;
    everything else goes to the server. `drop()` cuts the page's current connection."""

    UNAVAILABLE = {"type": "error", "code": "unavailable", "message": "the chat store is unavailable; try again",
                   "action": "history"}

    def __init__(self, page, failures):
        self.failures = failures
        self.catch_ups = 0
        self.connections = []
        page.route_web_socket(re.compile(".*"), self.route)

    def route(self, ws):
        server = ws.connect_to_server()
        self.connections.append((ws, server))

        def from_page(message):
            frame = json.loads(message)
            if frame.get("action") == "history" and "after" in frame:
                self.catch_ups += 1
                if self.failures > 0:
                    self.failures -= 1
                    ws.send(json.dumps(self.UNAVAILABLE))
                    return
            server.send(message)

        ws.on_message(from_page)

    def drop(self):
        ws, server = self.connections[-1]
        server.close()
        ws.close(code=1001, reason="Going away")


def drop_and_write_while_away(page, faults, stack, writer_name, writer_pw, room):
    faults.drop()
    page.wait_for_selector("#conn-state[data-state=waiting]", timeout=10000)
    send(page, "typed while away")  # queued: goes out once the page is back and caught up
    page.wait_for_function("document.getElementById('outbox-status').textContent.includes('1 waiting')")
    token = requests.post(f"{stack.http_url}/login", json={"username": writer_name, "password": writer_pw}).json()["token"]
    writer = Client(stack, token, room)
    writer.join()
    writer.send({"action": "sendmessage", "message": "written while away"})
    writer.next("message")
    return writer


def test_a_catch_up_error_is_retried_and_the_page_goes_on_sending(site, stack, new_page, account):
    room = unique_name("room")
    (alice, pw_a), (bob, pw_b) = account(), account()
    page = new_page()
    faults = CatchUpFaults(page, failures=1)
    log_in(page, site, alice, pw_a, room)
    send(page, "before the drop")
    page.wait_for_selector("#messages li.message:has-text('before the drop')")

    writer = drop_and_write_while_away(page, faults, stack, bob, pw_b, room)
    wait_connected(page, timeout=60000)
    page.wait_for_selector("#messages li.message:has-text('typed while away')")
    assert faults.catch_ups >= 2  # the failed page was asked for again
    send(page, "after the recovery")
    writer.next("message", message="after the recovery")
    page.wait_for_selector("#messages li.message.own:has-text('after the recovery')")
    assert message_texts(page) == ["before the drop", "written while away", "typed while away", "after the recovery"]
    assert page.is_hidden("#banner") and page.inner_text("#outbox-status") == ""
    assert page.errors == []
    writer.close()


def test_a_catch_up_that_keeps_failing_gives_up_visibly_and_the_page_goes_on_sending(site, stack, new_page, account):
    room = unique_name("room")
    (alice, pw_a), (bob, pw_b) = account(), account()
    page = new_page()
    faults = CatchUpFaults(page, failures=1000)
    log_in(page, site, alice, pw_a, room)
    send(page, "before the drop")
    page.wait_for_selector("#messages li.message:has-text('before the drop')")

    writer = drop_and_write_while_away(page, faults, stack, bob, pw_b, room)
    wait_connected(page, timeout=60000)
    page.wait_for_selector("#banner:not([hidden])", timeout=20000)
    assert "Could not load the messages you missed" in page.inner_text("#banner-text")
    page.wait_for_selector("#messages li.notice:has-text('could not be loaded')")
    page.wait_for_selector("#messages li.message:has-text('typed while away')")  # the queue went out all the same
    send(page, "after giving up")
    writer.next("message", message="after giving up")
    page.wait_for_selector("#messages li.message.own:has-text('after giving up')")
    assert faults.catch_ups == 3
    assert message_texts(page)[-2:] == ["typed while away", "after giving up"]
    assert page.inner_text("#outbox-status") == ""
    assert page.errors == []
    writer.close()
