"""ModerationService (handler/moderation.py) driven directly (no entry points): mutes, kicks,
bans and who outranks whom, and the sweep's second look after a ban."""

import pytest

from handler import app, protocol
from handler.protocol import ErrorCode, Join, ProtocolError, SendMessage
from tests.unit.conftest import connection_store
from tests.unit.rooms_support import T0, connect, member, parsed, refused, who, world  # noqa: F401


def test_a_mute_is_on_the_connection_row_and_ends_on_time(world, api):
    chat, rooms, moderation = world(WSCHAT_MODERATION_MINUTE_SECONDS=10)
    clock = world.clock
    member("ann")
    member("eve")
    connect(chat, clock, "c-ann", "ann")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="hall"))
    chat.connections.join("c-ann", who(clock, "ann"), Join("hall"))
    connect(chat, clock, "c-eve", "eve", room="hall")
    moderation.mute("c-ann", who(clock, "ann"), parsed(protocol.parse_mute, room="hall", user="eve", minutes=2))
    assert connection_store().get_connection("c-eve").muted_until == T0 + 20_000
    error = refused(lambda: chat.messaging.send_message("c-eve", who(clock, "eve"), SendMessage("hi", None)), ErrorCode.MUTED)
    assert error.fields["until"] == protocol.iso_utc(T0 + 20_000)
    # Leaving and coming back reads the mute from the room again.
    chat.connections.join("c-eve", who(clock, "eve"), Join("elsewhere"))
    chat.connections.join("c-eve", who(clock, "eve"), Join("hall"))
    refused(lambda: chat.messaging.send_message("c-eve", who(clock, "eve"), SendMessage("hi", None)), ErrorCode.MUTED)
    clock.advance(20)
    chat.messaging.send_message("c-eve", who(clock, "eve"), SendMessage("free", None))
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
    assert connection_store().get_connection("c-eve").room is None
    refused(lambda: chat.messaging.send_message("c-eve", who(clock, "eve"), SendMessage("back", None)), ErrorCode.FORBIDDEN)
    refused(lambda: chat.messaging.history("c-eve", who(clock, "eve"), protocol.HistoryQuery(None, None, 10)), ErrorCode.FORBIDDEN)
    refused(lambda: chat.connections.join("c-eve", who(clock, "eve"), Join(None)), ErrorCode.BAD_REQUEST)
    chat.connections.join("c-eve", who(clock, "eve"), Join("pub"))  # a kick from a public room is not a ban
    chat.departures.disconnect("c-eve")


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
    refused(lambda: chat.connections.join("c-root", who(clock, "root"), Join("den")), ErrorCode.FORBIDDEN)
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


def test_the_sweep_takes_out_a_banned_users_connection_the_ban_did_not_see(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    member("ann")
    member("eve")
    connect(chat, clock, "c-ann", "ann", room="open")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="open"))
    connect(chat, clock, "c-eve", "eve", room="lobby")
    moderation.ban("c-ann", who(clock, "ann"), parsed(protocol.parse_ban, room="open", user="eve", minutes=30))
    connection_store().move_connection("c-eve", "open")  # a join the ban's index lookup did not show yet
    chat.housekeeping.sweep_expired()
    assert connection_store().get_connection("c-eve").room == "open"  # not due yet
    clock.advance(10)
    chat.housekeeping.sweep_expired()
    assert connection_store().get_connection("c-eve").room is None
    frame = api.frames("c-eve", "banned")[-1]
    assert frame["by"] is None and frame["until"] == protocol.iso_utc(T0 + 30 * 60_000)
    # A kick from a public room is no ban: the second look leaves a rejoined user in it.
    chat.connections.join("c-eve", who(clock, "eve"), Join("lobby"))
    moderation.unban("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="open", user="eve"))
    chat.connections.join("c-eve", who(clock, "eve"), Join("open"))
    moderation.kick("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="open", user="eve"))
    chat.connections.join("c-eve", who(clock, "eve"), Join("open"))
    clock.advance(10)
    chat.housekeeping.sweep_expired()
    assert connection_store().get_connection("c-eve").room == "open"


@pytest.mark.parametrize("fields", [
    {"room": "r", "user": "ab"}, {"room": "r", "user": "eve", "minutes": 0},
    {"room": "r", "user": "eve", "minutes": protocol.MODERATION_MAX_MINUTES + 1}, {"room": "r", "user": "eve", "minutes": True},
])
def test_mute_fields_are_checked(fields):
    with pytest.raises(ProtocolError) as caught:
        parsed(protocol.parse_mute, **fields)
    assert caught.value.code is ErrorCode.BAD_REQUEST
