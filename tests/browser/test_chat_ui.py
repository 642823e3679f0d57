"""The chat page as a person uses it, at a desktop's and a phone's size: the layout (the message list
scrolls, never the page; the composer in view), the session menu by mouse and by keyboard, grouped
messages with day lines, one's own messages set apart, drafts kept across a reload, the phone's
drawers, and an online list never shown as live while disconnected."""

import json
import re
import time

import pytest

from tests.browser.conftest import (
    SIZES, log_in, message_count, open_rooms, screenshot, send, switch_room, wait_connected,
)
from tests.integration.conftest import unique_name

def in_viewport(page, selector):
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return bool(box) and box["x"] >= 0 and box["y"] >= 0 \
        and box["x"] + box["width"] <= size["width"] + 1 and box["y"] + box["height"] <= size["height"] + 1


def page_scroll(page):
    """How far the page itself (not the message list) can scroll, in each direction."""
    return page.evaluate("""() => {
        const root = document.scrollingElement;
        return {x: root.scrollWidth - root.clientWidth, y: root.scrollHeight - root.clientHeight};
    }""")


@pytest.mark.parametrize("width,height", SIZES)
def test_the_list_scrolls_not_the_page_and_the_composer_stays_in_view(site, new_page, account, width, height):
    room = unique_name("room")
    (alice, pw_a), (bob, pw_b) = account(), account()
    a = new_page(width, height)
    log_in(a, site, alice, pw_a, room)
    # An empty room: the composer is in view at once, and the list fills from the bottom.
    assert in_viewport(a, "#message-input") and in_viewport(a, "#send")
    b = new_page(width, height)
    log_in(b, site, bob, pw_b, room)
    for n in range(30):
        send(b, f"line {n}\nwith a second line")
    message_count(a, 30)
    assert page_scroll(a) == {"x": 0, "y": 0}
    a.mouse.move(width / 2, height / 2)
    a.mouse.wheel(0, -2000)  # the reader scrolls up: the list moves, the page does not
    a.wait_for_function("document.getElementById('messages').scrollTop < document.getElementById('messages').scrollHeight - document.getElementById('messages').clientHeight - 100")
    assert a.evaluate("window.scrollY") == 0
    for selector in ("#message-input", "#send", "#conn-state", "#logout", "#session-toggle"):
        assert in_viewport(a, selector), selector
    send(b, "while you were reading")
    a.wait_for_selector("#jump", state="visible")
    a.click("#jump")
    # Anchored above the composer: the newest message ends just above it.
    last = a.locator("#messages li.message").last.bounding_box()
    composer = a.locator("#composer").bounding_box()
    assert 0 <= composer["y"] - (last["y"] + last["height"]) < 80
    screenshot(a, f"chat-scrolled-{width}x{height}")
    assert a.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_a_short_conversation_sits_just_above_the_composer(site, new_page, account, width, height):
    name, password = account()
    page = new_page(width, height)
    log_in(page, site, name, password, unique_name("room"))
    send(page, "first words")
    message_count(page, 1)
    message = page.locator("#messages li.message").bounding_box()
    composer = page.locator("#composer").bounding_box()
    assert 0 <= composer["y"] - (message["y"] + message["height"]) < 80


@pytest.mark.parametrize("width,height", SIZES)
def test_session_details_are_in_a_menu_that_works_from_the_keyboard(site, new_page, account, width, height):
    name, password = account()
    page = new_page(width, height)
    log_in(page, site, name, password)
    # The main screen shows the connection state and Log out, not the plumbing.
    assert page.inner_text("#conn-state") == "Connected" and in_viewport(page, "#conn-state")
    assert in_viewport(page, "#logout")
    assert page.is_hidden("#session-menu") and page.is_hidden("#session-timer")
    assert "Token" not in page.inner_text("body")

    # Keyboard only: Tab to the menu's button, Enter opens it, the focus goes in, Escape closes it.
    page.evaluate("document.activeElement.blur()")
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "session-toggle":
            break
    assert page.evaluate("document.activeElement.id") == "session-toggle"
    page.keyboard.press("Enter")
    page.wait_for_selector("#session-menu", state="visible")
    assert page.get_attribute("#session-toggle", "aria-expanded") == "true"
    assert page.evaluate("document.getElementById('session-menu').contains(document.activeElement)")
    labels = page.eval_on_selector_all("#session-menu dt:visible", "ns => ns.map(n => n.textContent)")
    assert labels == ["Connected at", "Session time", "Sign-in expires in"]
    assert in_viewport(page, "#session-menu")
    page.keyboard.press("Space")  # the focused checkbox: auto-disconnect on
    assert page.is_checked("#auto-enabled")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "auto-minutes"
    page.wait_for_function("document.getElementById('auto-countdown').textContent.startsWith('(in ')")
    page.keyboard.press("Escape")
    assert page.is_hidden("#session-menu")
    assert page.get_attribute("#session-toggle", "aria-expanded") == "false"
    assert page.evaluate("document.activeElement.id") == "session-toggle"

    # By mouse: a click opens it, a click elsewhere closes it.
    page.click("#session-toggle")
    page.wait_for_selector("#session-menu", state="visible")
    page.mouse.click(width / 2, height / 2)
    page.wait_for_selector("#session-menu", state="hidden")
    assert page.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_a_reload_keeps_the_draft_of_each_room(site, new_page, account, width, height):
    room1, room2 = unique_name("room"), unique_name("room")
    name, password = account()
    page = new_page(width, height)
    log_in(page, site, name, password, room1)
    page.fill("#message-input", "half a thought\non two lines")
    page.reload()
    assert page.input_value("#message-input") == "half a thought\non two lines"
    wait_connected(page)
    switch_room(page, room2)
    assert page.input_value("#message-input") == ""  # another room, its own (empty) draft
    page.fill("#message-input", "for room two")
    switch_room(page, room1)
    assert page.input_value("#message-input") == "half a thought\non two lines"
    page.press("#message-input", "Enter")  # sent: the draft goes
    page.wait_for_selector("#messages li.message.own:has-text('half a thought')")
    page.reload()
    wait_connected(page)
    assert page.inner_text("#room-name") == room1
    assert page.input_value("#message-input") == ""
    switch_room(page, room2)
    assert page.input_value("#message-input") == "for room two"
    # A logout takes the drafts with it (the next person on this tab must not see them).
    page.click("#logout")
    page.wait_for_url("**/index.html?reason=logout")
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0


def message_id(ms, n):
    return f"{ms:013d}{n:06x}"


class Injector:
    """Passes the page's WebSocket through and lets the test add frames as if the server sent them."""

    def __init__(self, page):
        self.sockets = []
        page.route_web_socket(re.compile(".*"), self.route)

    def route(self, ws):
        server = ws.connect_to_server()
        self.sockets.append((ws, server))

    def send(self, frame):
        self.sockets[-1][0].send(json.dumps(frame))

    def drop(self):
        ws, server = self.sockets[-1]
        server.close()
        ws.close(code=1001, reason="Going away")


@pytest.mark.parametrize("width,height", SIZES)
def test_messages_are_grouped_by_sender_and_minute_with_day_lines(site, new_page, account, width, height):
    room = unique_name("room")
    name, password = account()
    page = new_page(width, height)
    injector = Injector(page)
    log_in(page, site, name, password, room)
    now_ms = int(time.time() * 1000)
    day_ms = 86_400_000
    # Ten seconds into a minute, so that the messages a second or two apart share their minute.
    minute = now_ms // 60_000 * 60_000 + 10_000
    # Frames as the server would send them: two days ago, yesterday and now; ids in time order.
    base = minute - 2 * day_ms
    yesterday = minute - day_ms
    frames = [
        (base, "carol", "two days ago"),
        (base + 1000, "carol", "same minute, same sender"),
        (base + 2000, "dave", "another sender"),
        (yesterday, "dave", "yesterday"),
        (now_ms, "carol", "today"),
    ]
    for n, (ms, sender, text) in enumerate(frames):
        sent_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
        injector.send({"type": "message", "room": room, "id": message_id(ms, n), "sender": sender,
                       "message": text, "sentAt": sent_at})
    message_count(page, 5)
    items = page.eval_on_selector_all(
        "#messages > li", "ns => ns.map(n => [n.className, n.dataset.group || '', n.textContent])")
    kinds = [(cls.split()[0], group) for cls, group, _ in items if cls.split()[0] in ("day", "message")]
    assert kinds == [
        ("day", ""), ("message", "start"), ("message", "continued"), ("message", "start"),
        ("day", ""), ("message", "start"),
        ("day", ""), ("message", "start"),
    ]
    days = page.eval_on_selector_all("#messages li.day", "ns => ns.map(n => n.textContent)")
    assert days[1:] == ["Yesterday", "Today"] and days[0] not in ("Today", "Yesterday")
    # A continued message does not repeat the sender and time on screen.
    assert page.locator("#messages li[data-group=continued] .meta").bounding_box()["height"] <= 1
    # A message that arrives late (an older id) goes to its place, and the groups follow.
    late = yesterday + 500
    injector.send({"type": "message", "room": room, "id": message_id(late, 99), "sender": "dave", "message": "late",
                   "sentAt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(late / 1000)) + ".500Z"})
    message_count(page, 6)
    texts = page.eval_on_selector_all("#messages li.message .text", "ns => ns.map(n => n.textContent)")
    assert texts.index("late") == texts.index("yesterday") + 1
    assert page.get_attribute("#messages li.message:has-text('late')", "data-group") == "continued"
    assert page.eval_on_selector_all("#messages li.day", "ns => ns.length") == 3
    screenshot(page, f"chat-grouped-{width}x{height}")
    assert page.errors == []


def test_own_messages_are_set_apart(two_in_a_room):
    a, b, alice, bob, room = two_in_a_room()
    send(a, "mine")
    send(b, "theirs")
    message_count(a, 2)
    mine = a.locator("#messages li.message.own").bounding_box()
    theirs = a.locator("#messages li.message:not(.own)").bounding_box()
    list_box = a.locator("#messages").bounding_box()
    # Mine on the right, theirs on the left, and in another colour.
    assert mine["x"] + mine["width"] > list_box["x"] + list_box["width"] - 30
    assert theirs["x"] < list_box["x"] + 30
    colours = a.eval_on_selector_all("#messages li.message", "ns => ns.map(n => getComputedStyle(n).backgroundColor)")
    assert colours[0] != colours[1]


def test_while_disconnected_the_online_list_is_not_shown_as_live(site, new_page, account):
    name, password = account()
    page = new_page()
    injector = Injector(page)
    log_in(page, site, name, password)
    assert page.get_attribute("#presence", "data-live") == "true"
    assert page.is_hidden("#presence-note")
    injector.drop()
    page.wait_for_selector("#conn-state[data-state=waiting]", timeout=10000)
    assert page.inner_text("#conn-state").startswith("Connection lost – retrying in")
    assert page.get_attribute("#presence", "data-live") == "false"
    assert page.inner_text("#presence-note") == "Not connected: this list may be out of date."
    page.wait_for_selector("#conn-state[data-state=open]", timeout=30000)
    page.wait_for_selector("#presence[data-live=true]")
    assert page.is_hidden("#presence-note")


@pytest.mark.parametrize("width,height", SIZES)
def test_phone_drawers_open_and_close_by_keyboard_and_touch(site, new_page, account, width, height):
    name, password = account()
    page = new_page(width, height)
    log_in(page, site, name, password)
    if width >= 700:
        # A wide screen shows the rooms sidebar and the online list; no drawer buttons.
        assert page.is_visible("#sidebar") and page.is_visible("#online")
        assert page.is_hidden("#rooms-toggle") and page.is_hidden("#presence-toggle")
        assert page.inner_text("#current-room") == "general"
        return
    assert page.is_hidden("#room-input") and page.is_hidden("#online")
    page.focus("#rooms-toggle")
    page.keyboard.press("Enter")
    page.wait_for_selector("#room-input", state="visible")
    assert page.evaluate("document.activeElement.id") == "room-input"
    page.keyboard.press("Escape")
    page.wait_for_selector("#room-input", state="hidden")
    assert page.evaluate("document.activeElement.id") == "rooms-toggle"
    page.click("#presence-toggle")
    page.wait_for_selector("#online", state="visible")
    assert " ".join(page.inner_text("#presence-toggle").split()) == "Online (1)"
    page.mouse.click(20, 400)  # the scrim beside the drawer
    page.wait_for_selector("#online", state="hidden")
    page.click("#presence-toggle")
    page.click("#presence .drawer-close")  # or its own Close button
    page.wait_for_selector("#online", state="hidden")
    assert page.evaluate("document.activeElement.id") == "presence-toggle"
    # Joining a room from the drawer closes it and shows the room.
    room = unique_name("room")
    open_rooms(page)
    page.fill("#room-input", room)
    page.press("#room-input", "Enter")
    page.wait_for_function(f"document.getElementById('room-name').textContent === {room!r}")
    page.wait_for_selector("#room-input", state="hidden")
    assert page.errors == []
