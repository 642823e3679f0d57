"""Edits, reactions, replies, typing, the read marker and unread badges on the chat page, driven as
people use them against the real local stack, at a desktop's and a phone's size: what one person does
the other sees live; the message menu and the emoji picker work from the keyboard alone; axe-core
finds no serious or critical violation with a menu, the picker and a reply quote open."""

import pytest

from handler.protocol import Action
from tests.browser.conftest import (
    HIDDEN_TAB_AND_NOTIFICATIONS, SIZES, axe_violations, message_item, open_session_menu, open_sidebar, screenshot,
    send, wait_banner, wait_connected, wait_in_sidebar, wait_marker_stored,
)

# The read marker and unread counts are served once the server knows the `read` action.
needs_read = pytest.mark.skipif("read" not in {action.value for action in Action},
                                reason="the server has no read markers yet (branch unread)")


def menu_button(page, text):
    return f"{message_item(page, text)} .message-actions .menu-button"


def pick(page, text, action):
    """Opens the message's menu with the mouse and picks the item."""
    page.click(menu_button(page, text))
    page.click(f"{message_item(page, text)} [role=menuitem][data-action={action}]")


def menu_items(page, text):
    page.click(menu_button(page, text))
    items = page.eval_on_selector_all(f"{message_item(page, text)} [role=menuitem]", "ns => ns.map(n => n.dataset.action)")
    page.keyboard.press("Escape")
    return items


def wait_text(page, selector, text, timeout=20000):
    page.wait_for_function("([s, t]) => { const n = document.querySelector(s); return !!n && n.textContent === t; }",
                           arg=[selector, text], timeout=timeout)


def wait_reactions(page, text, expected):
    """Waits until the reactions bar of the message whose text is `text` shows `expected`:
    [[emoji, count, aria-pressed], ...]."""
    page.wait_for_function("""([text, expected]) => {
        const item = [...document.querySelectorAll('#messages li.message')]
            .find(n => n.querySelector('.body > .text')?.textContent === text);
        if (!item) return false;
        const shown = [...item.querySelectorAll('.reactions .reaction')].map(
            n => [n.dataset.emoji, n.querySelector('.reaction-count').textContent, n.getAttribute('aria-pressed')]);
        return JSON.stringify(shown) === JSON.stringify(expected);
    }""", arg=[text, expected], timeout=20000)


@pytest.mark.parametrize("width,height", SIZES)
def test_an_edit_is_seen_by_everyone_with_its_mark_and_stays_after_a_reload(two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="feat")
    send(a, "see you at 5")
    b.wait_for_selector(message_item(b, "see you at 5"))
    # Only the author is offered Edit.
    assert menu_items(a, "see you at 5") == ["delete", "edit", "reply", "react"]
    assert menu_items(b, "see you at 5") == ["reply", "react"]

    # Escape cancels: nothing is sent, the text stays, the focus goes back to the menu button.
    pick(a, "see you at 5", "edit")
    field = f"{message_item(a, 'see you at 5')} .edit-field"
    a.wait_for_selector(field)
    assert a.evaluate("document.activeElement.classList.contains('edit-field')")
    assert a.input_value(field) == "see you at 5"
    a.keyboard.type(" or never")
    a.keyboard.press("Escape")
    assert a.locator(field).count() == 0
    assert a.evaluate("document.activeElement.classList.contains('menu-button')")

    # Enter saves: both pages show the new text and "(edited)", with when in its tooltip.
    pick(a, "see you at 5", "edit")
    a.fill(field, "see you at 6")
    a.press(field, "Enter")
    for page in (a, b):
        page.wait_for_selector(f"{message_item(page, 'see you at 6')} .edited", timeout=20000)
        mark = f"{message_item(page, 'see you at 6')} .edited"
        assert page.inner_text(mark) == "(edited)"
        assert page.get_attribute(mark, "title").startswith("Edited ")
        assert "see you at 5" not in page.inner_text("#messages")
    screenshot(b, f"features-edited-{width}x{height}")

    # History has the latest text and the mark.
    b.reload()
    wait_connected(b)
    b.wait_for_selector(f"{message_item(b, 'see you at 6')} .edited", timeout=20000)
    assert b.eval_on_selector_all("#messages li.message .text", "ns => ns.map(n => n.textContent)") == ["see you at 6"]
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_a_reaction_toggles_and_both_sides_see_the_count(two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="feat")
    send(a, "lunch at noon?")
    b.wait_for_selector(message_item(b, "lunch at noon?"))
    pick(b, "lunch at noon?", "react")
    picker = f"{message_item(b, 'lunch at noon?')} .emoji-picker"
    b.wait_for_selector(picker)
    assert b.get_attribute(picker, "role") == "dialog"
    b.click(f"{picker} .emoji-choice[aria-label='thumbs up']")
    assert b.locator(picker).count() == 0
    wait_reactions(b, "lunch at noon?", [["👍", "1", "true"]])
    wait_reactions(a, "lunch at noon?", [["👍", "1", "false"]])
    assert b.get_attribute(f"{message_item(b, 'lunch at noon?')} .reaction", "aria-label") == f"👍 1: {bob}"

    # ann adds hers by clicking the bar: 2 on both sides, both names in the label and tooltip.
    a.click(f"{message_item(a, 'lunch at noon?')} .reaction[data-emoji='👍']")
    wait_reactions(a, "lunch at noon?", [["👍", "2", "true"]])
    wait_reactions(b, "lunch at noon?", [["👍", "2", "true"]])
    assert a.get_attribute(f"{message_item(a, 'lunch at noon?')} .reaction", "title") == f"{bob} and {ann}"
    # ...and takes it back.
    a.click(f"{message_item(a, 'lunch at noon?')} .reaction[data-emoji='👍']")
    wait_reactions(a, "lunch at noon?", [["👍", "1", "false"]])
    wait_reactions(b, "lunch at noon?", [["👍", "1", "true"]])

    # Any one emoji from the picker's field; two letters are refused in clear words.
    pick(a, "lunch at noon?", "react")
    a.fill(f"{message_item(a, 'lunch at noon?')} .emoji-field", "🦄")
    a.press(f"{message_item(a, 'lunch at noon?')} .emoji-field", "Enter")
    wait_reactions(b, "lunch at noon?", [["👍", "1", "true"], ["🦄", "1", "false"]])
    pick(a, "lunch at noon?", "react")
    a.fill(f"{message_item(a, 'lunch at noon?')} .emoji-field", "ok")
    a.press(f"{message_item(a, 'lunch at noon?')} .emoji-field", "Enter")
    assert "Your reaction did not go through" in wait_banner(a, "reaction")
    screenshot(a, f"features-reactions-{width}x{height}")
    # A reload shows the reactions from history, mine pressed.
    a.reload()
    wait_connected(a)
    wait_reactions(a, "lunch at noon?", [["👍", "1", "false"], ["🦄", "1", "true"]])
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_a_reply_carries_its_quote_to_both_sides(two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="feat")
    send(a, "who brings the projector tomorrow?")
    for n in range(12):  # enough to push the original out of view
        send(a, f"filler {n}")
    b.wait_for_selector(message_item(b, "filler 11"))
    pick(b, "who brings the projector tomorrow?", "reply")
    b.wait_for_selector("#reply-bar:not([hidden])")
    assert b.inner_text("#reply-sender") == ann
    assert b.inner_text("#reply-excerpt") == "who brings the projector tomorrow?"
    assert b.evaluate("document.activeElement.id") == "message-input"
    # Escape in the box drops the reply; Reply again and send.
    b.keyboard.press("Escape")
    b.wait_for_selector("#reply-bar", state="hidden")
    pick(b, "who brings the projector tomorrow?", "reply")
    b.keyboard.type("I will")
    b.keyboard.press("Enter")
    b.wait_for_selector("#reply-bar", state="hidden")
    for page in (a, b):
        quote = f"{message_item(page, 'I will')} .quote"
        page.wait_for_selector(quote, timeout=20000)
        assert page.inner_text(f"{quote} .quote-sender") == ann
        assert page.inner_text(f"{quote} .quote-excerpt") == "who brings the projector tomorrow?"
    screenshot(a, f"features-reply-{width}x{height}")
    # A click on the quote shows the original, scrolled into view and focused.
    a.click(f"{message_item(a, 'I will')} .quote")
    a.wait_for_function("document.activeElement.matches('li.message') && "
                        "document.activeElement.textContent.includes('who brings the projector')")
    box = a.locator(message_item(a, "who brings the projector tomorrow?")).first.bounding_box()
    assert 0 <= box["y"] < height
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_the_other_person_sees_who_is_typing(two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="feat")
    b.click("#message-input")
    b.keyboard.type("hang on, ")
    wait_text(a, "#typing", f"{bob} is typing…")
    assert b.inner_text("#typing") == ""  # never about oneself
    # It goes a few seconds after the last typing frame...
    a.wait_for_function("document.getElementById('typing').textContent === ''", timeout=20000)
    # ...and at once when the message arrives.
    b.keyboard.type("checking")
    wait_text(a, "#typing", f"{bob} is typing…")
    b.keyboard.press("Enter")
    a.wait_for_selector(message_item(a, "hang on, checking"))
    assert a.inner_text("#typing") == ""
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_the_message_menu_and_the_emoji_picker_work_from_the_keyboard(two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="feat")
    send(b, "keyboard please")
    a.wait_for_selector(message_item(a, "keyboard please"))
    a.focus(menu_button(a, "keyboard please"))
    a.keyboard.press("Enter")
    assert a.evaluate("document.activeElement.dataset.action") == "reply"
    a.keyboard.press("ArrowDown")
    assert a.evaluate("document.activeElement.dataset.action") == "react"
    a.keyboard.press("Enter")
    # The picker takes the focus; arrows move between the emoji, Enter picks.
    assert a.evaluate("document.activeElement.getAttribute('aria-label')") == "thumbs up"
    a.keyboard.press("ArrowRight")
    assert a.evaluate("document.activeElement.getAttribute('aria-label')") == "red heart"
    a.keyboard.press("Enter")
    wait_reactions(b, "keyboard please", [["❤️", "1", "false"]])
    assert a.evaluate("document.activeElement.classList.contains('menu-button')")
    # Escape closes the picker and gives the focus back to the menu button.
    a.keyboard.press("ArrowUp")  # the menu opens on its last item
    assert a.evaluate("document.activeElement.dataset.action") == "react"
    a.keyboard.press("Enter")
    a.wait_for_selector(".emoji-picker")
    a.keyboard.press("Escape")
    assert a.locator(".emoji-picker").count() == 0
    assert a.evaluate("document.activeElement.classList.contains('menu-button')")
    # Reply by keyboard: the menu opens on Reply.
    a.keyboard.press("Enter")
    a.keyboard.press("Enter")  # Reply
    assert a.evaluate("document.activeElement.id") == "message-input"
    a.keyboard.type("noted")
    a.keyboard.press("Enter")
    b.wait_for_selector(f"{message_item(b, 'noted')} .quote")
    assert a.errors == [] and b.errors == []


@pytest.mark.parametrize("width,height", SIZES)
def test_features_have_no_serious_accessibility_violation(two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="feat")
    send(b, "the plan is ready")
    a.wait_for_selector(message_item(a, "the plan is ready"))
    pick(a, "the plan is ready", "reply")
    a.keyboard.type("great, thanks")
    a.keyboard.press("Enter")
    b.wait_for_selector(f"{message_item(b, 'great, thanks')} .quote")
    pick(b, "great, thanks", "react")
    b.click(".emoji-choice[aria-label='party popper']")
    a.wait_for_selector(f"{message_item(a, 'great, thanks')} .reaction")
    send(a, "edited later")
    a.wait_for_selector(message_item(a, "edited later"))
    pick(a, "edited later", "edit")
    a.fill(f"{message_item(a, 'edited later')} .edit-field", "edited now")
    a.keyboard.press("Enter")
    a.wait_for_selector(f"{message_item(a, 'edited now')} .edited")
    for scheme in ("light", "dark"):
        a.emulate_media(color_scheme=scheme)
        # A reply being written (its quote above the composer), and the emoji picker open.
        pick(a, "the plan is ready", "reply")
        pick(a, "the plan is ready", "react")
        a.wait_for_selector(".emoji-picker")
        assert axe_violations(a) == [], f"picker and reply bar, {scheme}"
        screenshot(a, f"features-picker-{width}x{height}-{scheme}")
        a.keyboard.press("Escape")
        # A message menu open, on a message with a quote and a reaction.
        a.click(menu_button(a, "great, thanks"))
        a.wait_for_selector("#messages [role=menu]:not([hidden])")
        assert axe_violations(a) == [], f"message menu, {scheme}"
        screenshot(a, f"features-menu-{width}x{height}-{scheme}")
        a.keyboard.press("Escape")
        a.click("#reply-cancel")
    assert a.errors == [] and b.errors == []


@needs_read
@pytest.mark.parametrize("width,height", SIZES)
def test_new_messages_are_marked_after_a_reload(stack, two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="feat")
    send(b, "read this one")
    a.wait_for_selector(message_item(a, "read this one"))
    # ann's page saw it (visible, at the bottom), so her marker is there; she leaves for a while.
    wait_marker_stored(stack, ann, room, a.get_attribute(message_item(a, "read this one"), "data-id"))
    a.goto("about:blank")
    send(b, "first new one")
    send(b, "second new one")
    a.go_back()
    wait_connected(a)
    a.wait_for_selector("#messages .new-line", timeout=20000)
    after = a.evaluate("document.querySelector('#messages .new-line').nextElementSibling.textContent")
    assert "first new one" in after
    assert a.inner_text("#messages .new-line") == "New messages"
    screenshot(a, f"features-new-line-{width}x{height}")
    assert a.errors == [] and b.errors == []


@needs_read
@pytest.mark.parametrize("width,height", SIZES)
def test_another_room_shows_an_unread_badge(two_in_a_room, width, height):
    a, b, ann, bob, room = two_in_a_room(width, height, prefix="quiet", owned={})
    a.wait_for_timeout(2500)
    # ann goes back to general; bob writes in the room she left, mentioning her once.
    open_sidebar(a)
    a.fill("#room-input", "general")
    a.click("#room-form button[type=submit]")
    a.wait_for_function("document.getElementById('room-name').textContent === 'general'")
    send(b, "one")
    send(b, f"two @{ann}")
    # Both stored (the server's echo is on bob's page) before ann's page asks for her rooms: it
    # asks when it connects, so a reload that overtakes the messages would count none of them.
    b.wait_for_function("[...document.querySelectorAll('#messages li.message .text')]"
                        f".map(n => n.textContent).join('|').endsWith('one|two @{ann}')", timeout=20000)
    a.reload()
    wait_connected(a)
    wait_in_sidebar(a, room)
    open_sidebar(a)  # a drawer on a phone
    badge = f"#room-list .room-link[data-room='{room}'] .unread-badge"
    a.wait_for_selector(badge, timeout=20000)
    assert a.inner_text(badge).startswith("2")
    assert "mention" in a.get_attribute(badge, "class")
    assert a.title().startswith("(2) ")
    assert a.errors == [] and b.errors == []


def test_direct_messages_notify_while_the_tab_is_hidden(two_in_a_room):
    a, b, ann, bob, _ = two_in_a_room(in_general=True, b_script=HIDDEN_TAB_AND_NOTIFICATIONS)
    open_session_menu(b)
    b.click("#notify-toggle")
    b.wait_for_selector("#notify-toggle[aria-pressed=true]")
    assert "direct messages" in b.inner_text("#notify-status")
    b.keyboard.press("Escape")
    # A new direct conversation, while bob's tab is in the background.
    b.evaluate("window.__setHidden(true)")
    open_sidebar(a)
    a.click("#new-dm")
    a.wait_for_selector("#dm-dialog[open]")
    a.fill("#dm-user", bob)
    a.press("#dm-user", "Enter")
    b.wait_for_function("window.__notifications.length === 1", timeout=20000)
    assert b.evaluate("window.__notifications") == [
        {"title": f"{ann} started a direct conversation with you", "body": ""}]
    # bob opens it; back in the background, a direct message notifies (no mention needed).
    b.evaluate("window.__setHidden(false)")
    b.click("#invite-open")
    b.wait_for_function("(name) => document.getElementById('room-name').textContent === name", arg=ann)
    b.evaluate("window.__setHidden(true)")
    send(a, "are you free later?")
    b.wait_for_function("window.__notifications.length === 2", timeout=20000)
    assert b.evaluate("window.__notifications")[1] == {"title": f"{ann} sent you a message", "body": "are you free later?"}
    assert a.errors == [] and b.errors == []
