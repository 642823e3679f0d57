"""Rooms on the chat page, driven as people use it against the real local stack: creating public and
private rooms, inviting, direct conversations, the directory and its filter, clear words for a
refusal (a private room, a refused connect), at a desktop's and a phone's size; and axe-core with
the directory, a dialog, the member list and a message menu open. Moderation is in
test_moderation_ui.py."""

import pytest

from tests.browser.conftest import (
    SIZES, axe_violations, close_drawer, create_room, log_in, member_menu, message_item, open_people, open_rooms,
    open_sidebar, screenshot, send, switch_room, wait_banner, wait_closed, wait_connected, wait_heading,
    wait_in_sidebar,
)
from tests.integration.conftest import unique_name


def banner(page):
    page.wait_for_selector("#banner:not([hidden])", timeout=20000)
    return page.inner_text("#banner-text")


def heading(page):
    return page.inner_text("#room-sigil") + page.inner_text("#room-name")


def sidebar_rooms(page, list_id="room-list"):
    return page.eval_on_selector_all(f"#{list_id} .room-link", "ns => ns.map(n => n.dataset.room)")


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
    # everyone's directory (a flood of typed names would fill it).
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
def test_a_direct_conversation_shows_on_both_sides(two_in_a_room, width, height):
    a, b, ann, bob, _ = two_in_a_room(width, height, in_general=True)
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
    # A refused connect looks like a network failure to a browser: the page tries the room three
    # times (backoff with jitter) before it opens the default room and asks for the room by a join.
    wait_connected(c, timeout=45000)
    assert wait_banner(c, "private room") == (
        f"Could not open #{room}: it is a private room, and you are not a member "
        f"(ask its owner or a moderator to invite you). You are still in #general.")
    wait_heading(c, "#general")
    assert c.get_attribute("#conn-state", "data-state") == "open"
    assert c.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_rooms_ui_has_no_serious_accessibility_violation(two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="axe", owned={"topic": "Checking"})
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
