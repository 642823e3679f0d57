"""Browser fixtures: a local stack, the site built for it and served, and Debian's Chromium via Playwright."""

import os
import time
from pathlib import Path

import jwt
import pytest
import requests
from playwright.sync_api import sync_playwright

from devstack.local_stage import Ports, free_port, jwt_secret
from devstack.site import SiteServer, build_local_site
from devstack.stack import LocalStack
from tests.integration.conftest import unique_name

CHROMIUM = os.environ.get("WSCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
GUEST_SESSION_LIMIT = 8
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def site_origin(port):
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def site_port():
    """The test site's port, chosen before the stack starts: its origin is the one the HTTP API allows."""
    return free_port()


@pytest.fixture(scope="session")
def stack(site_port):
    local = LocalStack(ports=Ports.free(), allowed_origins=(site_origin(site_port),), env={
        "WSCHAT_GUEST_SESSION_LIMIT_SECONDS": str(GUEST_SESSION_LIMIT),
        # The tests type and switch rooms faster than people: roomier rate limits than the defaults.
        "WSCHAT_MESSAGE_BURST": "100", "WSCHAT_MESSAGE_RATE": "50", "WSCHAT_JOIN_BURST": "20",
    })
    with local:
        yield local


@pytest.fixture(scope="session")
def site(stack, site_port, tmp_path_factory):
    # A slower first retry than the default, so that the reconnect test can send while a page waits.
    out = build_local_site(stack, tmp_path_factory.mktemp("site"), reconnectBaseMs=3000, heartbeatSeconds=20)
    server = SiteServer(out, site_port).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """A page in a fresh browser context (its own sessionStorage: one person), with errors collected."""
    contexts = []

    def make(width=1100, height=750):
        # bypass_csp lets the test evaluate expressions; it also means the XSS test proves the
        # rendering safe on its own, without help from the page's CSP.
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("dialog", lambda dialog: (page.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def account(stack):
    def make(password="browser-pass-1"):
        name = unique_name("b")
        response = requests.post(f"{stack.http_url}/register", json={"username": name, "password": password}, timeout=30)
        assert response.status_code == 201, response.text
        return name, password
    return make


def log_in(page, site, name, password, room=None):
    page.goto(f"{site.url}/index.html")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_url("**/chat.html")
    wait_connected(page)
    if room:
        switch_room(page, room)


def wait_connected(page, timeout=20000):
    page.wait_for_selector("#conn-state[data-state=open]", timeout=timeout)
    page.wait_for_function("document.getElementById('online').children.length > 0", timeout=timeout)


def switch_room(page, room):
    open_rooms(page)
    page.fill("#room-input", room)
    page.click("#room-form button[type=submit]")
    page.wait_for_function(f"document.getElementById('room-name').textContent === {room!r}")


def open_rooms(page):
    """On a phone the room field is in a drawer: open it (on a wide screen it is always shown)."""
    if page.is_visible("#rooms-toggle") and page.get_attribute("#rooms-toggle", "aria-expanded") != "true":
        page.click("#rooms-toggle")
    page.wait_for_selector("#room-input", state="visible")
    wait_drawer_in(page, "#sidebar")


def wait_drawer_in(page, selector):
    """Waits until the drawer has slid all the way into the screen."""
    page.wait_for_function("""(selector) => {
        const box = document.querySelector(selector).getBoundingClientRect();
        return box.left >= 0 && box.right <= window.innerWidth;
    }""", arg=selector)


def open_session_menu(page):
    """The session details (clocks, auto-disconnect, notifications) are one click away, in a menu."""
    if page.get_attribute("#session-toggle", "aria-expanded") != "true":
        page.click("#session-toggle")
    page.wait_for_selector("#session-menu", state="visible")


def send(page, text):
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")


def message_texts(page):
    return page.eval_on_selector_all("#messages li.message .text", "nodes => nodes.map(n => n.textContent)")


def short_token(username, seconds, **claims):
    """A real token for `username`, signed with the local stack's secret, that expires in `seconds`."""
    now = int(time.time())
    payload = {"sub": username, "iat": now, "nbf": now, "exp": now + seconds, "iss": "wschat", "aud": "wschat-local",
               "guest": False, **claims}
    return jwt.encode(payload, jwt_secret(), algorithm="HS256")


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
