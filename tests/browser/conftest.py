"""Browser fixtures: a local stack, the site built for it and served, and Debian's Chromium via Playwright."""

import os
import time
from pathlib import Path
from typing import NamedTuple

import jwt
import pytest
import requests
from playwright.sync_api import Page, sync_playwright

from devstack.local_stage import STAGE, Ports, free_port, jwt_secret
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
AXE = Path(__file__).resolve().parents[2] / "node_modules/axe-core/axe.min.js"
# The two sizes every layout is checked at: a desktop's and a phone's.
SIZES = [pytest.param(1280, 800, id="desktop"), pytest.param(375, 740, id="phone")]


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


class TwoInARoom(NamedTuple):
    a: Page
    b: Page
    a_name: str
    b_name: str
    room: str | None  # None: the default room


@pytest.fixture
def two_in_a_room(site, new_page, account):
    """Two people, each in a page of their own, signed in to one new public room, `a` first:
    make(width, height) returns (a, b, a's name, b's name, the room).

    `owned` (create_room's options, {} for none): `a` signs in to the default room and creates the
    room, so that they own it, before `b` comes in. `in_general`: both stay in the default room.
    `a_script`, `b_script`: JavaScript that runs in that page before the chat's own (a fake of a
    browser API)."""

    def make(width=1100, height=750, *, prefix="room", owned=None, in_general=False, a_script=None, b_script=None):
        (a_name, a_password), (b_name, b_password) = account(), account()
        room = None if in_general else unique_name(prefix)
        a, b = new_page(width, height), new_page(width, height)
        for page, script in ((a, a_script), (b, b_script)):
            if script:
                page.add_init_script(script)
        if owned is not None:
            log_in(a, site, a_name, a_password)
            create_room(a, room, **owned)
        else:
            log_in(a, site, a_name, a_password, room)
        log_in(b, site, b_name, b_password, room)
        return TwoInARoom(a, b, a_name, b_name, room)

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


def message_count(page, count):
    """Waits until the page shows `count` messages."""
    page.wait_for_function(f"document.querySelectorAll('#messages li.message').length === {count}", timeout=20000)



def message_texts(page):
    return page.eval_on_selector_all("#messages li.message .text", "nodes => nodes.map(n => n.textContent)")


def wait_marker_stored(stack, username, room, message_id, timeout=20):
    """Waits until the server holds the user's read marker in the room at `message_id` (or later):
    the page sends it at most every 2 s, and later still on a loaded machine."""
    # The Rooms table's marker row (handler/store/unread.py); the tests' names are already in the
    # key's form (lower-case ASCII).
    key = {"pk": {"S": f"user#{username.casefold()}"}, "sk": {"S": f"read#{room}"}}
    dynamodb = stack.dynamodb()
    deadline = time.monotonic() + timeout
    while True:
        item = dynamodb.get_item(TableName=f"wschat-{STAGE}-Rooms", Key=key, ConsistentRead=True).get("Item")
        if item and item["readId"]["S"] >= message_id:
            return
        assert time.monotonic() < deadline, f"no read marker of {username} in {room} at {message_id}: {item}"
        time.sleep(0.2)


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


# -- rooms, banners and accessibility, shared by several pages' tests ---------------------------------


def open_sidebar(page):
    open_rooms(page)


def wait_banner(page, text):
    page.wait_for_function("(text) => !document.getElementById('banner').hidden"
                           " && document.getElementById('banner-text').textContent.includes(text)", arg=text,
                           timeout=20000)
    return page.inner_text("#banner-text")


def wait_closed(page, dialog_id):
    page.wait_for_function("(id) => !document.getElementById(id).open", arg=dialog_id, timeout=20000)


def wait_heading(page, text):
    page.wait_for_function("(text) => document.getElementById('room-sigil').textContent"
                           " + document.getElementById('room-name').textContent === text", arg=text, timeout=20000)


def create_room(page, room, *, private=False, topic=""):
    open_sidebar(page)
    page.click("#new-room")
    page.wait_for_selector("#create-dialog[open]")
    assert page.evaluate("document.activeElement.id") == "create-name"
    page.fill("#create-name", room)
    if private:
        page.check("#create-dialog input[value=private]")
    if topic:
        page.fill("#create-topic", topic)
    page.click("#create-dialog button[type=submit]")
    wait_closed(page, "create-dialog")
    wait_heading(page, f"#{room}")


def wait_in_sidebar(page, room, list_id="room-list"):
    page.wait_for_selector(f"#{list_id} .room-link[data-room='{room}']", state="attached", timeout=20000)


def message_item(page, text):
    return f"#messages li.message:has-text({text!r})"


def is_phone(page):
    return page.viewport_size["width"] < 700


def open_people(page):
    """The member list: always shown on a wide screen, in the right-hand drawer on a phone."""
    if is_phone(page) and page.get_attribute("#presence-toggle", "aria-expanded") != "true":
        page.click("#presence-toggle")
        wait_drawer_in(page, "#presence")
    page.wait_for_selector("#member-list", state="visible")


def close_drawer(page):
    if is_phone(page) and page.evaluate("!!document.body.dataset.drawer"):
        page.keyboard.press("Escape")
        page.wait_for_function("!document.body.dataset.drawer")


def member_menu(page, user):
    open_people(page)
    selector = f"#member-list li[data-user='{user}'] .menu-button"
    page.wait_for_selector(selector, timeout=20000)
    return selector


def member_action(page, user, action):
    """Opens the member's menu with the mouse and picks the item."""
    page.click(member_menu(page, user))
    page.click(f"#member-list li[data-user='{user}'] [role=menuitem][data-action='{action}']")



def axe_violations(page):
    """axe-core's serious and critical violations on the page as it is now: [(rule, [targets])]."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: npm install (it is a devDependency)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in result
            if v["impact"] in ("serious", "critical")]


# Lets the test say whether the tab is hidden (a headless browser's tabs are always visible), and
# records notifications instead of showing them; the permission starts unasked.
HIDDEN_TAB_AND_NOTIFICATIONS = """
(() => {
  window.__hidden = false;
  Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
  Object.defineProperty(document, "visibilityState", { configurable: true,
    get: () => (window.__hidden ? "hidden" : "visible") });
  window.__setHidden = (hidden) => { window.__hidden = hidden; document.dispatchEvent(new Event("visibilitychange")); };
  window.__notifications = [];
  window.__permissionAsked = 0;
  class FakeNotification extends EventTarget {
    static permission = "default";
    static async requestPermission() { window.__permissionAsked += 1; FakeNotification.permission = "granted"; return "granted"; }
    constructor(title, options) { super(); window.__notifications.push({ title, body: options.body }); }
    close() {}
  }
  window.Notification = FakeNotification;
})();
"""
