"""The login and chat pages in real Chromium against the local stack: signing in and up, two people
chatting with presence, text never rendered as HTML, switching rooms, older pages, a reader scrolled
up, a phone's layout, and form rules from the config. Sessions are in test_session_ui.py, reconnects
in test_reconnect_ui.py."""

import json

import pytest
import requests

from tests.browser.conftest import (
    log_in, message_texts, open_rooms, screenshot, send, switch_room, wait_connected, wait_drawer_in,
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


def test_two_people_chat_both_ways_with_presence(two_in_a_room):
    a, b, alice, bob, room = two_in_a_room()
    a.wait_for_selector(f"#messages li.notice:has-text('{bob} joined')")
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


def test_html_in_messages_is_shown_as_text(two_in_a_room):
    a, b, alice, bob, room = two_in_a_room()
    payloads = ['<img src=x onerror="alert(1)">', "<script>alert(2)</script>", "<b>bold?</b>"]
    for payload in payloads:
        send(a, payload)
    b.wait_for_function("document.querySelectorAll('#messages li.message').length === 3")
    assert message_texts(b) == payloads
    assert b.query_selector("#messages img, #messages script, #messages b") is None
    b.wait_for_timeout(300)
    assert a.errors == [] and b.errors == []  # no alert() dialog fired


def test_switching_rooms_moves_messages_and_presence(two_in_a_room):
    a, b, alice, bob, room1 = two_in_a_room()
    room2 = unique_name("room")
    send(a, "in room one")
    b.wait_for_selector("text=in room one")
    switch_room(b, room2)
    a.wait_for_selector(f"#messages li.notice:has-text('{bob} left')")
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


def test_scrolled_up_reader_is_not_yanked_down(two_in_a_room):
    a, b, alice, bob, room = two_in_a_room(height=500)
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
