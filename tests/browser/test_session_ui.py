"""A session on the chat page, from its clocks to its end: the timer and countdowns tick; a guest
sees the limit and is disconnected when it ends; an expired token, an automatic disconnect, a
logout here or elsewhere, each ends the session in clear words (by the reason code, not the text)."""

import json
import re

import pytest
import requests

from tests.browser.conftest import GUEST_SESSION_LIMIT, log_in, open_session_menu, short_token, wait_connected
from tests.integration.conftest import Client


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
