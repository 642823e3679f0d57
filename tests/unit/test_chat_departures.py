"""Departures (handler/chat/departures.py) driven directly: who hears `joined` and `left`, presence
held back over its budget and settled by the sweep, and the grace that keeps a reload quiet."""

from handler import protocol
from handler.protocol import Join
from tests.unit.chat_support import chat, chat_with, clock, connect, identity, presence  # noqa: F401
from tests.unit.conftest import follow_up_store


# -- presence limits -------------------------------------------------------------------------------


def test_presence_is_skipped_in_rooms_above_the_presence_limit(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_MAX_ROOM=2)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    assert api.frames("a1") == [presence("joined", "bob", "general", ["alice", "bob"])]  # 2: not above
    api.clear()
    connect(chat, clock, "c1", "carol")
    chat.connections.join("a1", identity(clock, "alice"), Join(None))
    assert api.frames("b1") == []
    assert api.last("a1")["online"] == ["alice", "bob", "carol"]  # the welcome still says who is there
    chat.departures.disconnect("c1")
    clock.advance(6)  # past the presence grace
    chat.housekeeping.sweep_expired()
    assert api.frames("b1") == [presence("left", "carol", "general", ["alice", "bob"])]


# -- abuse: presence -------------------------------------------------------------------------------


def test_presence_over_its_budget_is_held_back_and_settled_by_the_sweep(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_BURST=1, WSCHAT_PRESENCE_RATE=0.2,  # then one every 5 s
                     WSCHAT_PRESENCE_GRACE_SECONDS=0)  # `left` at once, not after a reload's grace
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    assert api.frames("a1") == [presence("joined", "bob", "r1", ["alice", "bob"])]
    chat.departures.disconnect("b1")
    assert len(api.frames("a1")) == 1  # bob's `left` is held back
    clock.advance(4)
    chat.housekeeping.sweep_expired()
    assert len(api.frames("a1")) == 1
    clock.advance(1)
    chat.housekeeping.sweep_expired()
    assert api.frames("a1")[1:] == [presence("left", "bob", "r1", ["alice"])]
    clock.advance(60)
    chat.housekeeping.sweep_expired()
    assert len(api.frames("a1")) == 2  # settled once


def test_a_change_undone_before_it_is_settled_sends_nothing(api, chat_with, clock):
    chat = chat_with(WSCHAT_PRESENCE_BURST=1, WSCHAT_PRESENCE_RATE=0.2, WSCHAT_PRESENCE_GRACE_SECONDS=0)
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    for n in range(2, 6):  # bob's connection drops and comes back, again and again
        chat.departures.disconnect(f"b{n - 1}")
        connect(chat, clock, f"b{n}", "bob", "r1")
    clock.advance(60)
    chat.housekeeping.sweep_expired()
    assert api.frames("a1", "presence") == [presence("joined", "bob", "r1", ["alice", "bob"])]
    assert follow_up_store().due(clock() // 1000) == ([], [])


def test_switching_rooms_sends_no_presence_at_all(api, chat_with, clock):
    # Presence is the team's: a switch changes nobody's, so 40 switches cost no frame (before
    # issue 19, each said `left` in one room and `joined` in the other, within a budget).
    chat = chat_with(WSCHAT_JOIN_BURST=100)
    connect(chat, clock, "x1", "xena", "x")
    connect(chat, clock, "y1", "yuri", "y")
    connect(chat, clock, "m1", "mallory", "x")
    api.clear()
    mallory = identity(clock, "mallory")
    for n in range(40):
        chat.connections.join("m1", mallory, Join("y" if n % 2 == 0 else "x"))
    clock.advance(60)
    chat.housekeeping.sweep_expired()
    assert api.frames("x1", "presence") == [] and api.frames("y1", "presence") == []


# -- the presence grace ----------------------------------------------------------------------------


def test_a_reload_within_the_grace_says_nothing_and_a_leave_says_left_after_it(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()
    chat.departures.disconnect("b1")
    connect(chat, clock, "b2", "bob")  # the reloaded page
    clock.advance(6)
    chat.housekeeping.sweep_expired()
    assert api.frames("a1") == []
    chat.departures.disconnect("b2")
    chat.housekeeping.sweep_expired()
    assert api.frames("a1") == []  # not before the grace is over
    clock.advance(6)
    chat.housekeeping.sweep_expired()
    assert api.frames("a1") == [presence("left", "bob", "general", ["alice"])]


