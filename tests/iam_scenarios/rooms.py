"""Rooms (createroom, invite, members, dm, leave) and moderation (roles, kick, ban, mute, delete, log)."""

from __future__ import annotations

from tests.iam_scenarios.registry import scenario
from tests.iam_scenarios.world import World, ask, expired_and_gone


@scenario("rooms")
def rooms_create_invite_list_members_dm_and_leave(w: World):
    w.start()
    for name in ("rms-ann", "rms-bob", "rms-cat"):
        w.register_user(name, "password-1")
    w.connect("rms-1", "rms-ann", room="rms-lobby")
    w.connect("rms-2", "rms-bob", room="rms-lobby")
    w.connect("rms-3", "rms-cat", room="rms-lobby")
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "hi"}, connection_id="rms-1",
                               username="rms-ann"))
    room = ask(w, "rooms", {"action": "createroom", "room": "rms-priv", "visibility": "private", "topic": "t"},
                "rms-1", "rms-ann")
    assert room["type"] == "room" and room["role"] == "owner"
    w.later(20)
    w.api.gone.add("rms-3")  # found gone when told of an invitation
    for user in ("rms-bob", "rms-cat"):
        assert ask(w, "rooms", {"action": "invite", "room": "rms-priv", "user": user}, "rms-1", "rms-ann")["type"] == "done"
    assert w.api.frames("rms-2", "invited") and w.app.connection_store.get_connection("rms-3") is None
    assert ask(w, "rooms", {"action": "members", "room": "rms-priv"}, "rms-1", "rms-ann")["type"] == "members"
    # Only rooms made with createroom are listed (a typed room's message does not list it).
    ask(w, "rooms", {"action": "createroom", "room": "rms-pub"}, "rms-1", "rms-ann")
    listed = ask(w, "rooms", {"action": "rooms"}, "rms-1", "rms-ann")
    assert listed["type"] == "rooms" and listed["directory"][0]["room"] == "rms-pub"
    assert ask(w, "rooms", {"action": "dm", "user": "rms-bob"}, "rms-1", "rms-ann")["dm"] is True
    w.call("join", w.ws("join", {"action": "join", "room": "rms-priv"}, connection_id="rms-2", username="rms-bob"))
    assert ask(w, "rooms", {"action": "leave", "room": "rms-priv"}, "rms-2", "rms-bob")["type"] == "done"
    assert w.app.connection_store.get_connection("rms-2").room is None


@scenario("rooms")
def rooms_after_the_session_or_from_a_gone_connection(w: World):
    expired_and_gone(w, "rooms", {"action": "rooms"}, "rmx")


@scenario("moderation")
def moderation_roles_kick_ban_mute_delete_and_the_log(w: World):
    w.start()
    for name in ("mod-ann", "mod-bob", "mod-cat", "mod-dan"):
        w.register_user(name, "password-1")
    w.connect("mod-1", "mod-ann", room="mod-lobby")
    ask(w, "rooms", {"action": "createroom", "room": "mod-room", "visibility": "private"}, "mod-1", "mod-ann")
    for user in ("mod-bob", "mod-cat", "mod-dan"):
        ask(w, "rooms", {"action": "invite", "room": "mod-room", "user": user}, "mod-1", "mod-ann")
    w.connect("mod-2", "mod-bob", room="mod-room")
    w.connect("mod-3", "mod-cat", room="mod-room")
    assert ask(w, "moderation", {"action": "setrole", "room": "mod-room", "user": "mod-bob", "role": "moderator"},
                "mod-1", "mod-ann")["type"] == "done"
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "spam"}, connection_id="mod-3",
                               username="mod-cat"))
    spam = w.api.frames("mod-3", "message")[-1]["id"]
    assert ask(w, "moderation", {"action": "mute", "room": "mod-room", "user": "mod-cat", "minutes": 5},
                "mod-2", "mod-bob")["type"] == "done"
    assert ask(w, "moderation", {"action": "deletemessage", "room": "mod-room", "id": spam},
                "mod-2", "mod-bob")["type"] == "deleted"
    assert ask(w, "moderation", {"action": "kick", "room": "mod-room", "user": "mod-cat"},
                "mod-2", "mod-bob")["type"] == "done"
    assert w.api.frames("mod-3", "kicked")
    assert ask(w, "moderation", {"action": "ban", "room": "mod-room", "user": "mod-dan", "minutes": 10},
                "mod-2", "mod-bob")["type"] == "done"
    assert ask(w, "moderation", {"action": "unban", "room": "mod-room", "user": "mod-dan"},
                "mod-2", "mod-bob")["type"] == "done"
    assert ask(w, "moderation", {"action": "modlog", "room": "mod-room"}, "mod-2", "mod-bob")["type"] == "modlog"
    assert ask(w, "moderation", {"action": "setrole", "room": "mod-room", "user": "mod-bob", "role": "owner"},
                "mod-1", "mod-ann")["type"] == "done"


@scenario("moderation")
def moderation_after_the_session_or_from_a_gone_connection(w: World):
    expired_and_gone(w, "moderation", {"action": "modlog", "room": "modx-room"}, "modx")
