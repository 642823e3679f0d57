"""Messages as text on the chat page, as two people use it: links are clickable and only http and
https ones; mentions of me are highlighted; the unread count in the title, and mention
notifications while the tab is hidden."""

from tests.browser.conftest import HIDDEN_TAB_AND_NOTIFICATIONS, message_count, open_session_menu, send


def test_links_are_clickable_and_only_http_and_https(two_in_a_room):
    a, b, alice, bob, room = two_in_a_room()
    messages = [
        "see https://example.com/a?b=1&c=2. and http://example.org/x_(y)",
        "javascript:alert(1) and JAVASCRIPT://example.com/%0aalert(2)",
        "data:text/html,<script>alert(3)</script> vbscript:msgbox(4) file:///etc/passwd",
        'https://"><img src=x onerror=alert(5)> <a href="javascript:alert(6)">x</a>',
        "ftp://example.com/file mailto:a@example.com",
    ]
    for text in messages:
        send(b, text)
    message_count(a, len(messages))
    # The text reads exactly as written.
    assert a.eval_on_selector_all("#messages li.message .text", "ns => ns.map(n => n.textContent)") == messages
    links = a.eval_on_selector_all(
        "#messages a", "ns => ns.map(n => [n.getAttribute('href'), n.textContent, n.target, n.rel])")
    assert links == [
        ["https://example.com/a?b=1&c=2", "https://example.com/a?b=1&c=2", "_blank", "noopener noreferrer"],
        ["http://example.org/x_(y)", "http://example.org/x_(y)", "_blank", "noopener noreferrer"],
    ]
    assert a.query_selector("#messages img, #messages script") is None
    # A click opens the link in a new tab (served here: the test does not reach the internet); the chat stays.
    a.context.route("https://example.com/**", lambda route: route.fulfill(body="elsewhere", content_type="text/plain"))
    with a.context.expect_page() as opened:
        a.click("#messages a[href^='https://example.com']")
    opened.value.wait_for_load_state()
    assert opened.value.url == "https://example.com/a?b=1&c=2"
    opened.value.close()
    assert a.url.endswith("/chat.html")
    a.wait_for_timeout(300)
    assert a.errors == [] and b.errors == []


def test_mentions_of_me_are_highlighted(two_in_a_room):
    a, b, alice, bob, room = two_in_a_room()
    send(b, f"@{alice} look at this")
    send(b, f"mail {alice}@example.com or @{alice}x: not mentions")
    send(b, f"@{bob} talking to myself")
    message_count(a, 3)
    assert a.eval_on_selector_all("#messages mark.mention", "ns => ns.map(n => n.textContent)") == [f"@{alice}"]
    assert a.eval_on_selector_all("#messages li.mentions-me .text", "ns => ns.map(n => n.textContent)") == [
        f"@{alice} look at this"]
    # The sender sees no highlight of someone else's name.
    message_count(b, 3)
    assert b.query_selector("#messages mark.mention") is not None  # bob's own name, in the third
    assert b.eval_on_selector_all("#messages mark.mention", "ns => ns.map(n => n.textContent)") == [f"@{bob}"]


def test_unread_count_in_the_title_and_mention_notifications_while_hidden(two_in_a_room):
    a, b, alice, bob, room = two_in_a_room(a_script=HIDDEN_TAB_AND_NOTIFICATIONS)
    assert a.title() == f"#{room} · wschat"
    assert a.evaluate("window.__permissionAsked") == 0  # never asked on load

    send(b, "seen while visible")
    message_count(a, 1)
    a.evaluate("window.__setHidden(true)")
    send(b, "one")
    send(b, f"@{alice} two, before the opt-in")
    message_count(a, 3)
    assert a.title() == f"(2) #{room} · wschat"
    assert a.evaluate("window.__notifications") == []  # not opted in

    a.evaluate("window.__setHidden(false)")
    assert a.title() == f"#{room} · wschat"
    open_session_menu(a)
    a.click("#notify-toggle")  # a user's click asks for the permission
    a.wait_for_selector("#notify-toggle[aria-pressed=true]")
    assert a.evaluate("window.__permissionAsked") == 1
    assert "notified of @mentions" in a.inner_text("#notify-status")
    a.keyboard.press("Escape")

    a.evaluate("window.__setHidden(true)")
    send(b, "no mention here")
    send(b, f"hey @{alice}, are you there?")
    message_count(a, 5)
    assert a.title() == f"(2) #{room} · wschat"
    assert a.evaluate("window.__notifications") == [
        {"title": f"{bob} mentioned you in #{room}", "body": f"hey @{alice}, are you there?"}]
    send(a, "my own message does not count")  # typed while hidden (a second screen): not unread
    message_count(a, 6)
    assert a.title() == f"(2) #{room} · wschat"
    a.evaluate("window.__setHidden(false)")
    assert a.title() == f"#{room} · wschat"

    # Switched off: no more notifications.
    open_session_menu(a)
    a.click("#notify-toggle")
    a.wait_for_selector("#notify-toggle[aria-pressed=false]")
    a.evaluate("window.__setHidden(true)")
    send(b, f"@{alice} again")
    message_count(a, 7)
    assert len(a.evaluate("window.__notifications")) == 1
    assert a.errors == []
