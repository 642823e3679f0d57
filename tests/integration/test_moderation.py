"""Moderation through the local stack: roles, kick, ban and mute (and their end), deletemessage,
the moderation log, site admins. A ban's or mute's minute lasts MODERATION_MINUTE_SECONDS here."""

import time

import pytest
from websockets.exceptions import InvalidStatus

from devstack.local_stage import STAGE
from handler.settings import Settings
from handler.store.accounts import AccountsStore
from tests.integration.conftest import MODERATION_MINUTE_SECONDS, Client, ask, error, unique_name


@pytest.fixture
def private_room(person):
    """A private room owned by ann, with bob (moderator) and cat (member) in it; all three joined."""
    ann, _, a = person()
    bob, _, b = person()
    cat, cat_token, c = person()
    room = unique_name("mod")
    ask(a, {"action": "createroom", "room": room, "visibility": "private"}, "room")
    for user in (bob, cat):
        ask(a, {"action": "invite", "room": room, "user": user}, "done")
    ask(a, {"action": "setrole", "room": room, "user": bob, "role": "moderator"}, "done")
    for who in (a, b, c):
        who.join(room)
    return room, (ann, a), (bob, b), (cat, c, cat_token)


def test_a_kicked_member_is_out_and_cannot_send_read_or_return(private_room):
    room, (ann, a), (bob, b), (cat, c, _) = private_room
    assert ask(b, {"action": "kick", "room": room, "user": cat}, "done")["user"] == cat
    kicked = c.next("kicked")
    assert kicked == {"type": "kicked", "room": room, "by": bob}
    assert a.next("presence", event="left")["user"] == cat
    # Its later sendmessage reaches no one; history and join are refused (the membership ended).
    c.send({"action": "sendmessage", "message": "sneaking back"})
    assert c.next("error")["code"] == "forbidden"
    assert all(f.get("message") != "sneaking back" for f in a.nothing_more(0.7))
    assert error(c, {"action": "history"})["code"] == "forbidden"
    assert error(c, {"action": "join", "room": room})["code"] == "forbidden"
    assert c.join(unique_name("elsewhere"))["type"] == "welcome"  # a public room is still open to cat


def test_moderators_cannot_act_on_the_owner_or_each_other_and_only_the_owner_sets_roles(private_room, person):
    room, (ann, a), (bob, b), (cat, c, _) = private_room
    dan, _, d = person()
    ask(a, {"action": "invite", "room": room, "user": dan}, "done")
    ask(a, {"action": "setrole", "room": room, "user": dan, "role": "moderator"}, "done")
    for frame in ({"action": "kick", "room": room, "user": ann}, {"action": "ban", "room": room, "user": ann},
                  {"action": "mute", "room": room, "user": dan, "minutes": 5},
                  {"action": "kick", "room": room, "user": dan},
                  {"action": "setrole", "room": room, "user": cat, "role": "moderator"}):
        assert error(b, frame)["code"] == "forbidden", frame
    # A member moderates nobody; the owner can act on a moderator.
    assert error(c, {"action": "kick", "room": room, "user": bob})["code"] == "forbidden"
    assert ask(a, {"action": "setrole", "room": room, "user": dan, "role": "member"}, "done")["role"] == "member"
    assert ask(b, {"action": "mute", "room": room, "user": dan, "minutes": 5}, "done")["user"] == dan
    # The owner hands the room over; the old owner becomes a moderator.
    ask(a, {"action": "setrole", "room": room, "user": bob, "role": "owner"}, "done")
    members = {m["user"]: m["role"] for m in ask(a, {"action": "members", "room": room}, "members")["members"]}
    assert members[bob] == "owner" and members[ann] == "moderator"
    assert error(a, {"action": "kick", "room": room, "user": bob})["code"] == "forbidden"


def test_a_ban_keeps_a_user_out_until_it_ends_or_is_lifted(stack, person):
    ann, _, a = person()
    room = unique_name("pub")
    ask(a, {"action": "createroom", "room": room, "visibility": "public"}, "room")
    a.join(room)
    cat, cat_token, c = person(room=room)
    banned = ask(a, {"action": "ban", "room": room, "user": cat, "minutes": 1}, "done")
    frame = c.next("banned")
    assert frame["room"] == room and frame["by"] == ann and frame["until"] == banned["until"]
    c.send({"action": "sendmessage", "message": "still here?"})
    assert c.next("error")["code"] == "forbidden"
    refused = error(c, {"action": "join", "room": room})
    assert refused["code"] == "banned" and refused["until"] == banned["until"]
    with pytest.raises(InvalidStatus) as handshake:
        Client(stack, cat_token, room)
    assert handshake.value.response.status_code == 403
    time.sleep(MODERATION_MINUTE_SECONDS + 0.5)  # the ban's one "minute" is over
    assert c.join(room)["room"] == room
    # A ban without minutes lasts until an unban.
    ask(a, {"action": "ban", "room": room, "user": cat}, "done")
    assert c.next("banned")["until"] is None
    time.sleep(MODERATION_MINUTE_SECONDS + 0.5)
    assert error(c, {"action": "join", "room": room})["code"] == "banned"
    ask(a, {"action": "unban", "room": room, "user": cat}, "done")
    assert c.join(room)["room"] == room
    assert error(a, {"action": "unban", "room": room, "user": cat})["code"] == "not_found"


def test_a_muted_user_cannot_send_until_the_mute_ends_even_after_rejoining(person):
    ann, _, a = person()
    room = unique_name("pub")
    ask(a, {"action": "createroom", "room": room, "visibility": "public"}, "room")
    a.join(room)
    cat, _, c = person(room=room)
    muted = ask(a, {"action": "mute", "room": room, "user": cat, "minutes": 1}, "done")
    refused = error(c, {"action": "sendmessage", "message": "let me speak"})
    assert refused["code"] == "muted" and refused["until"] == muted["until"]
    c.join(unique_name("elsewhere"))
    c.send({"action": "sendmessage", "message": "elsewhere I may"})
    assert c.next("message")["message"] == "elsewhere I may"
    c.join(room)
    assert error(c, {"action": "sendmessage", "message": "back again"})["code"] == "muted"
    assert all(f.get("type") != "message" for f in a.nothing_more(0.3))
    time.sleep(MODERATION_MINUTE_SECONDS + 0.5)
    c.send({"action": "sendmessage", "message": "free again"})
    assert a.next("message")["message"] == "free again"


def test_deletemessage_leaves_a_tombstone_by_author_or_moderator_only(private_room):
    room, (ann, a), (bob, b), (cat, c, _) = private_room
    sent = {}
    for who, text in ((c, "cat's mistake"), (c, "cat's spam"), (a, "ann's rule"), (b, "bob's note")):
        who.send({"action": "sendmessage", "message": text})
        sent[text] = who.next("message", message=text)["id"]
    # A member deletes only their own; a moderator cannot delete the owner's.
    assert error(c, {"action": "deletemessage", "room": room, "id": sent["bob's note"]})["code"] == "forbidden"
    assert error(b, {"action": "deletemessage", "room": room, "id": sent["ann's rule"]})["code"] == "forbidden"
    deleted = ask(c, {"action": "deletemessage", "room": room, "id": sent["cat's mistake"]}, "deleted")
    assert deleted == {"type": "deleted", "room": room, "id": sent["cat's mistake"], "by": cat}
    assert a.next("deleted")["id"] == sent["cat's mistake"]
    ask(b, {"action": "deletemessage", "room": room, "id": sent["cat's spam"]}, "deleted", by=bob)
    assert error(b, {"action": "deletemessage", "room": room, "id": sent["cat's spam"]})["code"] == "not_found"
    page = ask(a, {"action": "history"}, "history")
    shown = {m["id"]: m for m in page["messages"]}
    for text in ("cat's mistake", "cat's spam"):
        tombstone = shown[sent[text]]
        assert tombstone["deleted"] is True and "message" not in tombstone and tombstone["sender"] == cat
    assert shown[sent["cat's spam"]]["deletedBy"] == bob
    assert shown[sent["ann's rule"]]["message"] == "ann's rule"
    assert all(text not in str(m) for m in page["messages"] for text in ("cat's mistake", "cat's spam"))


def test_the_moderation_log_is_for_the_rooms_moderators(private_room):
    room, (ann, a), (bob, b), (cat, c, _) = private_room
    ask(b, {"action": "mute", "room": room, "user": cat, "minutes": 3}, "done")
    ask(b, {"action": "kick", "room": room, "user": cat}, "done")
    log = ask(b, {"action": "modlog", "room": room}, "modlog")
    actions = [(e["actor"], e["action"], e["target"]) for e in log["entries"]]
    assert actions[:2] == [(bob, "kick", cat), (bob, "mute", cat)]
    assert (ann, "setrole", bob) in actions and log["entries"][1]["minutes"] == 3
    assert all(e["at"].endswith("Z") for e in log["entries"])
    assert ask(a, {"action": "modlog", "room": room}, "modlog")["entries"] == log["entries"]
    assert error(c, {"action": "modlog", "room": room})["code"] == "forbidden"


def test_a_site_admin_moderates_a_public_room_nobody_owns(stack, register, client, person):
    room = unique_name("typed")
    cat, _, c = person(room=room)
    boss = unique_name("admin")
    token = register(boss)["token"]
    settings = Settings.from_env(stack.function_env() | {"WSCHAT_STAGE": STAGE})
    assert AccountsStore(stack.dynamodb(), settings.tables).set_admin(boss, True)
    # The role is read at $connect: a connection opened before it was given is not an admin's.
    admin = client(token, room)
    # The welcome tells the client it is an admin's (the page offers moderation from it).
    assert admin.join()["admin"] is True and c.join()["admin"] is False
    assert ask(admin, {"action": "kick", "room": room, "user": cat}, "done")["user"] == cat
    assert c.next("kicked")["by"] == boss
    # Nobody else moderates a room nobody owns.
    dan, _, d = person(room=room)
    assert error(d, {"action": "kick", "room": room, "user": boss})["code"] == "forbidden"
    assert error(d, {"action": "mute", "room": room, "user": cat, "minutes": 1})["code"] == "forbidden"
    assert ask(admin, {"action": "modlog", "room": room}, "modlog")["entries"][0]["action"] == "kick"


def test_a_moderator_banned_from_a_public_room_cannot_moderate_it(person):
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


def test_a_reply_to_a_deleted_message_keeps_none_of_its_text(person):
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
