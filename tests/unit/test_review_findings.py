"""The security review's findings on rooms, moderation and replies, each as the safe behaviour
(the review's probes, turned around). The refresh and logout findings are in test_refresh.py."""

import pytest

from handler import protocol
from handler.guard import Refused
from handler.protocol import ErrorCode, Join, SendMessage
from tests.unit.conftest import connection_store
from tests.unit.rooms_support import connect, member, parsed, refused, who, world  # noqa: F401


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
