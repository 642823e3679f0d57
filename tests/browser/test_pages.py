"""The login and chat pages in real Chromium against the local stack: what two people see."""

import json
import re

import pytest
import requests

from tests.browser.conftest import (
    GUEST_SESSION_LIMIT, log_in, message_texts, open_rooms, open_session_menu, screenshot, send, short_token,
    switch_room, wait_connected, wait_drawer_in,
)
from tests.integration.conftest import Client, unique_name


def test_login_errors_are_shown_inline(site, new_page, account):
    name, password = account()
    page = new_page()
    page.goto(f"{site.url}/index.html")
    page.fill("#username", name)
    page.fill("#password", "wrong-password")
    page.click("#login")
    page.wait_for_selector("#form-error:not([hidden])")
    assert page.inner_text("#form-error") == "invalid username or password"
    page.fill("#password", password)
    page.click("#register")
    page.wait_for_function("document.getElementById('form-error').textContent.includes('taken')")
    assert page.url.endswith("/index.html")
    assert page.errors == []


def test_register_from_the_page(site, new_page):
    page = new_page()
    page.goto(f"{site.url}/index.html")
    name = unique_name("r")
    page.fill("#username", name)
    page.fill("#password", "short")
    page.click("#register")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "at least 8" in page.inner_text("#form-error")
    page.fill("#password", "long-enough-pw")
    page.click("#register")
    page.wait_for_url("**/chat.html")
    wait_connected(page)
    assert page.inner_text("#me-name") == name


def test_chat_without_a_token_goes_to_login(site, new_page):
    page = new_page()
    page.goto(f"{site.url}/chat.html")
    page.wait_for_url("**/index.html?reason=signin")
    assert "log in" in page.inner_text("#notice")


def test_two_people_chat_both_ways_with_presence(site, new_page, account):
    room = unique_name("room")
    (alice, alice_pw), (bob, bob_pw) = account(), account()
    a, b = new_page(), new_page()
    # bob first: log_in reaches the room by a switch (`join`), which is no presence change and
    # posts no `joined` (issue 19); alice's welcome lists him.
    log_in(b, site, bob, bob_pw, room)
    log_in(a, site, alice, alice_pw, room)
    a.wait_for_function(f"document.getElementById('online').textContent.includes({bob!r})")
    assert sorted(a.eval_on_selector_all("#online li", "ns => ns.map(n => n.textContent)")) == sorted(
        [f"{alice} (you)", bob])

    send(a, "hello bob")
    b.wait_for_selector("#messages li.message:has-text('hello bob')")
    send(b, "hi alice\nsecond line")
    a.wait_for_selector("#messages li.message:has-text('second line')")
    assert message_texts(a) == message_texts(b) == ["hello bob", "hi alice\nsecond line"]
    # Own messages are marked; others' are not. Each shows sender and local time.
    assert a.get_attribute("#messages li.message:has-text('hello bob')", "class") == "message own"
    assert a.get_attribute("#messages li.message:has-text('second line')", "class") == "message"
    assert a.inner_text("#messages li.message:has-text('second line') .sender") == bob
    assert a.get_attribute("#messages li.message:has-text('second line') time", "datetime").endswith("Z")
    screenshot(a, "chat-two-users")
    b.click("#logout")
    a.wait_for_selector(f"#messages li.notice:has-text('{bob} left')")
    assert a.errors == [] and b.errors == []


def test_html_in_messages_is_shown_as_text(site, new_page, account):
    room = unique_name("room")
    (alice, pw_a), (bob, pw_b) = account(), account()
    a, b = new_page(), new_page()
    log_in(a, site, alice, pw_a, room)
    log_in(b, site, bob, pw_b, room)
    payloads = ['<img src=x onerror="alert(1)">', "<script>alert(2)</script>", "<b>bold?</b>"]
    for payload in payloads:
        send(a, payload)
    b.wait_for_function("document.querySelectorAll('#messages li.message').length === 3")
    assert message_texts(b) == payloads
    assert b.query_selector("#messages img, #messages script, #messages b") is None
    b.wait_for_timeout(300)
    assert a.errors == [] and b.errors == []  # no alert() dialog fired


def test_switching_rooms_moves_messages_and_presence(site, new_page, account):
    room1, room2 = unique_name("room"), unique_name("room")
    (alice, pw_a), (bob, pw_b) = account(), account()
    a, b = new_page(), new_page()
    log_in(a, site, alice, pw_a, room1)
    log_in(b, site, bob, pw_b, room1)
    send(a, "in room one")
    b.wait_for_selector("text=in room one")
    switch_room(b, room2)
    # A room switch is no presence change (issue 19): no "left" in the room bob left.
    a.wait_for_timeout(800)
    assert a.query_selector(f"#messages li.notice:has-text('{bob} left')") is None
    assert message_texts(b) == []  # a new room shows its own history, not the old room's
    send(b, "in room two")
    b.wait_for_selector("text=in room two")
    a.wait_for_timeout(800)
    assert "in room two" not in message_texts(a)
    switch_room(b, room1)
    b.wait_for_selector("text=in room one")  # history on join
    assert message_texts(b) == ["in room one"]


def test_load_older_pages_back_without_duplicates(site, stack, new_page, account):
    room = unique_name("room")
    name, password = account()
    token = requests.post(f"{stack.http_url}/login", json={"username": name, "password": password}).json()["token"]
    writer = Client(stack, token, room)
    writer.join()
    for n in range(60):
        writer.send({"action": "sendmessage", "message": f"m{n:02d}"})
        writer.next("message")
    writer.close()
    page = new_page()
    log_in(page, site, name, password, room)
    page.wait_for_function("document.querySelectorAll('#messages li.message').length === 50")
    assert message_texts(page)[0] == "m10"
    page.click("#load-older")
    page.wait_for_function("document.querySelectorAll('#messages li.message').length === 60")
    assert message_texts(page) == [f"m{n:02d}" for n in range(60)]
    assert page.is_hidden("#load-older")


def test_scrolled_up_reader_is_not_yanked_down(site, stack, new_page, account):
    room = unique_name("room")
    (alice, pw_a), (bob, pw_b) = account(), account()
    a, b = new_page(height=500), new_page(height=500)
    log_in(a, site, alice, pw_a, room)
    log_in(b, site, bob, pw_b, room)
    for n in range(25):
        send(b, f"filler {n}")
    a.wait_for_function("document.querySelectorAll('#messages li.message').length === 25")
    a.eval_on_selector("#messages", "list => { list.scrollTop = 0; }")
    a.wait_for_timeout(200)
    send(b, "while reading")
    a.wait_for_selector("text=while reading")
    assert a.eval_on_selector("#messages", "list => list.scrollTop") < 50
    assert a.is_visible("#jump")
    a.click("#jump")
    assert a.eval_on_selector("#messages", "l => l.scrollHeight - l.scrollTop - l.clientHeight") < 60


def test_timer_and_countdowns_tick(site, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    open_session_menu(page)
    assert page.inner_text("#connected-at") != "–"
    timer_before = page.inner_text("#session-timer")
    countdown_before = page.inner_text("#token-countdown")
    page.wait_for_timeout(2200)
    assert page.inner_text("#session-timer") != timer_before
    assert page.inner_text("#token-countdown") != countdown_before
    minutes, seconds = page.inner_text("#token-countdown").split(":")
    assert 55 <= int(minutes) <= 59  # members' tokens last an hour


def test_guest_sees_the_limit_and_is_disconnected_when_it_ends(site, new_page):
    page = new_page()
    page.goto(f"{site.url}/index.html")
    page.click("#guest")
    page.wait_for_url("**/chat.html")
    wait_connected(page)
    assert page.is_visible("#me-guest")
    open_session_menu(page)
    page.wait_for_selector("#limit-row", state="visible")
    assert page.inner_text("#limit-row dt") == "Guest session ends in"
    assert page.is_hidden("#token-row")  # one countdown for a guest, in a guest's words
    minutes, seconds = page.inner_text("#limit-countdown").split(":")
    assert int(minutes) == 0 and 0 < int(seconds) <= GUEST_SESSION_LIMIT
    page.wait_for_url("**/index.html?reason=guest-ended", timeout=(GUEST_SESSION_LIMIT + 10) * 1000)
    # A guest has no account: told what a guest can do, never to "log in again".
    notice = page.inner_text("#notice")
    assert "guest session has ended" in notice and "log in again" not in notice.lower()
    assert page.evaluate("localStorage.getItem('wschat.token')") is None


def test_expired_token_closes_the_socket_and_asks_to_log_in(site, new_page, account):
    name, _ = account()
    page = new_page()
    page.goto(f"{site.url}/index.html?reason=signin")
    token = short_token(name, 5)
    page.evaluate(f"localStorage.setItem('wschat.token', {json.dumps(token)})")
    page.goto(f"{site.url}/chat.html")
    wait_connected(page)
    page.wait_for_url("**/index.html?reason=expired", timeout=15000)
    assert "expired" in page.inner_text("#notice")


def test_auto_disconnect_after_n_minutes_and_reconnect(site, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    open_session_menu(page)
    page.fill("#auto-minutes", "0.05")  # 3 seconds
    page.check("#auto-enabled")
    page.wait_for_selector("#conn-state[data-state=closed]", timeout=10000)
    assert "Disconnected automatically" in page.inner_text("#banner")
    page.click("#reconnect")
    page.wait_for_selector("#conn-state[data-state=open]")


def test_logout_clears_the_token_and_returns_to_login(site, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    page.click("#logout")
    page.wait_for_url("**/index.html?reason=logout")
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    page.goto(f"{site.url}/chat.html")
    page.wait_for_url("**/index.html?reason=signin")


def test_phone_width_layout_keeps_everything_reachable(site, new_page, account):
    name, password = account()
    page = new_page(width=375, height=740)
    log_in(page, site, name, password)

    def within_the_screen(selector):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375 + 1, selector
        assert box["y"] >= 0 and box["y"] + box["height"] <= 740 + 1, selector

    for selector in ("#message-input", "#send", "#logout", "#conn-state", "#rooms-toggle", "#presence-toggle"):
        within_the_screen(selector)
    # The room field and the online list are one tap away, in drawers.
    open_rooms(page)
    within_the_screen("#room-input")
    page.keyboard.press("Escape")
    page.click("#presence-toggle")
    page.wait_for_selector("#online", state="visible")
    wait_drawer_in(page, "#presence")
    within_the_screen("#online")
    assert page.locator("#presence").bounding_box()["width"] >= 200  # a drawer, not a strip
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "chat-phone")


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


def test_html_in_room_names_is_refused_and_never_rendered(site, stack, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    evil = '<img src=x onerror="alert(1)">'
    page.fill("#room-input", evil)
    page.click("#room-form button[type=submit]")
    page.wait_for_selector("#banner:not([hidden])")
    assert "Room names are" in page.inner_text("#banner")
    assert page.inner_text("#room-name") == "general"
    # The field goes back to the room shown: the field and the heading agree.
    assert page.input_value("#room-input") == "general"
    # A tampered stored room falls back to the default instead of breaking the connection.
    page.evaluate(f"sessionStorage.setItem('wschat.room', {json.dumps(evil)})")
    page.reload()
    wait_connected(page)
    assert page.inner_text("#room-name") == "general"
    # The server refuses such a room at connect too.
    with pytest.raises(Exception):
        Client(stack, requests.post(f"{stack.http_url}/login", json={"username": name, "password": password}).json()["token"], evil)
    assert page.query_selector("img") is None and page.errors == []


def test_logout_revokes_the_token_on_the_server(site, stack, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    token = page.evaluate("localStorage.getItem('wschat.token')")
    page.click("#logout")
    page.wait_for_url("**/index.html?reason=logout")
    with pytest.raises(Exception):
        Client(stack, token)  # the token no longer connects


def test_a_logout_elsewhere_sends_the_page_to_login_saying_so(site, stack, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    token = page.evaluate("localStorage.getItem('wschat.token')")
    requests.post(f"{stack.http_url}/logout", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    page.wait_for_url("**/index.html?reason=logout", timeout=15000)
    assert "logged out" in page.inner_text("#notice")


def test_session_end_follows_the_reason_code_not_the_text(site, new_page, account):
    # The server's frame says why as a code; the page must branch on it, and read a missing or
    # unknown code as expired. The message texts here deliberately say something else.
    name, password = account()
    cases = [("session_limit", "logged out", "limit"), ("logged_out", "token expired", "logout"),
             (None, "session limit reached", "expired"), ("a_future_reason", "logged out", "expired")]
    for reason, text, shown in cases:
        page = new_page()
        sockets = []

        def route(ws, sockets=sockets):
            ws.connect_to_server()  # pass everything through; the test adds one frame of its own
            sockets.append(ws)

        page.route_web_socket(re.compile(".*"), route)
        log_in(page, site, name, password)
        frame = {"type": "error", "code": "session_expired", "message": text}
        if reason:
            frame["reason"] = reason
        sockets[-1].send(json.dumps(frame))
        page.wait_for_url(f"**/index.html?reason={shown}")
        assert page.evaluate("localStorage.getItem('wschat.token')") is None
        assert page.errors == []


def test_form_fields_take_their_rules_from_the_config(site, new_page, account):
    # A pattern the browser cannot compile (with the v flag) is silently ignored: a value it must
    # refuse proves that it compiled.
    def mismatch(page, selector, value):
        script = "(input, value) => { input.value = value; return input.validity.patternMismatch; }"
        return page.eval_on_selector(selector, script, value)

    name, password = account()
    page = new_page()
    page.goto(f"{site.url}/index.html")
    config = json.loads(page.inner_text("#wschat-config"))
    assert page.get_attribute("#username", "maxlength") == str(config["usernameMaxChars"])
    assert page.get_attribute("#password", "minlength") == str(config["passwordMinChars"])
    assert not mismatch(page, "#username", "bob.smith-2") and mismatch(page, "#username", "bob smith")
    log_in(page, site, name, password)
    assert page.get_attribute("#room-input", "maxlength") == str(config["roomMaxChars"])
    assert page.get_attribute("#message-input", "maxlength") == str(config["messageMaxChars"])
    assert not mismatch(page, "#room-input", "room_2-b") and mismatch(page, "#room-input", "room 2")
    assert page.errors == []


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
