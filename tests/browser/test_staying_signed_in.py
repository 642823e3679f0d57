"""Staying signed in, in Chromium: tabs share the sign-in, and every open tab keeps its
socket past the access token's expiry without a reload (one tab renews, the others adopt it).

The renewal test runs its own stack and site, whose access tokens live TOKEN_TTL seconds."""

import time

import jwt
import pytest
import requests

from devstack.local_stage import Ports, free_port
from devstack.site import SiteServer, build_local_site
from devstack.stack import LocalStack
from tests.browser.conftest import log_in, open_session_menu, site_origin, wait_connected
from tests.integration.conftest import unique_name

TOKEN_TTL = 20


def test_a_new_tab_is_signed_in_already(site, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    tab = page.context.new_page()
    tab.goto(f"{site.url}/index.html")  # the login page sends a signed-in visitor on to the chat
    tab.wait_for_url("**/chat.html")
    wait_connected(tab)
    assert tab.inner_text("#me-name") == name


def test_a_logout_in_one_tab_ends_the_others(site, new_page, account):
    name, password = account()
    page = new_page()
    log_in(page, site, name, password)
    tab = page.context.new_page()
    tab.goto(f"{site.url}/chat.html")
    wait_connected(tab)
    page.click("#logout")
    tab.wait_for_url("**/index.html?reason=logout", timeout=15000)
    # Both pages have arrived: none is closed in the middle of its logout request or navigation.
    page.wait_for_url("**/index.html?reason=logout", timeout=15000)


@pytest.fixture(scope="module")
def short_site(tmp_path_factory):
    port = free_port()
    local = LocalStack(ports=Ports.free(), allowed_origins=(site_origin(port),), sweep_seconds=1,
                       env={"WSCHAT_TOKEN_TTL_SECONDS": str(TOKEN_TTL)})
    with local:
        out = build_local_site(local, tmp_path_factory.mktemp("short-site"), heartbeatSeconds=20)
        server = SiteServer(out, port).start()
        server.stack = local
        yield server
        server.stop()


def test_every_tab_stays_connected_past_the_tokens_expiry(short_site, new_page):
    name, password = unique_name("keep"), "browser-pass-1"
    created = requests.post(f"{short_site.stack.http_url}/register", json={"username": name, "password": password},
                            timeout=30)
    assert created.status_code == 201
    first = new_page()
    log_in(first, short_site, name, password)
    second = first.context.new_page()
    errors = []
    second.on("pageerror", lambda error: errors.append(str(error)))
    second.goto(f"{short_site.url}/chat.html")
    wait_connected(second)
    tabs = (first, second)
    for tab in tabs:
        # Marks that a reload would wipe, and the connection's start that a reconnect would change.
        tab.evaluate("window.__notReloaded = true")
    started = [tab.inner_text("#connected-at") for tab in tabs]
    token = first.evaluate("localStorage.getItem('wschat.token')")
    # Past the first token's expiry, and the sweep's second after it.
    first.wait_for_timeout((TOKEN_TTL + 4) * 1000)
    assert first.evaluate("localStorage.getItem('wschat.token')") != token
    for tab, connected_at in zip(tabs, started):
        assert tab.url.endswith("/chat.html")
        assert tab.evaluate("window.__notReloaded === true")
        assert tab.get_attribute("#conn-state", "data-state") == "open"
        assert tab.inner_text("#connected-at") == connected_at
    # The session menu counts to the renewed token's expiry (the first one's has passed), in each tab.
    for tab in tabs:
        open_session_menu(tab)
        labels = tab.eval_on_selector_all("#session-menu dt", "ns => ns.map(n => n.textContent)")
        assert "Session time" in labels and "Sign-in expires in" in labels
        minutes, seconds = tab.inner_text("#token-countdown").split(":")
        assert 0 < int(minutes) * 60 + int(seconds) <= TOKEN_TTL
        tab.keyboard.press("Escape")
    # Still signed in, on the server too: a message goes out and comes back.
    first.fill("#message-input", "still here")
    first.press("#message-input", "Enter")
    second.wait_for_selector("text=still here", timeout=10000)
    assert errors == [] and first.errors == []


def test_a_tab_whose_renewal_could_not_get_through_in_time_stays_signed_in(short_site, new_page):
    """A computer waking from sleep, a network down when the renewal was due: the token runs out,
    the server closes the connection, and once /refresh answers again the tab renews the sign-in
    and reconnects, without a reload and without sending the user to the login page."""
    name, password = unique_name("wake"), "browser-pass-1"
    created = requests.post(f"{short_site.stack.http_url}/register", json={"username": name, "password": password},
                            timeout=30)
    assert created.status_code == 201
    page = new_page()
    log_in(page, short_site, name, password)
    page.evaluate("window.__notReloaded = true")
    token = page.evaluate("localStorage.getItem('wschat.token')")
    refreshes = []

    def unreachable(route):
        refreshes.append(route.request.url)
        route.abort("internetdisconnected")

    page.route("**/refresh", unreachable)
    # Past the token's expiry: the renewal was tried and could not get through.
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    page.wait_for_timeout(max(0.0, expires_at + 2 - time.time()) * 1000)
    assert refreshes, "the page never tried to renew"
    assert page.url.endswith("/chat.html")
    page.unroute("**/refresh")
    # The next try gets through: a new token, a connection (the old one, given the new token by
    # `renew` if the server had not closed it yet, or a new one), the same page.
    page.wait_for_function("(t) => localStorage.getItem('wschat.token') !== t", arg=token, timeout=20000)
    wait_connected(page)
    assert page.url.endswith("/chat.html")
    assert page.evaluate("window.__notReloaded === true")
    page.fill("#message-input", "awake again")
    page.press("#message-input", "Enter")
    page.wait_for_selector("#messages li:has-text('awake again')", timeout=10000)
    assert page.errors == []
