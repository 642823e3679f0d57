"""RoomService (handler/rooms.py) driven directly (no entry points): createroom, dm, the rooms list
and who may be in a private room; and the rooms requests as the protocol parses them."""

import json

import pytest

from handler import protocol
from handler.chat.refusals import ConnectRefused
from handler.entry import CONNECT_STATUS
from handler.protocol import ErrorCode, Join, ProtocolError
from tests.unit.conftest import connection_store
from tests.unit.rooms_support import connect, member, parsed, refused, who, world  # noqa: F401


def test_connect_to_a_private_room_is_refused_before_the_row_is_written_and_admins_are_marked(world, api):
    chat, rooms, _ = world()
    clock = world.clock
    member("ann", admin=True)
    member("bob")
    connect(chat, clock, "c-ann", "ann")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="vault", visibility="private"))
    with pytest.raises(ConnectRefused) as caught:
        connect(chat, clock, "c-bob", "bob", room="vault")
    assert CONNECT_STATUS[caught.value.reason] == 403 and connection_store().get_connection("c-bob") is None
    assert connection_store().get_connection("c-ann").admin and not connect(chat, clock, "c-bob", "bob").admin
    # The welcome says so, so that the page can offer an admin moderation where they hold no role.
    chat.connections.join("c-ann", who(clock, "ann"), Join(None))
    chat.connections.join("c-bob", who(clock, "bob"), Join(None))
    assert api.last("c-ann")["admin"] is True and api.last("c-bob")["admin"] is False
    # A dm-- name without a record is private too.
    with pytest.raises(ConnectRefused):
        connect(chat, clock, "c-bob2", "bob", room=protocol.dm_room("x", "y"))


def test_room_creation_is_capped_per_owner_and_rate_limited(world, api):
    chat, rooms, _ = world(WSCHAT_MAX_OWNED_ROOMS=1, WSCHAT_ROOM_CREATE_BURST=2)
    clock = world.clock
    member("ann")
    connect(chat, clock, "c-ann", "ann")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="one"))
    refused(lambda: rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="two")),
            ErrorCode.FORBIDDEN)
    refused(lambda: rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="three")),
            ErrorCode.RATE_LIMITED)
    refused(lambda: rooms.create_room("c-ann", who(clock, "ann", guest=True),
                                      parsed(protocol.parse_create_room, room="four")), ErrorCode.FORBIDDEN)


def test_a_private_room_is_not_created_around_people_in_it(world, api):
    chat, rooms, _ = world()
    clock = world.clock
    member("ann")
    connect(chat, clock, "c-ann", "ann")
    connect(chat, clock, "c-bob", "bob", room="busy")
    refused(lambda: rooms.create_room("c-ann", who(clock, "ann"),
                                      parsed(protocol.parse_create_room, room="busy", visibility="private")),
            ErrorCode.ROOM_EXISTS)


def test_dm_tells_the_other_side_when_the_conversation_is_new_to_them(world, api):
    chat, rooms, _ = world()
    clock = world.clock
    member("ann")
    member("bob")
    connect(chat, clock, "c-ann", "ann")
    connect(chat, clock, "c-bob", "bob")
    rooms.dm("c-ann", who(clock, "ann"), "bob")
    room = api.frames("c-ann", "room")[-1]["room"]
    assert [f["room"] for f in api.frames("c-bob", "invited")] == [room]
    rooms.dm("c-ann", who(clock, "ann"), "BOB")  # again, in another letter case: the same room, no news
    assert api.frames("c-ann", "room")[-1]["room"] == room and len(api.frames("c-bob", "invited")) == 1
    rooms.leave("c-bob", who(clock, "bob"), protocol.RoomOnly(room))
    rooms.dm("c-ann", who(clock, "ann"), "bob")  # one who left is not put back, nor told
    assert len(api.frames("c-bob", "invited")) == 1


def test_dm_names_are_canonical_valid_and_reserved():
    name = protocol.dm_room("ann.x", "bob")
    assert name == protocol.dm_room("bob", "ann.x") and protocol.ROOM_PATTERN.fullmatch(name)
    assert name.startswith(protocol.DM_PREFIX) and name != protocol.dm_room("ann.x", "bob2")
    with pytest.raises(ProtocolError) as caught:
        parsed(protocol.parse_create_room, room=name)
    assert caught.value.code is ErrorCode.INVALID_ROOM


def test_topic_is_one_line_of_text():
    with pytest.raises(ProtocolError):
        parsed(protocol.parse_create_room, room="r", topic="two\nlines")
    with pytest.raises(ProtocolError):
        parsed(protocol.parse_create_room, room="r", topic="x" * (protocol.TOPIC_MAX_CHARS + 1))
    assert parsed(protocol.parse_create_room, room="r", topic="  ").topic is None


def test_the_rooms_frame_fits_the_budget_and_pages_the_directory():
    topic = "\u4e00" * protocol.TOPIC_MAX_CHARS  # 3 bytes a character
    mine = [{"room": f"r{i:063d}", "visibility": "private", "role": "moderator", "dm": False, "topic": topic,
             "lastActivityAt": protocol.iso_utc(i), "unread": protocol.UNREAD_MAX, "mention": True}
            for i in range(protocol.ROOMS_MINE_MAX)]
    directory = [{"room": f"p{i:063d}", "topic": topic, "online": 10**6, "lastActivityAt": protocol.iso_utc(i),
                  "cursor": f"{10**14}:p{i:063d}"} for i in range(protocol.DIRECTORY_PAGE)]
    frame = protocol.rooms_frame(mine=mine, mine_more=True, directory=directory, directory_more=True)
    assert len(protocol.encode(frame)) <= protocol.FRAME_BUDGET_BYTES
    assert frame["mineHasMore"] and frame["hasMore"]
    assert frame["after"] == directory[len(frame["directory"]) - 1]["cursor"] if frame["directory"] else frame["after"] is None
    assert all("cursor" not in entry for entry in frame["directory"])
    small = protocol.rooms_frame(mine=[], mine_more=False, directory=directory[:2], directory_more=False)
    assert small["after"] is None and not small["hasMore"] and len(small["directory"]) == 2
    assert json.loads(protocol.encode(small))["type"] == "rooms"
