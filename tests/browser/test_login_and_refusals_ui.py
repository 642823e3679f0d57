"""Clear words on the login page and for refusals on the chat page: empty fields marked, notices in
their own style, back after a logout lands on the login page without an error, and a refused room
switch or first join says so while the field and the heading agree."""

import json
import re

from tests.browser.conftest import log_in, send, wait_connected


def test_an_empty_login_form_marks_the_empty_fields(site, new_page):
    page = new_page()
    requests_sent = []
    page.on("request", lambda request: requests_sent.append(request.url) if request.method == "POST" else None)
    page.goto(f"{site.url}/index.html")
    page.click("#login")
    assert page.get_attribute("#username", "aria-invalid") == "true"
    assert page.get_attribute("#password", "aria-invalid") == "true"
    assert page.inner_text("#username-error") == "Enter your username."
    assert page.inner_text("#password-error") == "Enter your password."
    assert page.evaluate("document.activeElement.id") == "username"
    # The messages are tied to their fields for screen readers.
    assert page.get_attribute("#username", "aria-describedby") == "username-error"
    page.fill("#username", "someone")
    assert page.get_attribute("#username", "aria-invalid") is None and page.is_hidden("#username-error")
    page.click("#register")
    assert page.get_attribute("#password", "aria-invalid") == "true"
    assert page.get_attribute("#username", "aria-invalid") is None
    assert requests_sent == []  # nothing went to the server
    assert page.is_hidden("#form-error")


def test_login_notices_have_their_own_clear_style(site, new_page):
    page = new_page()
    page.goto(f"{site.url}/index.html?reason=expired")
    notice = page.eval_on_selector("#notice", """n => {
        const s = getComputedStyle(n), body = getComputedStyle(document.body);
        return {cls: n.className, size: parseFloat(s.fontSize), bodySize: parseFloat(body.fontSize),
                background: s.backgroundColor, pageBackground: body.backgroundColor};
    }""")
    assert notice["cls"] == "login-notice"
    assert notice["size"] >= notice["bodySize"]  # full size, not the chat's small print
    assert notice["background"] != notice["pageBackground"]


def test_back_after_logout_goes_to_login_without_an_error(site, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    page.click("#logout")
    page.wait_for_url("**/index.html?reason=logout")
    page.go_back()
    page.wait_for_url("**/index.html?reason=signin")
    assert "log in" in page.inner_text("#notice")
    page.wait_for_timeout(300)
    assert page.errors == []


def test_a_refused_room_switch_says_so_and_the_field_and_heading_agree(site, new_page, account):
    name, password = account()
    page = new_page()

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            if frame.get("action") == "join" and frame.get("room") == "refused-room":
                # As the server answers a user over their join budget.
                ws.send(json.dumps({"type": "error", "code": "rate_limited", "message": "too many joins: wait 2.0 s",
                                    "retryAfterMs": 2000, "action": "join"}))
                return
            server.send(message)

        ws.on_message(from_page)

    page.route_web_socket(re.compile(".*"), route)
    log_in(page, site, name, password)
    page.fill("#room-input", "refused-room")
    page.press("#room-input", "Enter")
    page.wait_for_selector("#banner:not([hidden])")
    assert page.inner_text("#banner-text") == (
        "Could not switch to #refused-room: too many joins: wait 2.0 s. You are still in #general.")
    assert page.inner_text("#room-name") == "general" and page.input_value("#room-input") == "general"
    # The page goes on in the room it shows.
    send(page, "still here")
    page.wait_for_selector("#messages li.message.own:has-text('still here')")
    assert page.errors == []


def test_a_refused_first_join_says_so_and_keeps_the_room_asked_for(site, new_page, account):
    # The join a new connection sends (before any room is shown) refused: by the join budget when
    # many tabs open at once, or a store failure. The page says so and asks for the same room next
    # time (it once asked for a room named "null").
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    refused = []

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            if frame.get("action") == "join" and "room" not in frame and not refused:
                refused.append(frame)
                ws.send(json.dumps({"type": "error", "code": "unavailable", "action": "join",
                                    "message": "the chat store is unavailable; try again"}))
                return
            server.send(message)

        ws.on_message(from_page)

    page.route_web_socket(re.compile(".*"), route)
    page.reload()
    page.wait_for_selector("#banner:not([hidden])")
    assert page.inner_text("#banner-text") == (
        "Could not switch to #general: the chat store is unavailable; try again.")
    assert page.evaluate("sessionStorage.getItem('wschat.room')") == "general"
    page.reload()
    wait_connected(page)
    assert page.inner_text("#room-name") == "general"
    assert refused and page.errors == []
