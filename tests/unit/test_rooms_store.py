"""RoomsStore against moto's DynamoDB (tables from the stack files)."""

import pytest

from handler import app, protocol
from handler.store.rooms import ACTIVITY_GRAIN_MS, user_key

T0 = 1_795_000_000_000


@pytest.fixture
def rooms(api):
    return app.app().rooms_store


def test_touch_makes_a_public_record_once_a_minute_and_never_moves_its_activity_back(rooms):
    minute = T0 - T0 % ACTIVITY_GRAIN_MS
    rooms.touch("typed", minute + 1_000)
    assert not rooms.touch_due("typed", minute + 59_999) and rooms.touch_due("typed", minute + ACTIVITY_GRAIN_MS)
    rooms.touch("typed", minute + 90_000)
    record = rooms.record("typed")
    assert record.visibility == "public" and record.owner is None
    assert record.created_at_ms == minute + 1_000 and record.last_activity_ms == minute + 90_000
    rooms.touch("typed", minute + 30_000)  # another process's late write of an earlier moment
    assert rooms.record("typed").last_activity_ms == minute + 90_000
    assert rooms.record("never-touched") is None


def test_touch_keeps_a_private_room_private(rooms):
    assert rooms.create_room(room="hidden", visibility="private", topic="t", owner="ann", owner_key="ann", now_ms=T0,
                             max_owned=5) == "created"
    rooms.touch("hidden", T0 + 1)
    record = rooms.record("hidden")
    assert record.private and record.owner == "ann" and record.topic == "t" and record.last_activity_ms == T0 + 1
    assert "hidden" not in [e.room for e in rooms.directory(None, 10)[0]]


def test_create_room_refuses_a_taken_name_and_a_user_over_the_cap(rooms):
    assert rooms.create_room(room="a", visibility="public", topic=None, owner="Ann", owner_key="ann", now_ms=T0,
                             max_owned=2) == "created"
    assert rooms.create_room(room="a", visibility="private", topic=None, owner="bob", owner_key="bob", now_ms=T0,
                             max_owned=2) == "exists"
    assert rooms.create_room(room="b", visibility="public", topic=None, owner="Ann", owner_key="ann", now_ms=T0,
                             max_owned=2) == "created"
    assert rooms.create_room(room="c", visibility="public", topic=None, owner="Ann", owner_key="ann", now_ms=T0,
                             max_owned=2) == "too_many"
    assert rooms.record("c") is None and rooms.role("a", "ann") == "owner"


def test_access_ignores_bans_and_mutes_that_ran_out(rooms):
    rooms.ban("r", "eve", "eve", until_ms=T0 + 60_000, by="mod", now_ms=T0)
    rooms.mute("r", "eve", "eve", until_ms=T0 + 30_000, by="mod", now_ms=T0)
    held = rooms.access("r", "eve", T0 + 1)
    assert held.banned_until == T0 + 60_000 and held.muted_until == T0 + 30_000 and held.record is None
    later = rooms.access("r", "eve", T0 + 60_000)
    assert later.banned_until is None and later.muted_until == 0
    rooms.ban("r", "eve", "eve", until_ms=None, by="mod", now_ms=T0)
    assert rooms.access("r", "eve", T0 + 10**9).banned_until == 0  # until an unban
    assert rooms.unban("r", "eve") and not rooms.unban("r", "eve")
    assert rooms.access("r", "eve", T0).banned_until is None


def test_memberships_members_and_the_owner_who_cannot_be_removed(rooms):
    rooms.create_room(room="club", visibility="private", topic=None, owner="Ann", owner_key="ann", now_ms=T0, max_owned=5)
    for name in ("bob", "cat", "dan"):
        rooms.add_member("club", name, name, "member", T0)
    rooms.set_role("club", "bob", "bob", "moderator", T0)
    rooms.add_member("club", "bob", "bob", "member", T0)  # an existing member keeps the role
    page, more = rooms.members("club", None, 2)
    assert [(k, r) for k, _, r in page] == [("ann", "owner"), ("bob", "moderator")] and more
    page, more = rooms.members("club", "bob", 2)
    assert [k for k, _, _ in page] == ["cat", "dan"] and not more
    assert not rooms.remove_member("club", "ann") and rooms.role("club", "ann") == "owner"
    assert rooms.remove_member("club", "cat") and not rooms.remove_member("club", "cat")
    mine, more = rooms.memberships("bob", 10)
    assert [(m.room, m.role) for m in mine] == [("club", "moderator")] and not more


def test_transfer_hands_the_room_over_and_counts_owned_rooms(rooms):
    rooms.create_room(room="shop", visibility="public", topic=None, owner="Ann", owner_key="ann", now_ms=T0, max_owned=1)
    rooms.create_room(room="own", visibility="public", topic=None, owner="bob", owner_key="bob", now_ms=T0, max_owned=1)
    assert rooms.transfer(room="shop", old=("Ann", "ann"), new=("bob", "bob"), now_ms=T0, max_owned=1) == "too_many"
    assert rooms.transfer(room="shop", old=("Ann", "ann"), new=("cat", "cat"), now_ms=T0, max_owned=1) == "done"
    assert rooms.record("shop").owner == "cat" and rooms.role("shop", "ann") == "moderator"
    assert rooms.transfer(room="shop", old=("Ann", "ann"), new=("dan", "dan"), now_ms=T0, max_owned=1) == "not_owner"
    # Ann owns nothing now: she may create one again.
    assert rooms.create_room(room="again", visibility="public", topic=None, owner="Ann", owner_key="ann", now_ms=T0,
                             max_owned=1) == "created"


def test_open_dm_once_with_both_memberships(rooms):
    users = (("ann.x", user_key("ann.x")), ("Bob", user_key("Bob")))
    assert rooms.open_dm(room="dm--x", users=users, now_ms=T0)
    rooms.remove_member("dm--x", "bob")
    assert not rooms.open_dm(room="dm--x", users=users, now_ms=T0)  # the record was there: ann's only
    assert rooms.memberships("bob", 10)[0] == []  # one who left is not put back by the other
    assert not rooms.open_dm(room="dm--x", users=users[::-1], now_ms=T0)  # bob opens it: bob is back
    mine, _ = rooms.memberships("bob", 10)
    assert [(m.room, m.dm_with) for m in mine] == [("dm--x", "ann.x")]
    assert rooms.record("dm--x").dm_users == ("ann.x", "Bob")


def test_the_directory_pages_public_rooms_by_their_last_minute(rooms):
    for i, room in enumerate(("old", "mid", "new")):
        assert rooms.create_room(room=room, visibility="public", topic=None, owner="ann", owner_key="ann",
                                 now_ms=T0, max_owned=5) == "created"
        rooms.touch(room, T0 + i * ACTIVITY_GRAIN_MS)
    rooms.touch("typed", T0 + 3 * ACTIVITY_GRAIN_MS)  # a room nobody created: not listed
    rooms.touch(protocol.DEFAULT_ROOM, T0 - ACTIVITY_GRAIN_MS)  # everyone's room is
    page, more = rooms.directory(None, 2)
    assert [e.room for e in page] == ["new", "mid"] and more
    rest, more = rooms.directory(page[-1].cursor, 2)
    assert [e.room for e in rest] == ["old", protocol.DEFAULT_ROOM] and not more


def test_the_moderation_log_pages_newest_first(rooms):
    ids = [rooms.log("r", actor="mod", action="kick", target=f"u{i}", now_ms=T0 + i, minutes=i or None) for i in range(3)]
    page, more = rooms.modlog("r", None, 2)
    assert [e["id"] for e in page] == [ids[2], ids[1]] and more and page[0]["minutes"] == 2
    rest, more = rooms.modlog("r", page[-1]["id"], 2)
    assert [e["target"] for e in rest] == ["u0"] and not more and "minutes" not in rest[0]
