"""Moderation on the chat page, driven as people use it against the real local stack: a moderator
mutes, kicks and bans from keyboard-operable menus and each person is told in clear words; a plain
member sees no moderation and a refusal is said; a deleted message leaves a tombstone on both sides."""

import pytest

from tests.browser.conftest import (
    SIZES, close_drawer, create_room, log_in, member_action, member_menu, message_item, open_people, open_rooms,
    screenshot, send, switch_room, wait_banner, wait_closed, wait_connected, wait_heading,
)
from tests.integration.conftest import unique_name


@pytest.mark.parametrize("width,height", SIZES)
def test_a_moderator_mutes_kicks_and_bans_and_each_person_is_told(site, new_page, account, two_in_a_room, width,
                                                                  height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="pond", owned={})
    cat, pw_c = account()
    c = new_page(width, height)
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
    # bob is told at once, in place of the composer: before he types.
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


def test_a_member_sees_no_moderation_and_a_refusal_is_said(two_in_a_room):
    a, b, ann, bob, room = two_in_a_room(1280, 800, prefix="quiet", owned={})
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
