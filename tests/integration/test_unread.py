"""Read markers, unread counts and mentions through the local stack: `read`, the
`rooms` frame's `unread` and `mention`, `welcome.lastRead`, and `message.mentions`."""

from tests.integration.conftest import ask, error, unique_name


def say(c, text) -> dict:
    c.send({"action": "sendmessage", "message": text})
    return c.next("message", message=text)


def mine(c, room: str) -> dict | None:
    """The user's entry for `room` in a fresh `rooms` frame (None: not one of theirs)."""
    frame = ask(c, {"action": "rooms"}, "rooms")
    return next((entry for entry in frame["mine"] if entry["room"] == room), None)


def test_a_marker_only_moves_forward_and_the_users_other_tabs_agree(person, client):
    ann, token, a = person()
    room = unique_name("pub")
    a.join(room)
    other_tab = client(token, unique_name("elsewhere"))  # another tab, in another room
    other_tab.join()
    first, second = say(a, "one"), say(a, "two")
    assert ask(a, {"action": "read", "room": room, "id": second["id"]}, "read") == \
        {"type": "read", "room": room, "id": second["id"]}
    assert other_tab.next("read") == {"type": "read", "room": room, "id": second["id"]}
    # An older id changes nothing: the sender is told the marker as it stands, the other tab nothing.
    assert ask(a, {"action": "read", "room": room, "id": first["id"]}, "read")["id"] == second["id"]
    assert [f for f in other_tab.nothing_more(0.7) if f["type"] == "read"] == []
    assert a.join(room)["lastRead"] == second["id"]


def test_welcome_carries_the_marker_and_rooms_the_unread_count(person):
    ann, _, a = person()
    bob, _, b = person()
    room = unique_name("pub")
    ask(a, {"action": "createroom", "room": room, "visibility": "public"}, "room")
    assert a.join(room)["lastRead"] is None
    b.join(room)
    sent = [say(b, f"message {i}") for i in range(5)]
    # Never read: every message counts.
    assert mine(a, room)["unread"] == 5 and mine(a, room)["mention"] is False
    ask(a, {"action": "read", "room": room, "id": sent[1]["id"]}, "read")
    assert mine(a, room)["unread"] == 3
    assert a.join(room)["lastRead"] == sent[1]["id"]
    for i in range(4):
        say(b, f"more {i}")
    assert mine(a, room)["unread"] == 7
    last = say(b, "last")
    ask(a, {"action": "read", "room": room, "id": last["id"]}, "read")
    assert mine(a, room)["unread"] == 0
    # A public room bob has read but is no member of is one of his too, without a role.
    ask(b, {"action": "read", "room": room, "id": sent[0]["id"]}, "read")
    entry = mine(b, room)
    assert entry["role"] is None and entry["visibility"] == "public" and entry["unread"] == 9


def test_a_mention_flags_the_room_until_it_is_read(person):
    ann, _, a = person()
    bob, _, b = person()
    room = unique_name("pub")
    ask(a, {"action": "createroom", "room": room, "visibility": "public"}, "room")
    a.join(room)
    b.join(room)
    hello = say(a, "hello")
    ask(b, {"action": "read", "room": room, "id": hello["id"]}, "read")
    assert mine(b, room)["mention"] is False
    # Letter case does not matter; the sender's own name and an e-mail address are no mention.
    mention = say(a, f"@{ann} asks: @{bob.upper()}, mail x@{bob}.org?")
    assert mention["mentions"] == [bob.upper()]
    assert b.next("message", id=mention["id"])["mentions"] == [bob.upper()]
    entry = mine(b, room)
    assert entry["mention"] is True and entry["unread"] == 1
    say(a, "no mention here")
    ask(b, {"action": "read", "room": room, "id": mention["id"]}, "read")
    entry = mine(b, room)
    assert entry["mention"] is False and entry["unread"] == 1
    # History shows the mentions too (from the text as it reads now).
    page = ask(b, {"action": "history"}, "history")
    assert [m.get("mentions") for m in page["messages"] if m["id"] == mention["id"]] == [[bob.upper()]]


def test_a_mention_in_a_private_room_says_nothing_to_a_non_member(person):
    ann, _, a = person()
    eve, _, e = person()
    room = unique_name("priv")
    ask(a, {"action": "createroom", "room": room, "visibility": "private", "topic": "secret"}, "room")
    a.join(room)
    secret = say(a, f"don't tell @{eve}")
    frame = ask(e, {"action": "rooms"}, "rooms")
    assert room not in str(frame)
    # Nor may she mark it read (as she may not join it), and she learns nothing from trying.
    refused = error(e, {"action": "read", "room": room, "id": secret["id"]})
    assert refused["code"] == "forbidden" and "secret" not in refused["message"]
    assert room not in str(ask(e, {"action": "rooms"}, "rooms"))
    # Once invited, the mention is hers to see.
    ask(a, {"action": "invite", "room": room, "user": eve}, "done")
    entry = mine(e, room)
    assert entry["mention"] is True and entry["unread"] == 1


def test_read_is_checked(person):
    ann, _, a = person()
    room = unique_name("pub")
    a.join(room)
    sent = say(a, "x")
    for frame in ({"action": "read", "id": sent["id"]}, {"action": "read", "room": room},
                  {"action": "read", "room": room, "id": "yesterday"},
                  {"action": "read", "room": room, "id": "9999999999999abcdef"}):
        assert error(a, frame)["code"] == "bad_request", frame
    assert error(a, {"action": "read", "room": "no spaces", "id": sent["id"]})["code"] == "invalid_room"


# -- where the rooms work and the message features meet -------------------------------------------


def test_a_muted_user_may_not_edit_react_or_type(person):
    ann, _, a = person()
    room = unique_name("pub")
    ask(a, {"action": "createroom", "room": room, "visibility": "public"}, "room")
    a.join(room)
    cat, _, c = person(room=room)
    own = say(c, "before the mute")
    ask(a, {"action": "mute", "room": room, "user": cat, "minutes": 5}, "done")
    for frame in ({"action": "editmessage", "id": own["id"], "message": "changed"},
                  {"action": "react", "id": own["id"], "emoji": "👍"}, {"action": "typing"}):
        assert error(c, frame)["code"] == "muted", frame
    assert [f for f in a.nothing_more(0.5) if f["type"] in ("edited", "reaction", "typing")] == []


def test_a_kicked_connection_may_not_edit_react_or_type(person):
    ann, _, a = person()
    room = unique_name("priv")
    ask(a, {"action": "createroom", "room": room, "visibility": "private"}, "room")
    cat, _, c = person()
    ask(a, {"action": "invite", "room": room, "user": cat}, "done")
    a.join(room)
    c.join(room)
    own = say(c, "mine")
    ask(a, {"action": "kick", "room": room, "user": cat}, "done")
    c.next("kicked")
    for frame in ({"action": "editmessage", "id": own["id"], "message": "changed"},
                  {"action": "react", "id": own["id"], "emoji": "👍"}, {"action": "typing"},
                  {"action": "read", "room": room, "id": own["id"]}):
        assert error(c, frame)["code"] == "forbidden", frame
    assert [f for f in a.nothing_more(0.5) if f["type"] in ("edited", "reaction", "typing")] == []


def test_a_deleted_message_is_not_edited_answered_or_shown(person):
    ann, _, a = person()
    bob, _, b = person()
    room = unique_name("pub")
    ask(a, {"action": "createroom", "room": room, "visibility": "public"}, "room")
    a.join(room)
    b.join(room)
    sent = say(b, "regret this")
    a.send({"action": "sendmessage", "message": "quoting", "replyTo": sent["id"]})
    a.next("message", message="quoting")
    ask(a, {"action": "react", "id": sent["id"], "emoji": "👍"}, "reaction")
    ask(b, {"action": "editmessage", "id": sent["id"], "message": "regret this a lot"}, "edited")
    ask(b, {"action": "deletemessage", "room": room, "id": sent["id"]}, "deleted")
    assert error(b, {"action": "editmessage", "id": sent["id"], "message": "back"})["code"] == "not_found"
    refused = error(a, {"action": "sendmessage", "message": "answer", "replyTo": sent["id"]})
    assert refused["code"] == "not_found"
    assert error(a, {"action": "react", "id": sent["id"], "emoji": "👍"})["code"] == "not_found"
    (tombstone,) = [m for m in ask(a, {"action": "history"}, "history")["messages"] if m["id"] == sent["id"]]
    assert tombstone["deleted"] is True
    for gone in ("message", "replyTo", "reactions", "editedAt", "mentions"):
        assert gone not in tombstone, gone


def test_edits_and_reactions_in_a_private_room_never_reach_a_non_member(person):
    ann, _, a = person()
    eve, _, e = person()
    room = unique_name("priv")
    ask(a, {"action": "createroom", "room": room, "visibility": "private"}, "room")
    a.join(room)
    sent = say(a, f"hi @{eve}")
    ask(a, {"action": "editmessage", "id": sent["id"], "message": f"hi again @{eve}"}, "edited")
    ask(a, {"action": "react", "id": sent["id"], "emoji": "🎉"}, "reaction")
    a.send({"action": "typing"})
    seen = e.nothing_more(1.0)
    assert room not in str(seen) and sent["id"] not in str(seen)
    # Nor can she reach the message from her own room.
    for frame in ({"action": "react", "id": sent["id"], "emoji": "👍"},
                  {"action": "editmessage", "id": sent["id"], "message": "mine"},
                  {"action": "react", "room": room, "id": sent["id"], "emoji": "👍"}):
        assert error(e, frame)["code"] in ("not_found", "forbidden"), frame
