"""Issue 13: presence by user, with a grace for reloads (the stack's sweep runs every second, the
grace is the default 5 s)."""

from tests.integration.conftest import unique_name

GRACE = 5


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
    assert a.next("presence", event="left", timeout=GRACE + 10)["user"] == bob["user"]["username"]


def test_a_reload_within_the_grace_says_nothing(register, client):
    r = unique_name("room")
    alice, bob = register(), register()
    a = client(alice["token"], r)
    a.join()
    b = client(bob["token"], r)
    a.next("presence", event="joined")
    b.close()
    b = client(bob["token"], r)  # the reloaded page
    assert b.join()["online"] == sorted([alice["user"]["username"], bob["user"]["username"]])
    assert presence(a, GRACE + 3) == []


def test_a_real_leave_is_announced_after_the_grace(register, client):
    r = unique_name("room")
    alice, bob = register(), register()
    a = client(alice["token"], r)
    a.join()
    b = client(bob["token"], r)
    a.next("presence", event="joined")
    b.close()
    assert presence(a, GRACE - 2) == []  # not yet: a reload would still be in time
    left = a.next("presence", event="left", timeout=10)
    assert left["user"] == bob["user"]["username"] and left["online"] == [alice["user"]["username"]]
