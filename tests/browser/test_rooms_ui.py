"""Rooms on the chat page, driven as people use it against the real local stack: creating public and
private rooms, inviting, direct conversations, the directory and its filter, the member list with
roles, kick, ban and mute from keyboard-operable menus, deleting a message (both sides see the
tombstone), clear words for every refusal (a private room, a ban, a mute, a refused connect), at a
desktop's and a phone's size; and axe-core with the directory, a dialog, the member list and a
message menu open."""

import pytest

from tests.browser.conftest import (
    log_in, open_rooms, screenshot, send, switch_room, wait_connected, wait_drawer_in,
)
from tests.browser.test_look import axe_violations
from tests.integration.conftest import unique_name

SIZES = [pytest.param(1280, 800, id="desktop"), pytest.param(375, 740, id="phone")]


def is_phone(page):
    return page.viewport_size["width"] < 700


def open_sidebar(page):
    open_rooms(page)


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


def banner(page):
    page.wait_for_selector("#banner:not([hidden])", timeout=20000)
    return page.inner_text("#banner-text")


def wait_banner(page, text):
    page.wait_for_function("(text) => !document.getElementById('banner').hidden"
                           " && document.getElementById('banner-text').textContent.includes(text)", arg=text,
                           timeout=20000)
    return page.inner_text("#banner-text")


def wait_closed(page, dialog_id):
    page.wait_for_function("(id) => !document.getElementById(id).open", arg=dialog_id, timeout=20000)


def heading(page):
    return page.inner_text("#room-sigil") + page.inner_text("#room-name")


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


def sidebar_rooms(page, list_id="room-list"):
    return page.eval_on_selector_all(f"#{list_id} .room-link", "ns => ns.map(n => n.dataset.room)")


def wait_in_sidebar(page, room, list_id="room-list"):
    page.wait_for_selector(f"#{list_id} .room-link[data-room='{room}']", state="attached", timeout=20000)


def member_menu(page, user):
    open_people(page)
    selector = f"#member-list li[data-user='{user}'] .menu-button"
    page.wait_for_selector(selector, timeout=20000)
    return selector


def member_action(page, user, action):
    """Opens the member's menu with the mouse and picks the item."""
    page.click(member_menu(page, user))
    page.click(f"#member-list li[data-user='{user}'] [role=menuitem][data-action='{action}']")


def message_item(page, text):
    return f"#messages li.message:has-text({text!r})"


@pytest.mark.parametrize("width,height", SIZES)
def test_a_private_room_is_created_a_member_is_invited_and_a_stranger_is_refused(site, new_page, account, width, height):
    (ann, pw_a), (bob, pw_b), (cat, pw_c) = account(), account(), account()
    room = unique_name("garden")
    a = new_page(width, height)
    log_in(a, site, ann, pw_a)
    create_room(a, room, private=True, topic="Roses and weeds")
    assert a.is_visible("#room-private")
    open_sidebar(a)
    wait_in_sidebar(a, room)
    assert a.get_attribute(f"#room-list .room-link[data-room='{room}']", "aria-current") == "page"
    assert "private" in a.inner_text(f"#room-list .room-link[data-room='{room}']")
    close_drawer(a)
    open_people(a)
    a.wait_for_selector(f"#member-list li[data-user='{ann}'] .role-owner")
    close_drawer(a)

    # A stranger who types its name is told why, in words, and stays where they were. They have
    # just said something in #general, so a read marker is out too: its answer and the join's
    # refusal must not be taken for each other.
    c = new_page(width, height)
    log_in(c, site, cat, pw_c)
    send(c, "anyone in the garden?")
    c.wait_for_selector(message_item(c, "anyone in the garden?"))
    open_rooms(c)
    c.fill("#room-input", room)
    c.press("#room-input", "Enter")
    assert wait_banner(c, "private room") == (
        f"Could not open #{room}: it is a private room, and you are not a member "
        f"(ask its owner or a moderator to invite you). You are still in #general.")
    assert heading(c) == "#general"

    # The owner invites bob from the room's menu; bob hears of it and opens it from the notice.
    b = new_page(width, height)
    log_in(b, site, bob, pw_b)
    a.click("#room-menu .menu-button")
    a.click("#room-menu [role=menuitem][data-action=invite]")
    a.wait_for_selector("#invite-dialog[open]")
    a.fill("#invite-user", "nobody-" + unique_name("x")[:8])
    a.press("#invite-user", "Enter")
    a.wait_for_function("document.querySelector('#invite-dialog .dialog-error').textContent.includes('no user')")
    a.fill("#invite-user", bob)
    a.press("#invite-user", "Enter")
    wait_closed(a, "invite-dialog")
    assert a.evaluate("document.activeElement.closest('#room-menu') !== null")  # the focus came back
    a.wait_for_selector(f"#messages li.notice:has-text('{bob} is now a member')")
    b.wait_for_selector("#invite-notice:not([hidden])", timeout=20000)
    assert b.inner_text("#invite-text") == f"{ann} invited you to #{room} (a private room)."
    open_sidebar(b)
    wait_in_sidebar(b, room)
    close_drawer(b)
    screenshot(b, f"rooms-invited-{width}x{height}")
    b.click("#invite-open")
    wait_heading(b, f"#{room}")
    send(b, "thanks for the invite")
    a.wait_for_selector(message_item(a, "thanks for the invite"))
    screenshot(a, f"rooms-private-{width}x{height}")
    for page in (a, b, c):
        assert page.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_the_directory_lists_public_rooms_and_filters_them_by_name(site, new_page, account, width, height):
    (ann, pw_a), (bob, pw_b) = account(), account()
    stem = unique_name("dir")
    a = new_page(width, height)
    log_in(a, site, ann, pw_a)
    create_room(a, f"{stem}-tulips", topic="Spring bulbs")
    send(a, "first!")
    a.wait_for_selector(message_item(a, "first!"))  # stored in tulips before ann moves on
    switch_room(a, f"{stem}-daisies")  # a typed public room: never listed, even with messages
    send(a, "hello daisies")
    a.wait_for_selector(message_item(a, "hello daisies"))

    b = new_page(width, height)
    log_in(b, site, bob, pw_b)
    open_sidebar(b)
    b.click("#browse-rooms")
    b.wait_for_selector("#directory-dialog[open]")
    assert b.evaluate("document.activeElement.id") == "directory-filter"
    b.fill("#directory-filter", stem)
    b.wait_for_function("document.querySelectorAll('#directory-list .directory-open').length === 1", timeout=20000)
    # Only rooms made with createroom are listed: a join and a message cannot put a name in
    # everyone's directory (the security review's directory flood).
    assert b.query_selector(f"#directory-list .directory-open[data-room='{stem}-daisies']") is None
    b.fill("#directory-filter", f"{stem}-tul")
    b.wait_for_function("document.querySelectorAll('#directory-list .directory-open').length === 1")
    entry = b.inner_text("#directory-list .directory-open")
    assert f"{stem}-tulips" in entry and "Spring bulbs" in entry and "0 online · active" in entry  # ann moved on to daisies
    screenshot(b, f"rooms-directory-{width}x{height}")
    b.click(f"#directory-list .directory-open[data-room='{stem}-tulips']")
    wait_closed(b, "directory-dialog")
    wait_heading(b, f"#{stem}-tulips")
    b.wait_for_selector(message_item(b, "first!"))
    # Escape closes the directory, and the focus goes back to what opened it.
    open_sidebar(b)
    b.focus("#browse-rooms")
    b.keyboard.press("Enter")
    b.wait_for_selector("#directory-dialog[open]")
    b.keyboard.press("Escape")
    wait_closed(b, "directory-dialog")
    assert b.evaluate("document.activeElement.id") == "browse-rooms"
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_a_direct_conversation_shows_on_both_sides(site, new_page, account, width, height):
    (ann, pw_a), (bob, pw_b) = account(), account()
    a, b = new_page(width, height), new_page(width, height)
    log_in(a, site, ann, pw_a)
    log_in(b, site, bob, pw_b)
    open_sidebar(a)
    a.click("#new-dm")
    a.wait_for_selector("#dm-dialog[open]")
    a.fill("#dm-user", "nobody-" + unique_name("x")[:8])
    a.press("#dm-user", "Enter")
    a.wait_for_function("document.querySelector('#dm-dialog .dialog-error').textContent.startsWith('There is no user')")
    a.fill("#dm-user", bob)
    a.press("#dm-user", "Enter")
    wait_heading(a, f"@{bob}")
    send(a, "just between us")
    b.wait_for_selector("#invite-notice:not([hidden])", timeout=20000)
    assert b.inner_text("#invite-text") == f"{ann} started a direct conversation with you."
    open_sidebar(b)
    b.wait_for_function("(name) => [...document.querySelectorAll('#dm-list .room-link')]"
                        ".some(n => n.textContent.includes(name))", arg=ann, timeout=20000)
    b.click("#dm-list .room-link")
    wait_heading(b, f"@{ann}")
    b.wait_for_selector(message_item(b, "just between us"))
    send(b, "agreed")
    a.wait_for_selector(message_item(a, "agreed"))
    open_sidebar(a)
    assert a.inner_text("#dm-list .room-link[aria-current=page]").strip().endswith(bob)
    screenshot(a, f"rooms-dm-{width}x{height}")
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_a_moderator_mutes_kicks_and_bans_and_each_person_is_told(site, new_page, account, width, height):
    (ann, pw_a), (bob, pw_b), (cat, pw_c) = account(), account(), account()
    room = unique_name("pond")
    a = new_page(width, height)
    log_in(a, site, ann, pw_a)
    create_room(a, room)
    b, c = new_page(width, height), new_page(width, height)
    log_in(b, site, bob, pw_b, room)
    log_in(c, site, cat, pw_c, room)

    # Mute, by keyboard only: Enter opens the menu on its first item, arrows move, Enter picks.
    a.focus(member_menu(a, bob))
    a.keyboard.press("Enter")
    a.wait_for_selector(f"#member-list li[data-user='{bob}'] [role=menu]:not([hidden])")
    assert a.evaluate("document.activeElement.dataset.action") == "kick"
    a.keyboard.press("End")
    a.keyboard.press("Home")
    a.keyboard.press("ArrowDown")
    a.keyboard.press("ArrowDown")
    assert a.evaluate("document.activeElement.dataset.action") == "mute"
    a.keyboard.press("Enter")
    a.wait_for_selector("#moderate-dialog[open]")
    assert a.inner_text("#moderate-title") == f"Mute {bob} in #{room}"
    assert a.evaluate("document.activeElement.id") == "moderate-minutes"
    a.keyboard.type("5")
    a.keyboard.press("Enter")
    wait_closed(a, "moderate-dialog")
    a.wait_for_selector(f"#messages li.notice:has-text('{bob} is muted in #{room} until')")
    # bob is told at once, in place of the composer (issue 19: before he types).
    b.wait_for_selector("#composer-blocked:not([hidden])", timeout=20000)
    assert b.inner_text("#composer-blocked").startswith(f"You are muted in #{room} (by {ann}) until ")

    # Kick: cat is told by whom, and is back in general.
    member_action(a, cat, "kick")
    assert wait_banner(c, "removed you") == f"{ann} removed you from #{room}. You are back in #general."
    wait_heading(c, "#general")

    # Ban (no length: until lifted): bob is told, and cannot come back.
    close_drawer(a)
    member_action(a, bob, "ban")
    a.wait_for_selector("#moderate-dialog[open]")
    a.click("#moderate-submit")
    wait_closed(a, "moderate-dialog")
    assert wait_banner(b, "banned you") == (
        f"{ann} banned you from #{room} until the ban is lifted. You are back in #general.")
    wait_heading(b, "#general")
    open_rooms(b)
    b.fill("#room-input", room)
    b.press("#room-input", "Enter")
    assert wait_banner(b, "Could not open") == (
        f"Could not open #{room}. You are banned from #{room} until a moderator lifts the ban. "
        "You are still in #general.")
    b.wait_for_function("document.getElementById('sidebar').getBoundingClientRect().right <= 0"
                        " || window.innerWidth >= 700")  # the drawer has slid away
    screenshot(b, f"rooms-banned-{width}x{height}")
    # The ban is lifted from the room's menu, and bob may come back.
    close_drawer(a)
    a.click("#room-menu .menu-button")
    a.click("#room-menu [role=menuitem][data-action=unban]")
    a.wait_for_selector("#invite-dialog[open]")
    assert a.inner_text("#invite-title") == f"Lift a ban in #{room}"
    a.fill("#invite-user", bob)
    a.press("#invite-user", "Enter")
    wait_closed(a, "invite-dialog")
    a.wait_for_selector(f"#messages li.notice:has-text('{bob} may come back')")
    switch_room(b, room)

    # The moderation log, from the room's menu: every action above, newest first, in words.
    a.click("#room-menu .menu-button")
    a.click("#room-menu [role=menuitem][data-action=modlog]")
    a.wait_for_selector("#modlog-dialog[open]")
    a.wait_for_function("document.querySelectorAll('#modlog-list .modlog-what').length === 4")
    assert a.eval_on_selector_all("#modlog-list .modlog-what", "ns => ns.map(n => n.textContent)") == [
        f"{ann} lifted {bob}'s ban", f"{ann} banned {bob} until the ban is lifted", f"{ann} kicked {cat}",
        f"{ann} muted {bob} for 5 min"]
    assert a.inner_text("#modlog-title") == f"Moderation log of #{room}"
    a.keyboard.press("Escape")
    wait_closed(a, "modlog-dialog")
    # bob, a plain member, is offered no log.
    close_drawer(b)
    b.click("#room-menu .menu-button")
    assert "modlog" not in b.eval_on_selector_all("#room-menu [role=menuitem]", "ns => ns.map(n => n.dataset.action)")
    b.keyboard.press("Escape")
    for page in (a, b, c):
        assert page.errors == []


def test_a_member_sees_no_moderation_and_a_refusal_is_said(site, new_page, account):
    (ann, pw_a), (bob, pw_b) = account(), account()
    room = unique_name("quiet")
    a = new_page(1280, 800)
    log_in(a, site, ann, pw_a)
    create_room(a, room)
    b = new_page(1280, 800)
    log_in(b, site, bob, pw_b, room)
    open_people(b)
    b.wait_for_selector(f"#member-list li[data-user='{ann}']")
    # bob may only message ann: no moderation items for a plain member.
    b.click(member_menu(b, ann))
    items = b.eval_on_selector_all(f"#member-list li[data-user='{ann}'] [role=menuitem]", "ns => ns.map(n => n.dataset.action)")
    assert items == ["message"]
    b.keyboard.press("Escape")
    assert b.evaluate("document.activeElement.classList.contains('menu-button')")
    # Nor in the room's menu: no invitation for a plain member of a public room.
    b.click("#room-menu .menu-button")
    assert "invite" not in b.eval_on_selector_all("#room-menu [role=menuitem]", "ns => ns.map(n => n.dataset.action)")
    b.keyboard.press("Escape")
    assert b.errors == [] and a.errors == []


def test_deleting_a_message_leaves_a_tombstone_on_both_sides(site, new_page, account):
    (ann, pw_a), (bob, pw_b) = account(), account()
    room = unique_name("notes")
    a = new_page(1280, 800)
    log_in(a, site, ann, pw_a)
    create_room(a, room)
    b = new_page(375, 740)
    log_in(b, site, bob, pw_b, room)
    send(b, "oops, wrong room")
    send(b, "this one stays")
    send(b, "and this I take back")
    a.wait_for_selector(message_item(a, "and this I take back"))
    # The owner deletes bob's message from its menu, by keyboard.
    menu = f"{message_item(a, 'oops, wrong room')} .message-actions .menu-button"
    a.focus(menu)
    a.keyboard.press("ArrowDown")
    assert a.evaluate("document.activeElement.dataset.action") == "delete"
    a.keyboard.press("Enter")
    for page in (a, b):
        page.wait_for_selector("#messages li.message.deleted:has-text('message deleted')", timeout=20000)
        assert "oops, wrong room" not in page.inner_text("#messages")
    # bob deletes his own with the mouse; ann's message offers him no Delete.
    b.click(f"{message_item(b, 'and this I take back')} .message-actions .menu-button")
    b.click("[role=menuitem][data-action=delete]")
    a.wait_for_function("document.querySelectorAll('#messages li.message.deleted').length === 2", timeout=20000)
    send(a, "noted")
    b.wait_for_selector(message_item(b, "noted"))
    b.click(f"{message_item(b, 'noted')} .message-actions .menu-button")
    offered = b.eval_on_selector_all(f"{message_item(b, 'noted')} [role=menuitem]", "ns => ns.map(n => n.dataset.action)")
    assert offered and "delete" not in offered
    b.keyboard.press("Escape")
    # History keeps the tombstones: a reload shows them without their text.
    b.reload()
    wait_connected(b)
    b.wait_for_function("document.querySelectorAll('#messages li.message.deleted').length === 2", timeout=20000)
    texts = b.eval_on_selector_all("#messages li.message .text", "ns => ns.map(n => n.textContent)")
    assert texts == ["message deleted", "this one stays", "message deleted", "noted"]
    screenshot(b, "rooms-deleted-375x740")
    assert a.errors == [] and b.errors == []


def test_a_connect_to_a_room_the_user_may_not_enter_falls_back_to_general_and_says_why(site, new_page, account):
    (ann, pw_a), (cat, pw_c) = account(), account()
    room = unique_name("vault")
    a = new_page(1280, 800)
    log_in(a, site, ann, pw_a)
    create_room(a, room, private=True)
    c = new_page(1280, 800)
    log_in(c, site, cat, pw_c)
    # The page was last in the private room (a stale tab, a kick while away): ?room= is refused with 403.
    c.evaluate(f"sessionStorage.setItem('wschat.room', {room!r})")
    c.reload()
    wait_connected(c)
    assert wait_banner(c, "private room") == (
        f"Could not open #{room}: it is a private room, and you are not a member "
        f"(ask its owner or a moderator to invite you). You are still in #general.")
    wait_heading(c, "#general")
    assert c.get_attribute("#conn-state", "data-state") == "open"
    assert c.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_rooms_ui_has_no_serious_accessibility_violation(site, new_page, account, width, height):
    (ann, pw_a), (bob, pw_b) = account(), account()
    room = unique_name("axe")
    a = new_page(width, height)
    log_in(a, site, ann, pw_a)
    create_room(a, room, topic="Checking")
    b = new_page(width, height)
    log_in(b, site, bob, pw_b, room)
    send(b, "a message to act on")
    a.wait_for_selector(message_item(a, "a message to act on"))
    for scheme in ("light", "dark"):
        a.emulate_media(color_scheme=scheme)
        # The message menu, open.
        a.click(f"{message_item(a, 'a message to act on')} .message-actions .menu-button")
        a.wait_for_selector("#messages [role=menu]:not([hidden])")
        assert axe_violations(a) == [], f"message menu, {scheme}"
        screenshot(a, f"rooms-message-menu-{width}x{height}-{scheme}")
        a.keyboard.press("Escape")
        # The member list with a member's menu open.
        a.click(member_menu(a, bob))
        assert axe_violations(a) == [], f"member menu, {scheme}"
        screenshot(a, f"rooms-members-{width}x{height}-{scheme}")
        a.keyboard.press("Escape")
        close_drawer(a)
        # A dialog.
        open_sidebar(a)
        a.click("#new-room")
        a.wait_for_selector("#create-dialog[open]")
        assert axe_violations(a) == [], f"create dialog, {scheme}"
        screenshot(a, f"rooms-create-dialog-{width}x{height}-{scheme}")
        a.keyboard.press("Escape")
        wait_closed(a, "create-dialog")
        # The directory.
        a.click("#browse-rooms")
        a.wait_for_selector("#directory-dialog[open]")
        a.wait_for_selector("#directory-list .directory-open", timeout=20000)
        assert axe_violations(a) == [], f"directory, {scheme}"
        screenshot(a, f"rooms-directory-open-{width}x{height}-{scheme}")
        a.keyboard.press("Escape")
        wait_closed(a, "directory-dialog")
        close_drawer(a)
        # The moderation log (empty here: its words for that are checked too).
        a.click("#room-menu .menu-button")
        a.click("#room-menu [role=menuitem][data-action=modlog]")
        a.wait_for_selector("#modlog-dialog[open]")
        a.wait_for_function("document.getElementById('modlog-status').textContent !== 'Loading…'")
        assert axe_violations(a) == [], f"moderation log, {scheme}"
        screenshot(a, f"rooms-modlog-{width}x{height}-{scheme}")
        a.keyboard.press("Escape")
        wait_closed(a, "modlog-dialog")
    assert a.errors == [] and b.errors == []
