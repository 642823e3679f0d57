"""Who may make a room theirs, and what invitations and the directory show, on the rooms
service driven directly: the default room and occupied rooms cannot be claimed; invitations notify
once and stop at a flood; a left conversation stays left; typed rooms stay out of the directory."""

import pytest
from handler import protocol
from handler.guard import Refused
from handler.protocol import ErrorCode, Join, SendMessage
from tests.unit.conftest import connection_store
from tests.unit.rooms_support import connect, member, parsed, refused, who, world


def test_nobody_can_claim_the_default_room(world, api):
    chat, rooms, _ = world()
    clock = world.clock
    member("ann")
    member("bob")
    connect(chat, clock, "c-ann", "ann", room="lobby")
    for visibility in ("private", "public"):
        refused(lambda: rooms.create_room("c-ann", who(clock, "ann"), parsed(
            protocol.parse_create_room, room=protocol.DEFAULT_ROOM, visibility=visibility)), ErrorCode.ROOM_EXISTS)
    assert connect(chat, clock, "c-bob", "bob", room=protocol.DEFAULT_ROOM).room == protocol.DEFAULT_ROOM


def test_a_public_room_with_other_people_in_it_cannot_be_claimed(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    member("ann")
    member("bob")
    connect(chat, clock, "c-bob", "bob", room="meetup")  # bob waits in a fresh room, no message yet
    connect(chat, clock, "c-ann", "ann", room="lobby")
    refused(lambda: rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="meetup")),
            ErrorCode.ROOM_EXISTS)
    refused(lambda: moderation.ban("c-ann", who(clock, "ann"), parsed(protocol.parse_ban, room="meetup", user="bob")),
            ErrorCode.FORBIDDEN)
    assert connection_store().get_connection("c-bob").room == "meetup"
    # Alone in a room, one may still make it theirs.
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="lobby"))
    assert api.frames("c-ann", "room")[-1]["role"] == "owner"


def test_an_invitation_notifies_once_and_a_flood_of_them_is_refused(world, api):
    chat, rooms, _ = world(WSCHAT_INVITE_TARGET_BURST=3, WSCHAT_ROOM_CREATE_BURST=10, WSCHAT_ROOM_ACTION_BURST=100)
    clock = world.clock
    member("spammer")
    member("victim")
    connect(chat, clock, "c-s", "spammer")
    connect(chat, clock, "c-v", "victim")
    spammer = who(clock, "spammer")
    rooms.create_room("c-s", spammer, parsed(protocol.parse_create_room, room="spam-0", visibility="private"))
    for _ in range(15):
        rooms.invite("c-s", spammer, parsed(protocol.parse_room_user, room="spam-0", user="victim"))
    assert len(api.frames("c-v", "invited")) == 1  # a member already is not invited again
    for i in range(1, 4):
        rooms.create_room("c-s", spammer, parsed(protocol.parse_create_room, room=f"spam-{i}", visibility="private"))
    for i in (1, 2):
        rooms.invite("c-s", spammer, parsed(protocol.parse_room_user, room=f"spam-{i}", user="victim"))
    refused(lambda: rooms.invite("c-s", spammer, parsed(protocol.parse_room_user, room="spam-3", user="victim")),
            ErrorCode.RATE_LIMITED)
    assert len(api.frames("c-v", "invited")) == 3
    rooms.list_rooms("c-v", who(clock, "victim"), None)
    assert "spam-3" not in [e["room"] for e in api.frames("c-v", "rooms")[-1]["mine"]]


def test_a_user_who_left_a_direct_conversation_is_not_put_back_by_the_other(world, api):
    chat, rooms, _ = world(WSCHAT_ROOM_CREATE_BURST=1, WSCHAT_ROOM_CREATE_RATE=0.0001)
    clock = world.clock
    member("ann")
    member("bob")
    connect(chat, clock, "c-ann", "ann")
    connect(chat, clock, "c-bob", "bob")
    rooms.dm("c-ann", who(clock, "ann"), "bob")
    room = api.frames("c-ann", "room")[-1]["room"]
    assert len(api.frames("c-bob", "invited")) == 1
    rooms.leave("c-bob", who(clock, "bob"), protocol.RoomOnly(room))
    for _ in range(5):
        rooms.dm("c-ann", who(clock, "ann"), "bob")
    assert len(api.frames("c-bob", "invited")) == 1
    rooms.list_rooms("c-bob", who(clock, "bob"), None)
    assert room not in [e["room"] for e in api.frames("c-bob", "rooms")[-1]["mine"]]
    rooms.dm("c-bob", who(clock, "bob"), "ann")  # bob comes back by opening it himself
    chat.connections.join("c-bob", who(clock, "bob"), Join(room))
    assert api.frames("c-bob", "welcome")[-1]["room"] == room


def test_a_message_in_a_typed_room_does_not_list_it_in_the_directory(world, api):
    chat, rooms, _ = world()
    clock = world.clock
    member("spam")
    connect(chat, clock, "c-s", "spam", room="lobby")
    for i in range(3):
        chat.connections.join("c-s", who(clock, "spam"), Join(f"FREE-CRYPTO-{i}"))
        chat.messaging.send_message("c-s", who(clock, "spam"), SendMessage("x", None))
    chat.connections.join("c-s", who(clock, "spam"), Join(protocol.DEFAULT_ROOM))
    chat.messaging.send_message("c-s", who(clock, "spam"), SendMessage("hello", None))
    rooms.create_room("c-s", who(clock, "spam"), parsed(protocol.parse_create_room, room="made-one"))
    rooms.list_rooms("c-s", who(clock, "spam"), None)
    listed = [e["room"] for e in api.frames("c-s", "rooms")[-1]["directory"]]
    assert not [r for r in listed if r.startswith("FREE-CRYPTO-")]
    assert protocol.DEFAULT_ROOM in listed and "made-one" in listed
