"""The security review's findings on rooms, moderation and replies, through the local stack, as a
user sees them (the refresh and logout findings are in test_refresh.py)."""

import requests

from tests.integration.conftest import unique_name
from tests.integration.test_rooms import ask, error, person  # noqa: F401


def test_a_moderator_banned_from_a_public_room_cannot_moderate_it(person):  # noqa: F811
    room = unique_name("pub")
    ann, _, a = person(room)
    ask(a, {"action": "createroom", "room": room}, "room")
    mod, _, m = person(room)
    eve, _, e = person(room)
    ask(a, {"action": "setrole", "room": room, "user": mod, "role": "moderator"}, "done")
    ask(a, {"action": "ban", "room": room, "user": mod}, "done")
    m.next("banned")
    for frame in ({"action": "kick", "room": room, "user": eve}, {"action": "mute", "room": room, "user": eve, "minutes": 5},
                  {"action": "modlog", "room": room}, {"action": "members", "room": room}):
        assert error(m, frame)["code"] == "forbidden", frame
    e.send({"action": "sendmessage", "message": "still here"})
    assert e.next("message")["message"] == "still here"


def test_nobody_can_claim_general_or_a_room_others_are_in(person):  # noqa: F811
    _, _, a = person()
    for visibility in ("private", "public"):
        assert error(a, {"action": "createroom", "room": "general", "visibility": visibility})["code"] == "room_exists"
    waiting = unique_name("meetup")
    bob, _, b = person(waiting)  # bob waits in a fresh room, nothing said yet
    assert error(a, {"action": "createroom", "room": waiting})["code"] == "room_exists"
    assert error(a, {"action": "ban", "room": waiting, "user": bob})["code"] == "forbidden"
    b.send({"action": "sendmessage", "message": "still in"})
    assert b.next("message")["message"] == "still in"


def test_invitations_notify_once_and_a_left_conversation_is_not_forced_back(person):  # noqa: F811
    ann, _, a = person()
    bob, _, b = person()
    room = unique_name("priv")
    ask(a, {"action": "createroom", "room": room, "visibility": "private"}, "room")
    for _ in range(3):
        ask(a, {"action": "invite", "room": room, "user": bob}, "done")
    b.next("invited", room=room)
    assert not [f for f in b.nothing_more(1.5) if f.get("type") == "invited"]
    dm = ask(a, {"action": "dm", "user": bob}, "room")["room"]
    b.next("invited", room=dm)
    ask(b, {"action": "leave", "room": dm}, "done")
    for _ in range(2):
        ask(a, {"action": "dm", "user": bob}, "room")
    assert not [f for f in b.nothing_more(1.5) if f.get("type") == "invited"]
    mine = ask(b, {"action": "rooms"}, "rooms")["mine"]
    assert dm not in [e["room"] for e in mine] and room in [e["room"] for e in mine]


def test_a_reply_to_a_deleted_message_keeps_none_of_its_text(person):  # noqa: F811
    room = unique_name("pub")
    ann, _, a = person(room)
    ask(a, {"action": "createroom", "room": room}, "room")
    eve, _, e = person(room)
    e.send({"action": "sendmessage", "message": "my password is hunter2"})
    quoted = e.next("message")["id"]
    a.send({"action": "sendmessage", "message": "+1", "replyTo": quoted})
    assert a.next("message", sender=ann)["replyTo"]["excerpt"] == "my password is hunter2"
    e.send({"action": "deletemessage", "room": room, "id": quoted})
    e.next("deleted")
    for limit in (10, 1):  # the quoted message in the page, and not
        page = ask(a, {"action": "history", "limit": limit}, "history")["messages"]
        assert page[-1]["replyTo"] == {"id": quoted, "sender": eve, "deleted": True}
        assert "hunter2" not in str(page)
    assert "hunter2" not in str(a.join(room)["history"])


def test_a_typed_room_with_a_message_is_not_listed(person):  # noqa: F811
    typed = unique_name("FREE-CRYPTO-")
    _, _, a = person(typed)
    a.send({"action": "sendmessage", "message": "x"})
    a.next("message")
    made = unique_name("made")
    ask(a, {"action": "createroom", "room": made}, "room")
    # Both are the most recently active rooms: the directory's first page would hold both.
    listed = [entry["room"] for entry in ask(a, {"action": "rooms"}, "rooms")["directory"]]
    assert made in listed and typed not in listed
