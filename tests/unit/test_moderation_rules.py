"""What a ban, a mute or a deleted message takes away, on the moderation service driven
directly: a banned moderator's powers, a mute that meets a join, a banned user invited back, a
quoted message as it is now."""

import pytest
from handler import protocol
from handler.guard import Refused
from handler.protocol import ErrorCode, Join, SendMessage
from tests.unit.conftest import connection_store
from tests.unit.rooms_support import connect, member, parsed, refused, who, world


def test_a_moderator_banned_from_a_public_room_can_no_longer_moderate_it(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    for name in ("ann", "mod", "eve"):
        member(name)
    connect(chat, clock, "c-ann", "ann", room="pub")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="pub"))
    connect(chat, clock, "c-mod", "mod", room="pub")
    connect(chat, clock, "c-eve", "eve", room="pub")
    moderation.set_role("c-ann", who(clock, "ann"), parsed(protocol.parse_set_role, room="pub", user="mod", role="moderator"))
    msg_id = chat.messaging.send_message("c-eve", who(clock, "eve"), SendMessage("eve's words", None))["id"]
    clock.advance(1)
    moderation.ban("c-ann", who(clock, "ann"), parsed(protocol.parse_ban, room="pub", user="mod"))
    mod = who(clock, "mod")
    refused(lambda: moderation.delete_message("c-mod", mod, protocol.DeleteMessage("pub", msg_id)), ErrorCode.FORBIDDEN)
    refused(lambda: moderation.mute("c-mod", mod, parsed(protocol.parse_mute, room="pub", user="eve", minutes=60)),
            ErrorCode.FORBIDDEN)
    refused(lambda: moderation.ban("c-mod", mod, parsed(protocol.parse_ban, room="pub", user="eve")), ErrorCode.FORBIDDEN)
    refused(lambda: moderation.modlog("c-mod", mod, protocol.RoomOnly("pub")), ErrorCode.FORBIDDEN)
    refused(lambda: rooms.invite("c-mod", mod, parsed(protocol.parse_room_user, room="pub", user="eve")),
            ErrorCode.FORBIDDEN)
    refused(lambda: rooms.members("c-mod", mod, protocol.RoomOnly("pub")), ErrorCode.FORBIDDEN)
    assert connection_store().get_connection("c-eve").room == "pub" and not api.frames("c-mod", "modlog")
    # Unbanned, the role is theirs again.
    moderation.unban("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="pub", user="mod"))
    moderation.modlog("c-mod", mod, protocol.RoomOnly("pub"))
    assert api.frames("c-mod", "modlog")


def test_a_mute_reaches_a_connection_that_joined_at_the_same_moment(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    member("ann")
    member("eve")
    connect(chat, clock, "c-ann", "ann", room="hall")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="hall"))
    connect(chat, clock, "c-eve", "eve", room="lobby")
    moderation.mute("c-ann", who(clock, "ann"), parsed(protocol.parse_mute, room="hall", user="eve", minutes=60))
    # eve's join at the same moment: it read "not muted" before the mute, and moved the row after it.
    connection_store().move_connection("c-eve", "hall", 0)
    clock.advance(120)
    chat.housekeeping.sweep_expired()  # the mute's second look
    refused(lambda: chat.messaging.send_message("c-eve", who(clock, "eve"), SendMessage("still talking", None)), ErrorCode.MUTED)
    assert not [f for f in api.frames("c-ann", "message") if f["message"] == "still talking"]


def test_a_banned_user_invited_back_to_a_private_room_still_cannot_read_its_members(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    member("ann")
    member("eve")
    connect(chat, clock, "c-ann", "ann")
    connect(chat, clock, "c-eve", "eve")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="vault", visibility="private"))
    rooms.invite("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="vault", user="eve"))
    moderation.ban("c-ann", who(clock, "ann"), parsed(protocol.parse_ban, room="vault", user="eve"))
    rooms.invite("c-ann", who(clock, "ann"), parsed(protocol.parse_room_user, room="vault", user="eve"))
    refused(lambda: rooms.members("c-eve", who(clock, "eve"), protocol.RoomOnly("vault")), ErrorCode.FORBIDDEN)
    refused(lambda: chat.connections.join("c-eve", who(clock, "eve"), Join("vault")), ErrorCode.BANNED)


@pytest.mark.parametrize("how", ["deleted", "edited"])
def test_a_reply_shows_the_quoted_message_as_it_is_now(world, api, how):
    chat, rooms, moderation = world()
    clock = world.clock
    for name in ("ann", "eve", "sock"):
        member(name)
    connect(chat, clock, "c-ann", "ann", room="pub")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="pub"))
    connect(chat, clock, "c-eve", "eve", room="pub")
    connect(chat, clock, "c-sock", "sock", room="pub")
    bad = chat.messaging.send_message("c-eve", who(clock, "eve"), SendMessage("ABUSIVE TEXT / my password is hunter2", None))["id"]
    clock.advance(1)
    chat.messaging.send_message("c-sock", who(clock, "sock"), SendMessage("+1", None, reply_to=bad))
    clock.advance(1)
    if how == "deleted":
        moderation.delete_message("c-ann", who(clock, "ann"), protocol.DeleteMessage("pub", bad))
        expected = {"id": bad, "sender": "eve", "deleted": True}
    else:
        chat.message_actions.edit_message("c-eve", who(clock, "eve"), parsed(protocol.parse_edit_message, id=bad, message="sorry"))
        expected = {"id": bad, "sender": "eve", "excerpt": "sorry"}
    # The quoted message in the page, and outside it (a page of one: read with a BatchGetItem).
    for limit in (10, 1):
        chat.messaging.history("c-ann", who(clock, "ann"), protocol.HistoryQuery(None, None, limit))
        page = api.frames("c-ann", "history")[-1]["messages"]
        assert page[-1]["replyTo"] == expected and "hunter2" not in str(page)
    chat.connections.join("c-ann", who(clock, "ann"), Join("pub"))
    assert api.frames("c-ann", "welcome")[-1]["history"][-1]["replyTo"] == expected
