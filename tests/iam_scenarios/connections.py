"""$connect and $disconnect: the room told, the user's cap, private rooms, the presence grace."""

from __future__ import annotations

from tests.iam_scenarios.registry import scenario
from tests.iam_scenarios.world import World, ask, status


@scenario("connect")
def connect_tells_the_room_and_forgets_the_members_found_gone(w: World):
    w.start()
    w.connect("con-1", "con-ann", room="con-room")
    w.later(20)  # past the grace a young connection gets before it counts as gone
    w.api.gone.add("con-1")
    w.connect("con-2", "con-bob", room="con-room")
    assert w.app.connection_store.get_connection("con-1") is None


@scenario("connect")
def connect_tells_even_a_room_bigger_than_a_fanout_batch_itself(w: World):
    # Presence goes only to rooms of at most presenceMaxRoom members, always from here.
    w.start(WSCHAT_FANOUT_BATCH_SIZE="2")
    w.crowd("con-big", 4)
    w.connect("con-3", "con-cat", room="con-big")
    assert w.lambda_.invocations == [] and w.api.frames("m3-con-big", "presence")


@scenario("connect")
def connect_refuses_a_connection_over_the_users_cap_and_forgets_its_row(w: World):
    w.start(WSCHAT_MAX_CONNECTIONS_PER_USER="1")
    w.connect("cap-1", "cap-ann", room="cap-room")
    response = w.call("connect", w.ws("$connect", connection_id="cap-2", username="cap-ann", room="cap-room"))
    assert status(response) == 429 and w.app.connection_store.get_connection("cap-2") is None


@scenario("disconnect")
def disconnect_ends_the_session_and_tells_the_room(w: World):
    w.start(WSCHAT_PRESENCE_GRACE_SECONDS="0")  # `left` at once (the grace's path: below)
    w.connect("dis-1", "dis-ann", room="dis-room")
    w.connect("dis-2", "dis-bob", room="dis-room")
    w.connect("dis-3", "dis-cat", room="dis-room")
    w.later(20)
    w.api.gone.add("dis-3")  # found gone by the presence
    assert status(w.call("disconnect", w.ws("$disconnect", connection_id="dis-1", username="dis-ann"))) == 200
    assert w.api.frames("dis-2", "presence")[-1]["event"] == "left"
    assert w.app.connection_store.get_connection("dis-3") is None


@scenario("connect")
def connect_to_a_private_room_needs_a_membership_and_reads_the_admin_role(w: World):
    w.start()
    for name in ("cpr-ann", "cpr-bob"):
        w.register_user(name, "password-1")
    w.app.accounts_store.set_admin("cpr-ann", True)
    w.connect("cpr-1", "cpr-ann", room="cpr-lobby")
    assert ask(w, "rooms", {"action": "createroom", "room": "cpr-priv", "visibility": "private"}, "cpr-1",
                "cpr-ann")["type"] == "room"
    response = w.call("connect", w.ws("$connect", connection_id="cpr-2", username="cpr-bob", room="cpr-priv"))
    assert status(response) == 403 and w.app.connection_store.get_connection("cpr-2") is None
    w.connect("cpr-3", "cpr-ann", room="cpr-priv")
    assert w.app.connection_store.get_connection("cpr-3").admin


@scenario("disconnect")
def disconnect_holds_the_left_for_the_presence_grace(w: World):
    w.start()
    w.connect("gra-1", "gra-ann", room="gra-room")
    w.connect("gra-2", "gra-bob", room="gra-room")
    assert status(w.call("disconnect", w.ws("$disconnect", connection_id="gra-1", username="gra-ann"))) == 200
    assert not [f for f in w.api.frames("gra-2", "presence") if f["event"] == "left"]


@scenario("connect")
def connect_within_the_grace_says_nothing(w: World):
    w.start()
    w.connect("gra-5", "gra-eve", room="gra-back")
    w.connect("gra-6", "gra-fay", room="gra-back")
    w.call("disconnect", w.ws("$disconnect", connection_id="gra-5", username="gra-eve"))
    w.connect("gra-7", "gra-eve", room="gra-back")
    assert w.api.frames("gra-6", "presence") == []  # neither `left` nor `joined` for the reload
