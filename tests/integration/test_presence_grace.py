"""Presence by user, with a grace for reloads: a closed page's `left` is held for the grace
(PRESENCE_GRACE_SECONDS) and sent by the sweep (every second here) only if the user is not back.

Where a test needs the reload to come before the sweep, it holds the sweeper (conftest.Sweeper)
rather than racing the grace: a reload on a loaded machine may take longer than the grace."""

from tests.integration.conftest import PRESENCE_GRACE_SECONDS as GRACE
from tests.integration.conftest import unique_name


def presence(c, wait):
    return [(f["event"], f["user"]) for f in c.nothing_more(wait) if f["type"] == "presence"]


def test_a_second_tab_is_not_announced(register, client):
    r = unique_name("room")
    alice, bob = register(), register()
    a = client(alice["token"], r)
    a.join()
    b1 = client(bob["token"], r)
    assert a.next("presence", event="joined")["user"] == bob["user"]["username"]
    b2 = client(bob["token"], r)
    b2.join()
    b2.close()  # and closing it, with the first tab still there, is no `left` either
    assert presence(a, GRACE + 2) == []
    b1.close()
    assert a.next("presence", event="left", timeout=GRACE + 20)["user"] == bob["user"]["username"]


def test_a_reload_within_the_grace_says_nothing(register, client, sweeper):
    r = unique_name("room")
    alice, bob = register(), register()
    a = client(alice["token"], r)
    a.join()
    b = client(bob["token"], r)
    a.next("presence", event="joined")
    with sweeper.held():  # the page is back before any sweep settles the held `left`
        b.close()
        b = client(bob["token"], r)  # the reloaded page
        assert b.join()["online"] == sorted([alice["user"]["username"], bob["user"]["username"]])
    assert presence(a, GRACE + 3) == []  # sweeps past the grace: the room is told nothing


def test_a_real_leave_is_announced_after_the_grace(register, client):
    r = unique_name("room")
    alice, bob = register(), register()
    a = client(alice["token"], r)
    a.join()
    b = client(bob["token"], r)
    a.next("presence", event="joined")
    b.close()
    assert presence(a, GRACE - 2) == []  # not yet: a reload would still be in time
    left = a.next("presence", event="left", timeout=GRACE + 20)
    assert left["user"] == bob["user"]["username"] and left["online"] == [alice["user"]["username"]]
