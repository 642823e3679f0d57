"""Every room live and the right room, through the local stack: a message is stored only in the room it names
(`wrong_room`), `activity` frames reach a room's users elsewhere within 3 seconds (a DM, a mention)
and nobody outside it, presence is the team's (no joined/left for a room switch; `members` and DM
entries say who is online), and a mute is told at once."""

import time

from tests.integration.conftest import Client, unique_name


def ask(c: Client, frame: dict, expect: str, **match) -> dict:
    c.send(frame)
    return c.next(expect, **match)


def _person(register, client, room):
    name = unique_name("act")
    token = register(name)["token"]
    c = client(token, room)
    c.join()
    return name, c


def test_a_message_for_another_room_is_stored_nowhere(stack, register, client):
    ops, other = unique_name("ops"), unique_name("random")
    _, a = _person(register, client, ops)
    _, b = _person(register, client, ops)
    _, c = _person(register, client, other)
    error = ask(a, {"action": "sendmessage", "room": other, "message": "SECRET: 123k", "clientMsgId": "q-1"}, "error")
    assert (error["code"], error["action"], error["room"], error["clientMsgId"]) == ("wrong_room", "sendmessage", ops,
                                                                                     "q-1")
    assert [f for f in b.nothing_more(1.5) if f["type"] == "message"] == []
    assert [f for f in c.nothing_more(0.5) if f["type"] in ("message", "activity")] == []
    for who in (a, c):  # in neither room's history
        assert ask(who, {"action": "history"}, "history")["messages"] == []
    # Naming its own room, it is stored and delivered as ever.
    sent = ask(a, {"action": "sendmessage", "room": ops, "message": "in ops", "clientMsgId": "q-2"}, "message")
    assert sent["room"] == ops and b.next("message")["id"] == sent["id"]


def test_a_dm_and_a_mention_reach_bob_in_another_room_within_3_seconds(stack, register, client):
    lobby, random = unique_name("general"), unique_name("random")
    bob, b = _person(register, client, lobby)
    alice, a = _person(register, client, random)
    _, c = _person(register, client, lobby)  # carol: belongs to neither room
    # bob has read #random (a read marker): he belongs to it.
    first = ask(a, {"action": "sendmessage", "message": "morning"}, "message")
    b.join(random)
    ask(b, {"action": "read", "room": random, "id": first["id"]}, "read")
    b.join(lobby)
    b.nothing_more(1.0)
    started = time.monotonic()
    mention = ask(a, {"action": "sendmessage", "message": f"@{bob} look at this"}, "message")
    got = b.next("activity", timeout=10, id=mention["id"])
    assert time.monotonic() - started < 3
    assert got == {"type": "activity", "room": random, "id": mention["id"], "sender": alice,
                   "sentAt": mention["sentAt"], "dm": False, "mention": True}
    dm = ask(a, {"action": "dm", "user": bob}, "room")["room"]
    a.join(dm)
    started = time.monotonic()
    said = ask(a, {"action": "sendmessage", "room": dm, "message": "between us"}, "message")
    got = b.next("activity", timeout=10, id=said["id"])
    assert time.monotonic() - started < 3 and got["dm"] is True and got["mention"] is False
    # carol belongs to neither room: she gets no activity frame.
    assert [f for f in c.nothing_more(1.5) if f["type"] == "activity"] == []


def test_presence_is_the_teams(stack, register, client):
    r1, r2 = unique_name("room"), unique_name("room")
    alice, a = _person(register, client, r1)
    bob, b = _person(register, client, r1)
    assert a.next("presence", event="joined")["user"] == bob
    b.join(r2)  # a switch: r1 hears of it as a move (bob is still online), which a page posts no notice for
    moved = a.next("presence", event="left")
    assert moved["user"] == bob and moved["moved"] is True
    room = unique_name("team")
    ask(a, {"action": "createroom", "room": room, "visibility": "private"}, "room")
    ask(a, {"action": "invite", "room": room, "user": bob}, "done")
    listed = ask(a, {"action": "members", "room": room}, "members")["members"]
    assert {m["user"]: m["online"] for m in listed} == {alice: True, bob: True}  # bob is in r2: online
    ask(a, {"action": "dm", "user": bob}, "room")
    mine = ask(a, {"action": "rooms"}, "rooms")["mine"]
    assert [e["online"] for e in mine if e["dm"]] == [True]
    b.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = ask(a, {"action": "members", "room": room}, "members")["members"]
        if not {m["user"]: m["online"] for m in listed}[bob]:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("bob still online 10 s after his only connection closed")


def test_a_mute_is_told_at_once_and_in_the_welcome(stack, register, client):
    room = unique_name("club")
    ann, a = _person(register, client, unique_name("lobby"))
    ask(a, {"action": "createroom", "room": room}, "room")
    a.join(room)
    bob, b = _person(register, client, room)
    done = ask(a, {"action": "mute", "room": room, "user": bob, "minutes": 30}, "done")
    muted = b.next("muted", timeout=5)
    assert muted == {"type": "muted", "room": room, "by": ann, "until": done["until"]}
    b.join(unique_name("elsewhere"))
    assert b.join(room)["mutedUntil"] == done["until"]
