"""Rooms through the local stack: createroom, private rooms, invite, leave, dm, the rooms frame.

Every way a non-member might read or write a private room is tried here: join, `?room=` at
connect, history (with a cursor), the member list, the directory, presence and the room's actions.
"""

import pytest
import requests
from websockets.exceptions import InvalidStatus

from tests.integration.conftest import Client, unique_name


@pytest.fixture
def person(register, client):
    """A registered user with one connection: (name, token, client)."""

    def make(room=None, name=None):
        name = name or unique_name("r")
        token = register(name)["token"]
        c = client(token, room or unique_name("lobby"))
        c.join()
        return name, token, c

    return make


def ask(c: Client, frame: dict, expect: str, **match) -> dict:
    c.send(frame)
    return c.next(expect, **match)


def error(c: Client, frame: dict) -> dict:
    c.send(frame)
    return c.next("error")


def test_createroom_answers_the_room_and_refuses_a_taken_name(person):
    ann, _, a = person()
    room = unique_name("pub")
    created = ask(a, {"action": "createroom", "room": room, "visibility": "public", "topic": "Gardening"}, "room")
    assert created["room"] == room and created["visibility"] == "public" and created["topic"] == "Gardening"
    assert created["owner"] == ann and created["role"] == "owner"
    bob, _, b = person()
    assert error(b, {"action": "createroom", "room": room, "visibility": "private"})["code"] == "room_exists"
    # A typed public room that has had a message is taken too.
    typed = unique_name("typed")
    b.join(typed)
    b.send({"action": "sendmessage", "message": "first"})
    b.next("message")
    assert error(a, {"action": "createroom", "room": typed, "visibility": "private"})["code"] == "room_exists"
    # The direct conversations' prefix is not for createroom.
    assert error(a, {"action": "createroom", "room": "dm--mine", "visibility": "public"})["code"] == "invalid_room"
    assert error(a, {"action": "createroom", "room": unique_name(), "visibility": "secret"})["code"] == "bad_request"


def test_a_private_room_admits_only_its_members(stack, person, client):
    ann, _, a = person()
    room = unique_name("priv")
    ask(a, {"action": "createroom", "room": room, "visibility": "private", "topic": "secret plans"}, "room")
    assert a.join(room)["room"] == room
    a.send({"action": "sendmessage", "message": "the secret"})
    secret = a.next("message")
    lobby = unique_name("lobby")
    eve, eve_token, e = person(room=lobby)

    # join: forbidden, and the connection stays where it was (its messages still reach its room).
    refused = error(e, {"action": "join", "room": room})
    assert refused["code"] == "forbidden" and "secret" not in refused["message"]
    assert refused["action"] == "join"  # which request it answers (docs/protocol.md "Errors")
    e.send({"action": "sendmessage", "message": "still here"})
    assert e.next("message")["room"] == lobby

    # connect with ?room=: the handshake is refused.
    with pytest.raises(InvalidStatus) as handshake:
        Client(stack, eve_token, room)
    assert handshake.value.response.status_code == 403

    # history, even with a cursor from the private room's messages: only the connection's own room.
    e.send({"action": "history", "before": "9999999999999000000"})
    page = e.next("history")
    assert page["room"] == lobby and all(m["id"] != secret["id"] for m in page["messages"])
    e.send({"action": "history", "after": secret["id"][:13] + "000000"})
    assert all(m["room"] == lobby for m in e.next("history")["messages"])

    # The room's lists and actions: forbidden, naming nothing of it.
    for frame in ({"action": "members", "room": room}, {"action": "modlog", "room": room},
                  {"action": "invite", "room": room, "user": eve},
                  {"action": "kick", "room": room, "user": ann},
                  {"action": "deletemessage", "room": room, "id": secret["id"]}):
        answer = error(e, frame)
        assert answer["code"] == "forbidden" and "secret plans" not in answer["message"], frame
        assert answer["action"] == frame["action"]

    # The directory lists public rooms only; eve's rooms frame does not name the private one.
    listed = ask(e, {"action": "rooms"}, "rooms")
    assert room not in [entry["room"] for entry in listed["directory"] + listed["mine"]]

    # Presence: nothing of the private room ever reached eve.
    e.nothing_more(0.5)
    assert all(f.get("room") != room for f in e.seen if f.get("type") in ("presence", "message", "welcome"))


def test_an_invited_member_is_told_and_joins_with_the_history(person):
    ann, _, a = person()
    bob, _, b = person()
    room = unique_name("priv")
    ask(a, {"action": "createroom", "room": room, "visibility": "private"}, "room")
    a.join(room)
    a.send({"action": "sendmessage", "message": "welcome aboard"})
    a.next("message")
    assert error(b, {"action": "join", "room": room})["code"] == "forbidden"
    done = ask(a, {"action": "invite", "room": room, "user": bob}, "done")
    assert done["action"] == "invite" and done["user"] == bob
    invited = b.next("invited")
    assert invited["room"] == room and invited["by"] == ann and invited["visibility"] == "private"
    welcome = b.join(room)
    assert [m["message"] for m in welcome["history"]] == ["welcome aboard"]
    assert welcome["online"] == sorted([ann, bob])  # a switch posts no `joined` (issue 19)
    members = ask(a, {"action": "members", "room": room}, "members")
    assert sorted((m["user"], m["role"]) for m in members["members"]) == sorted([(ann, "owner"), (bob, "member")])
    # A member may not invite (owner or moderator only), nor invite to a room that is not theirs.
    assert error(b, {"action": "invite", "room": room, "user": ann})["code"] == "forbidden"
    assert error(a, {"action": "invite", "room": room, "user": unique_name("nobody")})["code"] == "not_found"


def test_leave_ends_a_membership_and_the_owner_hands_over_first(person, client, register):
    ann, _, a = person()
    bob, bob_token, b = person()
    room = unique_name("priv")
    ask(a, {"action": "createroom", "room": room, "visibility": "private"}, "room")
    ask(a, {"action": "invite", "room": room, "user": bob}, "done")
    b.join(room)
    other_tab = client(bob_token, room)
    other_tab.join()
    assert ask(b, {"action": "leave", "room": room}, "done")["action"] == "leave"
    # Both of bob's connections are out of the room: sending is refused, nothing reaches them.
    for tab in (b, other_tab):
        tab.send({"action": "sendmessage", "message": "still in?"})
        assert tab.next("error")["code"] == "forbidden"
    a.send({"action": "sendmessage", "message": "after bob left"})
    a.next("message", message="after bob left")
    assert all(f.get("message") != "after bob left" for f in b.nothing_more(0.5) + other_tab.nothing_more(0.3))
    assert error(b, {"action": "join", "room": room})["code"] == "forbidden"
    assert error(b, {"action": "leave", "room": room})["code"] == "not_found"
    # The owner must hand the room over before leaving it.
    assert error(a, {"action": "leave", "room": room})["code"] == "forbidden"


def test_dm_has_one_name_whichever_side_opens_it(register, client, person):
    ann, _, a = person(name=unique_name("ann."))  # usernames may hold '.', room names may not
    bob, _, b = person()
    opened = ask(a, {"action": "dm", "user": bob}, "room")
    assert opened["dm"] is True and opened["with"] == bob and opened["visibility"] == "private"
    invited = b.next("invited")
    assert invited["room"] == opened["room"] and invited["dm"] is True and invited["with"] == ann
    again = ask(b, {"action": "dm", "user": ann}, "room")
    assert again["room"] == opened["room"] and again["with"] == ann
    listed = ask(b, {"action": "rooms"}, "rooms")
    mine = {entry["room"]: entry for entry in listed["mine"]}
    assert mine[opened["room"]]["dm"] is True and mine[opened["room"]]["with"] == ann
    # Both may talk there; a third may not join it, nor invite into it.
    a.join(opened["room"])
    b.join(opened["room"])
    a.send({"action": "sendmessage", "message": "just us"})
    assert b.next("message")["message"] == "just us"
    cat, _, c = person()
    assert error(c, {"action": "join", "room": opened["room"]})["code"] == "forbidden"
    assert error(a, {"action": "invite", "room": opened["room"], "user": cat})["code"] == "forbidden"
    assert error(a, {"action": "dm", "user": unique_name("nobody")})["code"] == "not_found"
    assert error(a, {"action": "dm", "user": ann})["code"] == "bad_request"
    # Nobody can claim a pair's room before they open it: a dm-- name without its record is private.
    assert error(c, {"action": "join", "room": "dm--" + "0" * 40})["code"] == "forbidden"


def test_rooms_lists_memberships_and_a_directory_of_active_public_rooms(person):
    ann, _, a = person()
    public = unique_name("pub")
    private = unique_name("priv")
    ask(a, {"action": "createroom", "room": public, "visibility": "public", "topic": "open to all"}, "room")
    ask(a, {"action": "createroom", "room": private, "visibility": "private"}, "room")
    a.join(private)
    for text in ("one", "two"):
        a.send({"action": "sendmessage", "message": text})
        a.next("message", message=text)
    a.join(public)
    typed = unique_name("typed")  # a room nobody created is not listed, even with a message (review finding 8)
    bob, _, b = person(room=typed)
    b.send({"action": "sendmessage", "message": "hello typed"})
    b.next("message")
    listed = ask(a, {"action": "rooms"}, "rooms")
    mine = {entry["room"]: entry for entry in listed["mine"]}
    assert mine[public]["role"] == "owner" and mine[public]["visibility"] == "public"
    assert mine[private]["visibility"] == "private" and mine[private]["unread"] == 2  # never read: every message
    assert mine[private]["lastActivityAt"]
    directory = {entry["room"]: entry for entry in listed["directory"]}
    assert private not in directory
    assert directory[public]["topic"] == "open to all" and directory[public]["online"] == 1
    assert typed not in directory
    # Paging: the cursor of a page continues after it.
    if listed["after"]:
        more = ask(a, {"action": "rooms", "after": listed["after"]}, "rooms")
        assert not set(e["room"] for e in more["directory"]) & set(directory)
    assert error(a, {"action": "rooms", "after": "not a cursor"})["code"] == "bad_request"


def test_guests_cannot_create_rooms(stack, client):
    token = requests.post(f"{stack.http_url}/guest", timeout=30).json()["token"]
    g = client(token, unique_name("lobby"))
    g.join()
    assert error(g, {"action": "createroom", "room": unique_name(), "visibility": "public"})["code"] == "forbidden"
