"""Every room live (the page side), on the local stack at a desktop's and a phone's size:
bob sits in #general while a DM and a mention in another room move his badges and the title within
3 seconds, a DM's later messages as much as its first; presence is the team's (a dot beside each
name: online anywhere, not only in the room shown) and a room switch posts no joined/left notice;
a muted user sees why before typing, and the composer comes back outside the room; axe-core clean."""

import time

import pytest

from tests.browser.conftest import (
    SIZES, axe_violations, close_drawer, create_room, log_in, member_action, member_menu, message_item, open_people,
    open_rooms, send, switch_room, wait_closed, wait_heading,
)
from tests.integration.conftest import unique_name

# The bound: a message elsewhere shows on the badge within this long.
LIVE_MS = 3000


def badge(page, room):
    """The unread badge's text of `room` in the sidebar ('' when none)."""
    return page.evaluate("(room) => document.querySelector(`.room-link[data-room='${room}'] .unread-badge`)"
                         "?.firstChild.textContent ?? ''", room)


def wait_badge(page, room, text, *, mention=False, timeout=LIVE_MS):
    """Waits for `room`'s badge to say `text` (and be marked a mention); returns the seconds taken."""
    started = time.monotonic()
    page.wait_for_function("""([room, text, mention]) => {
        const b = document.querySelector(`.room-link[data-room='${room}'] .unread-badge`);
        return b && b.firstChild.textContent === text && (!mention || b.classList.contains('mention'));
    }""", arg=[room, text, mention], timeout=timeout)
    return time.monotonic() - started


def invite(page, user):
    page.click("#room-menu .menu-button")
    page.click("#room-menu [role=menuitem][data-action=invite]")
    page.wait_for_selector("#invite-dialog[open]")
    page.fill("#invite-user", user)
    page.press("#invite-user", "Enter")
    wait_closed(page, "invite-dialog")


def open_dm(page, user):
    open_rooms(page)
    page.click("#new-dm")
    page.wait_for_selector("#dm-dialog[open]")
    page.fill("#dm-user", user)
    page.press("#dm-user", "Enter")
    wait_heading(page, f"@{user}")
    return page.evaluate("document.querySelector('#dm-list .room-link[aria-current=page]').dataset.room")


# bob's browser: notifications allowed and turned on, and his chat on a second screen (not focused);
# the page's Notification is recorded (a headless browser shows none).
NOTIFICATIONS = """
window.shown = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission = async () => "granted";
  constructor(title, options) { window.shown.push({ title, tag: options.tag }); }
  addEventListener() {}
  close() {}
};
document.hasFocus = () => false;
localStorage.setItem("wschat.notify", "on");
"""


def notices(page):
    return page.eval_on_selector_all("#messages li.notice", "ns => ns.map(n => n.textContent)")


@pytest.mark.parametrize("width,height", SIZES)
def test_a_dm_and_a_mention_elsewhere_move_the_badges_and_the_title_within_3_seconds(
        site, new_page, account, width, height):
    (ann, pw_a), (bob, pw_b) = account(), account()
    a, b = new_page(width, height), new_page(width, height)
    b.add_init_script(NOTIFICATIONS)
    log_in(a, site, ann, pw_a)
    log_in(b, site, bob, pw_b)
    garden = unique_name("garden")
    create_room(a, garden)
    invite(a, bob)
    dm = open_dm(a, bob)
    # bob stays in #general from here on: everything below reaches him as activity.
    b.wait_for_selector(f".room-link[data-room='{dm}']", state="attached", timeout=20000)
    open_rooms(b)

    taken = []
    for count in ("1", "2", "3"):
        send(a, f"DM number {count}")
        a.wait_for_selector(message_item(a, f"DM number {count}"))
        taken.append(wait_badge(b, dm, count))
    assert b.title().startswith("(3) ")
    # ann is online (she sent them): a filled dot beside her name in bob's DMs.
    assert b.get_attribute(f".room-link[data-room='{dm}'] .presence-dot", "class") == "presence-dot online"

    switch_room(a, garden)
    send(a, f"@{bob} have a look at the roses")
    taken.append(wait_badge(b, garden, "1", mention=True))
    assert b.title().startswith("(4) ")
    assert max(taken) < LIVE_MS / 1000, taken
    # A notification for each DM message, the first and the later ones alike, and for the mention.
    assert b.evaluate("window.shown") == [{"title": f"{ann} sent you a message", "tag": f"wschat-{dm}"}] * 3 + [
        {"title": f"{ann} mentioned you in #{garden}", "tag": f"wschat-{garden}"}]
    # Nothing of it was posted into the room bob is in.
    assert not b.query_selector(message_item(b, "DM number")) and not b.query_selector(message_item(b, "roses"))

    # Opening the DM reads it: its badge goes, the title counts the mention only.
    if b.viewport_size["width"] < 700:
        open_rooms(b)
    b.click(f".room-link[data-room='{dm}']")
    wait_heading(b, f"@{ann}")
    b.wait_for_selector(message_item(b, "DM number 3"))
    b.wait_for_function("document.title.startsWith('(1) ')", timeout=LIVE_MS)
    assert badge(b, garden) == "1"
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_presence_is_the_teams_and_a_room_switch_posts_no_notice(site, new_page, account, width, height):
    (ann, pw_a), (bob, pw_b), (cat, _) = account(), account(), account()
    a, b = new_page(width, height), new_page(width, height)
    log_in(a, site, ann, pw_a)
    log_in(b, site, bob, pw_b)
    room = unique_name("team")
    create_room(a, room, private=True)
    invite(a, bob)
    invite(a, cat)
    # bob is in #general, not here, and still online; cat has never signed in.
    open_people(a)
    a.wait_for_selector(f"#member-list li[data-user='{bob}'] .presence-dot.online", timeout=20000)
    a.wait_for_selector(f"#member-list li[data-user='{cat}'] .presence-dot.offline", timeout=20000)
    assert a.inner_text(f"#member-list li[data-user='{bob}'] .presence-dot") == "online,"
    close_drawer(a)

    # bob comes in and goes back: ann's list says nothing of it.
    before = notices(a)
    switch_room(b, room)
    close_drawer(b)
    switch_room(b, "general")
    send(a, "still here")
    a.wait_for_selector(message_item(a, "still here"))
    time.sleep(1)
    assert [text for text in notices(a) if text not in before and ("joined" in text or "left" in text)] == []
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_a_muted_user_sees_why_in_place_of_the_composer_before_typing(site, new_page, account, width, height):
    (ann, pw_a), (bob, pw_b) = account(), account()
    a, b = new_page(width, height), new_page(width, height)
    log_in(a, site, ann, pw_a)
    room = unique_name("quiet")
    create_room(a, room)
    # A member (a mere visitor's join sends no presence frame now: the member list would not show him).
    invite(a, bob)
    log_in(b, site, bob, pw_b, room)
    close_drawer(b)
    b.fill("#message-input", "half a thought")
    member_menu(a, bob)
    member_action(a, bob, "mute")
    a.wait_for_selector("#moderate-dialog[open]")
    a.fill("#moderate-minutes", "5")
    a.press("#moderate-minutes", "Enter")
    wait_closed(a, "moderate-dialog")

    # The mute reaches bob at once, before he sends anything: the reason and the end instead of the box.
    b.wait_for_selector("#composer-blocked:not([hidden])", timeout=LIVE_MS)
    assert b.inner_text("#composer-blocked").startswith(f"You are muted in #{room} (by {ann}) until ")
    assert not b.is_visible("#message-input")
    for scheme in ("light", "dark"):
        b.emulate_media(color_scheme=scheme)
        assert axe_violations(b) == [], f"muted composer, {scheme}"

    # Elsewhere he may write; back in the room (welcome's mutedUntil) the reason shows again.
    switch_room(b, "general")
    close_drawer(b)
    b.wait_for_selector("#message-input", state="visible")
    switch_room(b, room)
    close_drawer(b)
    b.wait_for_selector("#composer-blocked:not([hidden])", timeout=LIVE_MS)
    assert b.inner_text("#composer-blocked").startswith(f"You are muted in #{room} until ")
    assert b.input_value("#message-input") == "half a thought"

    # Banned: the room's messages leave bob's view.
    send(a, "before the ban")
    b.wait_for_selector(message_item(b, "before the ban"))
    close_drawer(a)
    member_action(a, bob, "ban")
    a.wait_for_selector("#moderate-dialog[open]")
    a.click("#moderate-submit")
    wait_closed(a, "moderate-dialog")
    wait_heading(b, "#general")
    b.wait_for_selector("#message-input", state="visible")
    assert not b.query_selector(message_item(b, "before the ban"))
    assert a.errors == [] and b.errors == []
