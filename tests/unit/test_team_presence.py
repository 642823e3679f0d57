"""Presence for the team (issue 19): a user is online while any of their connections is, in any room;
`members` entries and `rooms`' DM entries say so. And moderation shown before typing: a mute reaches
the muted user's connections at once, and `welcome` carries it."""

from handler import protocol
from tests.unit.rooms_support import connect, member, parsed, who, world  # noqa: F401


def test_members_say_who_is_online_anywhere(world, api):
    chat, rooms, _ = world()
    clock = world.clock
    for name in ("ann", "bob", "cat"):
        member(name)
    connect(chat, clock, "c-ann", "ann", room="team")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="team",
                                                         visibility="private"))
    for name in ("bob", "cat"):
        rooms.invite("c-ann", who(clock, "ann"), protocol.RoomUser(room="team", user=name))
    connect(chat, clock, "c-bob", "bob", room="elsewhere")  # online, though not in the room
    rooms.members("c-ann", who(clock, "ann"), protocol.RoomOnly("team"))
    listed = {m["user"]: m["online"] for m in api.frames("c-ann", "members")[-1]["members"]}
    assert listed == {"ann": True, "bob": True, "cat": False}
    chat.departures.disconnect("c-bob")
    rooms.members("c-ann", who(clock, "ann"), protocol.RoomOnly("team"))
    assert {m["user"]: m["online"] for m in api.frames("c-ann", "members")[-1]["members"]}["bob"] is False


def test_a_dm_in_the_rooms_list_says_whether_the_other_user_is_online(world, api):
    chat, rooms, _ = world()
    clock = world.clock
    for name in ("ann", "bob", "cat"):
        member(name)
    connect(chat, clock, "c-ann", "ann")
    rooms.dm("c-ann", who(clock, "ann"), "bob")
    rooms.dm("c-ann", who(clock, "ann"), "cat")
    connect(chat, clock, "c-bob", "bob", room="far-away")
    rooms.list_rooms("c-ann", who(clock, "ann"), None)
    dms = {e["with"]: e["online"] for e in api.frames("c-ann", "rooms")[-1]["mine"] if e["dm"]}
    assert dms == {"bob": True, "cat": False}


def test_a_mute_tells_the_muted_user_at_once_with_its_end(world, api):
    chat, rooms, moderation = world()
    clock = world.clock
    for name in ("ann", "bob"):
        member(name)
    connect(chat, clock, "c-ann", "ann", room="club")
    rooms.create_room("c-ann", who(clock, "ann"), parsed(protocol.parse_create_room, room="club"))
    connect(chat, clock, "c-bob", "bob", room="club")
    connect(chat, clock, "c-bob2", "bob", room="lobby")  # another tab, elsewhere: told too
    api.clear()
    moderation.mute("c-ann", who(clock, "ann"), parsed(protocol.parse_mute, room="club", user="bob", minutes=10))
    until = protocol.iso_utc(clock() + 10 * 60_000)
    expected = {"type": "muted", "room": "club", "by": "ann", "until": until}
    assert api.frames("c-bob", "muted") == [expected] and api.frames("c-bob2", "muted") == [expected]
    # Joining the room later: the welcome says so before anything is typed.
    chat.connections.join("c-bob2", who(clock, "bob"), protocol.Join("club"))
    assert api.frames("c-bob2", "welcome")[-1]["mutedUntil"] == until
    chat.connections.join("c-bob2", who(clock, "bob"), protocol.Join("lobby"))
    assert api.frames("c-bob2", "welcome")[-1]["mutedUntil"] is None
