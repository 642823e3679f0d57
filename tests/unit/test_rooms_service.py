"""Rooms and moderation services driven directly (no entry points): moto's DynamoDB, the fake
@connections API, a clock the test moves, all wired by the App."""

import json

import pytest

from handler import app, protocol
from handler.guard import Refused
from handler.protocol import ErrorCode, Join, ProtocolError, SendMessage
from tests.unit.conftest import T0, connect, member, parsed, refused, store, who


def test_connect_to_a_private_room_is_refused_before_the_row_is_written_and_admins_are_marked(world, api):
    chat, rooms, _ = world()
    clock = world.clock
    member("ann", admin=True)
    member("bob")
    connect(chat, clock, "c-ann", "ann")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="vault", visibility="private"))
    with pytest.raises(Refused) as caught:
        connect(chat, clock, "c-bob", "bob", room="vault")
    assert caught.value.status == 403 and store().get_connection("c-bob") is None
    assert store().get_connection("c-ann").admin and not connect(chat, clock, "c-bob", "bob").admin
    # The welcome says so, so that the page can offer an admin moderation where they hold no role.
    chat.join("c-ann", who(clock, "ann"), Join(None))
    chat.join("c-bob", who(clock, "bob"), Join(None))
    assert api.last("c-ann")["admin"] is True and api.last("c-bob")["admin"] is False
    # A dm-- name without a record is private too.
    with pytest.raises(Refused):
        connect(chat, clock, "c-bob2", "bob", room=protocol.dm_room("x", "y"))


def test_a_mute_is_on_the_connection_row_and_ends_on_time(world, api):
    chat, rooms, moderation = world(WSCHAT_MODERATION_MINUTE_SECONDS=10)
    clock = world.clock
    member("ann")
    member("eve")
    connect(chat, clock, "c-ann", "ann")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="hall"))
    chat.join("c-ann", who(clock, "ann"), Join("hall"))
    connect(chat, clock, "c-eve", "eve", room="hall")
    moderation.mute("c-ann", who(clock, "ann"), parsed(protocol.parse_mute, room="hall", user="eve", minutes=2))
    assert store().get_connection("c-eve").muted_until == T0 + 20_000
    error = refused(lambda: chat.send_message("c-eve", who(clock, "eve"), SendMessage("hi", None)), ErrorCode.MUTED)
    assert error.fields["until"] == protocol.iso_utc(T0 + 20_000)
    # Leaving and coming back reads the mute from the room again.
    chat.join("c-eve", who(clock, "eve"), Join("elsewhere"))
    chat.join("c-eve", who(clock, "eve"), Join("hall"))
    refused(lambda: chat.send_message("c-eve", who(clock, "eve"), SendMessage("hi", None)), ErrorCode.MUTED)
    clock.advance(20)
    chat.send_message("c-eve", who(clock, "eve"), SendMessage("free", None))
    assert api.frames("c-ann", "message")[-1]["message"] == "free"


def test_a_kicked_connection_is_in_no_room_and_cannot_send_or_read(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    member("ann")
    member("eve")
    connect(chat, clock, "c-ann", "ann", room="pub")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="pub"))
    connect(chat, clock, "c-eve", "eve", room="pub")
    moderation.kick("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="pub", user="eve"))
    assert api.frames("c-eve", "kicked") == [{"type": "kicked", "room": "pub", "by": "ann"}]
    assert store().get_connection("c-eve").room is None
    refused(lambda: chat.send_message("c-eve", who(clock, "eve"), SendMessage("back", None)), ErrorCode.FORBIDDEN)
    refused(lambda: chat.history("c-eve", who(clock, "eve"), protocol.HistoryQuery(None, None, 10)), ErrorCode.FORBIDDEN)
    refused(lambda: chat.join("c-eve", who(clock, "eve"), Join(None)), ErrorCode.BAD_REQUEST)
    chat.join("c-eve", who(clock, "eve"), Join("pub"))  # a kick from a public room is not a ban
    chat.disconnect("c-eve")


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


def test_a_site_admin_outranks_an_owner_but_a_moderator_does_not(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    member("root", admin=True)
    for name in ("ann", "bob"):
        member(name)
    connect(chat, clock, "c-ann", "ann")
    connect(chat, clock, "c-bob", "bob")
    connect(chat, clock, "c-root", "root")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="den", visibility="private"))
    rooms.invite("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="den", user="bob"))
    clock.advance(1)  # log entries of one millisecond have no order
    moderation.set_role("c-ann", who(clock, "ann"), parsed(protocol.parse_set_role, room="den", user="bob", role="moderator"))
    clock.advance(1)
    refused(lambda: moderation.ban("c-bob", who(clock, "bob"), parsed(protocol.parse_ban, room="den", user="ann")),
            ErrorCode.FORBIDDEN)
    refused(lambda: moderation.ban("c-ann", who(clock, "ann"), parsed(protocol.parse_ban, room="den", user="root")),
            ErrorCode.FORBIDDEN)
    moderation.ban("c-root", who(clock, "root"), parsed(protocol.parse_ban, room="den", user="bob", minutes=5))
    # The admin is no member: the room stays closed to them.
    refused(lambda: chat.join("c-root", who(clock, "root"), Join("den")), ErrorCode.FORBIDDEN)
    entries = app.app().rooms_store.modlog("den", None, 10)[0]
    assert [(e["actor"], e["action"], e["target"]) for e in entries][:2] == [("root", "ban", "bob"), ("ann", "setrole", "bob")]


def test_an_admin_hands_a_room_over_before_removing_its_owner(world, api):
    """Demoting, kicking or banning the owner would leave the room's record naming an owner who has
    no such role (and, in a private room, no membership): refused, until the room is handed over."""
    chat, rooms, moderation = world()
    clock = world.clock
    member("root", admin=True)
    member("ann")
    connect(chat, clock, "c-ann", "ann")
    connect(chat, clock, "c-root", "root")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="den", visibility="private"))
    root = who(clock, "root")
    for call in (lambda: moderation.set_role("c-root", root, parsed(protocol.parse_set_role, room="den", user="ann",
                                                                         role="moderator")),
                 lambda: moderation.kick("c-root", root, parsed(protocol.parse_room_user, room="den", user="ann")),
                 lambda: moderation.ban("c-root", root, parsed(protocol.parse_ban, room="den", user="ann"))):
        assert "make someone else its owner first" in refused(call, ErrorCode.FORBIDDEN).message
    assert app.app().rooms_store.role("den", "ann") == "owner"
    # Handed over to the admin, the old owner is a moderator, and may be removed like one.
    moderation.set_role("c-root", root, parsed(protocol.parse_set_role, room="den", user="root", role="owner"))
    moderation.kick("c-root", root, parsed(protocol.parse_room_user, room="den", user="ann"))
    assert app.app().rooms_store.role("den", "ann") is None
    assert app.app().rooms_store.role("den", "root") == "owner"


def test_dm_names_are_canonical_valid_and_reserved():
    name = protocol.dm_room("ann.x", "bob")
    assert name == protocol.dm_room("bob", "ann.x") and protocol.ROOM_PATTERN.fullmatch(name)
    assert name.startswith(protocol.DM_PREFIX) and name != protocol.dm_room("ann.x", "bob2")
    with pytest.raises(ProtocolError) as caught:
        parsed(protocol.parse_create_room, room=name)
    assert caught.value.code is ErrorCode.INVALID_ROOM


@pytest.mark.parametrize("fields", [
    {"room": "r", "user": "ab"}, {"room": "r", "user": "eve", "minutes": 0},
    {"room": "r", "user": "eve", "minutes": protocol.MODERATION_MAX_MINUTES + 1}, {"room": "r", "user": "eve", "minutes": True},
])
def test_mute_fields_are_checked(fields):
    with pytest.raises(ProtocolError) as caught:
        parsed(protocol.parse_mute, **fields)
    assert caught.value.code is ErrorCode.BAD_REQUEST


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


def test_the_sweep_takes_out_a_banned_users_connection_the_ban_did_not_see(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    member("ann")
    member("eve")
    connect(chat, clock, "c-ann", "ann", room="open")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="open"))
    connect(chat, clock, "c-eve", "eve", room="lobby")
    moderation.ban("c-ann", who(clock, "ann"), parsed(protocol.parse_ban, room="open", user="eve", minutes=30))
    store().move_connection("c-eve", "open")  # a join the ban's index lookup did not show yet
    chat.sweep_expired()
    assert store().get_connection("c-eve").room == "open"  # not due yet
    clock.advance(10)
    chat.sweep_expired()
    assert store().get_connection("c-eve").room is None
    frame = api.frames("c-eve", "banned")[-1]
    assert frame["by"] is None and frame["until"] == protocol.iso_utc(T0 + 30 * 60_000)
    # A kick from a public room is no ban: the second look leaves a rejoined user in it.
    chat.join("c-eve", who(clock, "eve"), Join("lobby"))
    moderation.unban("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="open", user="eve"))
    chat.join("c-eve", who(clock, "eve"), Join("open"))
    moderation.kick("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="open", user="eve"))
    chat.join("c-eve", who(clock, "eve"), Join("open"))
    clock.advance(10)
    chat.sweep_expired()
    assert store().get_connection("c-eve").room == "open"


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
