"""The background functions: fanout's batches and the sweep's rounds."""

from __future__ import annotations

import jwt

from tests.iam_scenarios.registry import scenario
from tests.iam_scenarios.world import World, ask, status


@scenario("sweep")
def sweep_tells_the_room_who_left_after_the_grace(w: World):
    w.start()
    w.connect("gra-3", "gra-cat", room="gra-late")
    w.connect("gra-4", "gra-dan", room="gra-late")
    w.call("disconnect", w.ws("$disconnect", connection_id="gra-3", username="gra-cat"))
    w.later(10)
    w.call("sweep", {})
    assert w.api.frames("gra-4", "presence")[-1]["event"] == "left"


@scenario("fanout")
def fanout_delivers_a_batch_and_forgets_its_gone_members(w: World):
    w.start(WSCHAT_FANOUT_BATCH_SIZE="2")
    w.connect("fan-1", "fan-ann", room="fan-room")
    members = w.crowd("fan-room", 4, prefix="fan")
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "to all"}, connection_id="fan-1",
                               username="fan-ann"))
    payloads = [i["payload"] for i in w.lambda_.invocations if i["payload"]["room"] == "fan-room"]
    assert payloads
    w.later(20)
    w.api.gone.update(members)
    for payload in payloads:
        assert status(w.call("fanout", payload)) == 200
    handed = [member[0] for payload in payloads for member in payload["members"]]
    assert handed and all(w.app.connection_store.get_connection(cid) is None for cid in handed)


@scenario("sweep")
def sweep_closes_what_ran_out(w: World):
    w.start()
    w.connect("swp-1", "swp-ann", room="swp-room", session_limit=30)
    w.connect("swp-2", "swp-bob", room="swp-room")
    w.connect("swp-3", "swp-cat", room="swp-room")
    w.later(60)
    w.api.gone.add("swp-3")  # found gone by the presence
    assert w.call("sweep", {})["closed"] == 1
    assert "swp-1" in w.api.closed and w.api.frames("swp-2", "presence")[-1]["event"] == "left"


@scenario("sweep")
def sweep_takes_a_second_look_for_a_logged_out_tokens_connections(w: World):
    w.start()
    token = w.token("swp-dan")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    w.connect("swp-4", "swp-dan", room="swp-late", jti=jti)
    assert status(w.call("logout", w.http(headers={"authorization": f"Bearer {token}"}))) == 200
    w.later(10)  # the logout left a follow-up for the sweep: the token's connections, looked up again
    w.call("sweep", {})


@scenario("sweep")
def sweep_takes_a_second_look_after_a_kick_from_a_private_room(w: World):
    w.start()
    for name in ("swk-ann", "swk-bob"):
        w.register_user(name, "password-1")
    w.connect("swk-1", "swk-ann", room="swk-lobby")
    ask(w, "rooms", {"action": "createroom", "room": "swk-priv", "visibility": "private"}, "swk-1", "swk-ann")
    ask(w, "rooms", {"action": "invite", "room": "swk-priv", "user": "swk-bob"}, "swk-1", "swk-ann")
    w.connect("swk-2", "swk-bob", room="swk-priv")
    ask(w, "moderation", {"action": "kick", "room": "swk-priv", "user": "swk-bob"}, "swk-1", "swk-ann")
    # A connection the kick did not see (the by-user index lagging a join of the same moment).
    w.app.connection_store.move_connection("swk-2", "swk-priv")
    w.later(10)
    w.call("sweep", {})
    assert w.app.connection_store.get_connection("swk-2").room is None and w.api.frames("swk-2", "kicked")[-1]["by"] is None


@scenario("sweep")
def sweep_takes_a_second_look_after_a_mute(w: World):
    w.start()
    for name in ("swm-ann", "swm-bob"):
        w.register_user(name, "password-1")
    w.connect("swm-1", "swm-ann", room="swm-hall")
    ask(w, "rooms", {"action": "createroom", "room": "swm-hall"}, "swm-1", "swm-ann")
    w.connect("swm-2", "swm-bob", room="swm-lobby")
    ask(w, "moderation", {"action": "mute", "room": "swm-hall", "user": "swm-bob", "minutes": 60}, "swm-1", "swm-ann")
    # A join at the same moment: it read "not muted" before the mute, and moved its row after it.
    w.app.connection_store.move_connection("swm-2", "swm-hall", 0)
    w.later(10)
    w.call("sweep", {})
    assert w.app.connection_store.get_connection("swm-2").muted_until > w.now_ms
