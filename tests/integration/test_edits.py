"""Message actions through the local stack: editmessage, react, sendmessage with replyTo, typing."""

from tests.integration.conftest import unique_name


def room():
    return unique_name("room")


def pair(register, client, r=None):
    """Two members in one room, both joined: (alice's client, her name, bob's client, his name)."""
    r = r or room()
    alice, bob = register(), register()
    a, b = client(alice["token"], r), client(bob["token"], r)
    a.join()
    b.join()
    return a, alice["user"]["username"], b, bob["user"]["username"]


def say(c, text, **extra) -> dict:
    c.send({"action": "sendmessage", "message": text, **extra})
    return c.next("message", message=text)


# -- editmessage -------------------------------------------------------------------------------


def test_the_author_edits_and_the_room_and_history_see_the_new_text(register, client):
    a, alice, b, _ = pair(register, client)
    sent = say(a, "teh typo")
    b.next("message", id=sent["id"])
    a.send({"action": "editmessage", "room": sent["room"], "id": sent["id"], "message": "  the typo, fixed  "})
    edited = b.next("edited", id=sent["id"])
    assert edited["message"] == "the typo, fixed" and edited["room"] == sent["room"] and edited["editedAt"]
    assert a.next("edited", id=sent["id"])["editedAt"] == edited["editedAt"]  # the author's tabs agree
    b.send({"action": "history"})
    (shown,) = [m for m in b.next("history")["messages"] if m["id"] == sent["id"]]
    assert shown["message"] == "the typo, fixed" and shown["editedAt"] == edited["editedAt"]
    assert shown["sentAt"] == sent["sentAt"]  # where it was in the conversation does not move


def test_only_the_author_may_edit(register, client):
    a, _, b, _ = pair(register, client)
    sent = say(a, "mine")
    b.send({"action": "editmessage", "id": sent["id"], "message": "now mine"})
    error = b.next("error")
    assert error["code"] == "forbidden"
    b.send({"action": "history"})
    assert [m["message"] for m in b.next("history")["messages"] if m["id"] == sent["id"]] == ["mine"]
    assert [f for f in a.nothing_more(0.5) if f["type"] == "edited"] == []


def test_an_edit_of_a_message_in_another_room_is_refused(register, client):
    a, _, _, _ = pair(register, client)
    elsewhere = client(register()["token"], room())
    elsewhere.join()
    # Alice's own message, but she is asked to edit it as if it were in her current room: she moved.
    sent = say(a, "said here")
    a.join(room())
    a.send({"action": "editmessage", "id": sent["id"], "message": "changed from elsewhere"})
    assert a.next("error")["code"] == "not_found"
    a.send({"action": "editmessage", "room": sent["room"], "id": sent["id"], "message": "naming the room"})
    assert a.next("error")["code"] == "forbidden"


def test_an_edit_gets_the_same_checks_as_a_message(register, client):
    a, _, _, _ = pair(register, client)
    sent = say(a, "short")
    for body, code in (({"message": "   "}, "empty_message"), ({"message": "x" * 2001}, "too_large"),
                       ({"message": "ü" * 2001}, "too_large"), ({"message": 5}, "bad_request"),
                       ({"message": "ok", "id": "nope"}, "bad_request")):
        a.send({"action": "editmessage", "id": sent["id"], **body})
        assert a.next("error")["code"] == code, body
    a.send({"action": "editmessage", "id": "1" * 13 + "abcdef", "message": "no such"})
    assert a.next("error")["code"] == "not_found"


# -- react -------------------------------------------------------------------------------------


def test_a_reaction_toggles_and_history_carries_it(register, client):
    a, alice, b, bob = pair(register, client)
    sent = say(a, "react to me")
    b.send({"action": "react", "id": sent["id"], "emoji": "👍"})
    added = a.next("reaction", id=sent["id"])
    assert (added["emoji"], added["user"], added["added"], added["count"]) == ("👍", bob, True, 1)
    a.send({"action": "react", "id": sent["id"], "emoji": "👍"})
    assert b.next("reaction", id=sent["id"], user=alice)["count"] == 2
    b.send({"action": "history"})
    (shown,) = [m for m in b.next("history")["messages"] if m["id"] == sent["id"]]
    assert shown["reactions"] == [{"emoji": "👍", "count": 2, "users": [bob, alice], "me": True}]
    b.send({"action": "react", "id": sent["id"], "emoji": "👍"})  # again: taken back
    removed = a.next("reaction", id=sent["id"], user=bob)
    assert (removed["added"], removed["count"]) == (False, 1)
    welcome = client(register()["token"], sent["room"]).join()
    (shown,) = [m for m in welcome["history"] if m["id"] == sent["id"]]
    assert shown["reactions"] == [{"emoji": "👍", "count": 1, "users": [alice], "me": False}]


def test_reactions_are_one_emoji_and_bounded(register, client):
    a, _, _, _ = pair(register, client)
    sent = say(a, "so many feelings")
    for emoji in ("a", "👍👍", "👍 ", "", "<b>", 7, "🇫"):
        a.send({"action": "react", "id": sent["id"], "emoji": emoji})
        assert a.next("error")["code"] == "bad_request", emoji
    kinds = ["👍", "❤️", "😂", "🎉", "👀", "🙏", "🇫🇷", "👩‍👩‍👧", "1️⃣"]
    for emoji in kinds[:8]:
        a.send({"action": "react", "id": sent["id"], "emoji": emoji})
        assert a.next("reaction", emoji=emoji)["added"] is True
    a.send({"action": "react", "id": sent["id"], "emoji": kinds[8]})
    assert a.next("error")["code"] == "too_large"
    a.send({"action": "history"})
    (shown,) = [m for m in a.next("history")["messages"] if m["id"] == sent["id"]]
    assert [r["emoji"] for r in shown["reactions"]] == kinds[:8]


# -- replyTo -----------------------------------------------------------------------------------


def test_a_reply_quotes_the_message_it_answers(register, client):
    a, alice, b, _ = pair(register, client)
    question = say(a, "what time is the\nmeeting? " + "details " * 39 + "details")
    b.send({"action": "sendmessage", "message": "at noon", "replyTo": question["id"]})
    answer = a.next("message", message="at noon")
    quote = answer["replyTo"]
    assert quote["id"] == question["id"] and quote["sender"] == alice
    assert quote["excerpt"].startswith("what time is the meeting? details") and len(quote["excerpt"]) <= 100
    a.send({"action": "history"})
    (shown,) = [m for m in a.next("history")["messages"] if m["id"] == answer["id"]]
    assert shown["replyTo"] == quote


def test_a_reply_to_another_rooms_message_or_an_unknown_id_is_refused(register, client):
    a, _, b, _ = pair(register, client)
    other = client(register()["token"], room())
    other.join()
    theirs = say(other, "in another room")
    a.send({"action": "sendmessage", "message": "answering across rooms", "replyTo": theirs["id"]})
    assert a.next("error")["code"] == "not_found"
    a.send({"action": "sendmessage", "message": "answering nothing", "replyTo": "not-an-id"})
    assert a.next("error")["code"] == "bad_request"
    assert [f for f in b.nothing_more(0.5) if f["type"] == "message"] == []


# -- typing ------------------------------------------------------------------------------------


def test_typing_reaches_the_others_at_most_once_per_interval(register, client):
    a, alice, b, _ = pair(register, client)
    a.send({"action": "typing", "room": b.seen[-1]["room"]})
    assert b.next("typing") == {"type": "typing", "room": b.seen[-1]["room"], "user": alice}
    for _ in range(3):
        a.send({"action": "typing"})
    # Within the 3 s interval the rest are dropped, with no answer to the typist.
    assert [f for f in b.nothing_more(1.0) if f["type"] == "typing"] == []
    assert [f for f in a.nothing_more(0.2) if f["type"] in ("typing", "error")] == []
    # Nothing was stored: history holds no trace of it.
    b.send({"action": "history"})
    assert b.next("history")["messages"] == []
