"""How the pages look and read, at a desktop's and a phone's size, in light and dark: axe-core finds no
serious or critical violation, text and controls keep WCAG's contrast, and screenshots of both pages at
both sizes are written to test-artifacts/ for review."""

import pytest

from tests.browser.conftest import SIZES, axe_violations, log_in, open_session_menu, screenshot, send
from tests.integration.conftest import unique_name

SCHEMES = ["light", "dark"]


def chat_with_messages(site, new_page, account, width, height):
    """A's page in a room where A and B have talked (own and others' messages, a link, a mention)."""
    room = unique_name("room")
    (alice, pw_a), (bob, pw_b) = account(), account()
    b = new_page(width, height)
    log_in(b, site, bob, pw_b, room)
    a = new_page(width, height)
    log_in(a, site, alice, pw_a, room)
    send(b, f"hi @{alice}, the notes are at https://example.com/notes")
    send(a, "thanks! reading them now")
    send(b, "great")
    a.wait_for_function("document.querySelectorAll('#messages li.message').length === 3")
    return a


@pytest.mark.parametrize("width,height", SIZES)
def test_login_page_has_no_serious_accessibility_violation(site, new_page, width, height):
    page = new_page(width, height)
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{site.url}/index.html?reason=expired")  # with the notice shown
        page.click("#login")  # and the empty fields marked
        page.wait_for_selector("#username[aria-invalid=true]")
        assert axe_violations(page) == [], scheme
        screenshot(page, f"login-{width}x{height}-{scheme}")
    assert page.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_chat_page_has_no_serious_accessibility_violation(site, new_page, account, width, height):
    page = chat_with_messages(site, new_page, account, width, height)
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        assert axe_violations(page) == [], scheme
        screenshot(page, f"chat-{width}x{height}-{scheme}")
    page.emulate_media(color_scheme="light")
    open_session_menu(page)
    assert axe_violations(page) == []
    screenshot(page, f"chat-{width}x{height}-session-menu")
    page.keyboard.press("Escape")
    if width < 700:
        page.click("#presence-toggle")
        page.wait_for_selector("#online", state="visible")
        assert axe_violations(page) == []
        screenshot(page, f"chat-{width}x{height}-online-drawer")
    assert page.errors == []


# Relative luminance and contrast ratio (WCAG 2.x), computed in the page from computed styles.
CONTRAST_JS = """
(args) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (x, y) => { const [hi, lo] = [lum(x), lum(y)].sort((p, q) => q - p); return (hi + 0.05) / (lo + 0.05); };
  // The colour behind an element: the first ancestor with an opaque background.
  const behind = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c.a === 1) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor);
  };
  const el = (s) => document.querySelector(s);
  const out = {};
  for (const s of args.text) out["text " + s] = ratio(parse(getComputedStyle(el(s)).color), behind(el(s)));
  for (const s of args.borders) {
    // A control's border against what is around the control.
    out["border " + s] = ratio(parse(getComputedStyle(el(s)).borderTopColor), behind(el(s).parentElement));
  }
  const input = el(args.focus);
  input.focus();
  const ring = getComputedStyle(input);
  // No ring drawn counts as no contrast at all.
  out["focus ring"] = ring.outlineStyle === "none" || parseFloat(ring.outlineWidth) < 2 ? 0
    : ratio(parse(ring.outlineColor), behind(input.parentElement));
  out.background = lum(parse(getComputedStyle(document.body).backgroundColor));
  return out;
}
"""


@pytest.mark.parametrize("width,height", SIZES)
def test_colours_follow_the_system_and_keep_their_contrast(site, new_page, account, width, height):
    page = chat_with_messages(site, new_page, account, width, height)
    checks = {
        "text": ["#messages li.message:not(.own) .text", "#messages li.message.own .text", "#messages .meta time",
                 "#messages .mention", "#messages .text a", "#conn-state", "#room-name", "#me-name"],
        "borders": ["#message-input", "#logout"],
        "focus": "#message-input",
    }
    backgrounds = {}
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        measured = page.evaluate(CONTRAST_JS, checks)
        backgrounds[scheme] = measured.pop("background")
        for name, ratio in measured.items():
            needed = 4.5 if name.startswith("text") else 3.0
            assert ratio >= needed, f"{scheme}: {name} has contrast {ratio:.2f} < {needed}"
    # Dark follows the system: a dark background, a light one otherwise.
    assert backgrounds["light"] > 0.8 and backgrounds["dark"] < 0.05
    page = new_page(width, height)  # signed out: the login page
    page.goto(f"{site.url}/index.html")
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        measured = page.evaluate(CONTRAST_JS, {"text": ["label[for=username]", ".tagline"],
                                               "borders": ["#username", "#register"], "focus": "#username"})
        measured.pop("background")
        for name, ratio in measured.items():
            needed = 4.5 if name.startswith("text") else 3.0
            assert ratio >= needed, f"login, {scheme}: {name} has contrast {ratio:.2f} < {needed}"
