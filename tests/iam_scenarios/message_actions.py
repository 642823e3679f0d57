"""Message actions (interact: edit, react, typing), renew, and read markers."""

from __future__ import annotations

import json

from handler import protocol
from tests.iam_scenarios.registry import scenario
from tests.iam_scenarios.world import World, ask, expired_and_gone, message_in, signed_in


@scenario("interact")
def interact_edits_reacts_and_types(w: World):
    w.start()
    w.connect("int-1", "int-ann", room="int-room")
    w.connect("int-2", "int-bob", room="int-room")
    w.connect("int-3", "int-cat", room="int-room")
    mid = message_in(w, "int-1", "int-ann")
    w.later(20)
    w.api.gone.add("int-3")  # found gone by the edit's broadcast
    w.call("interact", w.ws("editmessage", {"action": "editmessage", "id": mid, "message": "hello!"},
                            connection_id="int-1", username="int-ann"))
    assert w.api.frames("int-2", "edited")[-1]["message"] == "hello!"
    assert w.app.connection_store.get_connection("int-3") is None
    w.call("interact", w.ws("react", {"action": "react", "id": mid, "emoji": "👍"}, connection_id="int-2",
                            username="int-bob"))
    assert w.api.frames("int-1", "reaction")[-1]["count"] == 1
    w.call("interact", w.ws("typing", {"action": "typing"}, connection_id="int-2", username="int-bob"))
    assert w.api.frames("int-1", "typing")
    w.call("interact", w.ws("editmessage", {"action": "editmessage", "id": mid, "message": "mine now"},
                            connection_id="int-2", username="int-bob"))
    assert w.api.frames("int-2", "error")[-1]["code"] == "forbidden"


@scenario("interact")
def interact_after_the_session_or_from_a_gone_connection(w: World):
    # An edit of a message that is not there: its error reply finds the sender gone.
    expired_and_gone(w, "interact", {"action": "editmessage", "id": protocol.new_message_id(w.now_ms, "abcdef"),
                                      "message": "x"}, "itp", route="editmessage")


@scenario("renew")
def renew_extends_an_open_connection(w: World):
    w.start()
    signed = signed_in(w, "ren-ann")
    w.connect("ren-1", "ren-ann", room="ren-room", expires_in=60)
    # (The world's clock stays on the real one here: PyJWT checks `nbf` against the real time.)
    fresh = json.loads(w.call("refresh", w.http({"refreshToken": signed["refreshToken"]}))["body"])
    w.call("renew", w.ws("renew", {"action": "renew", "token": fresh["token"]}, connection_id="ren-1",
                         username="ren-ann"))
    assert w.api.frames("ren-1", "renewed")
    assert w.app.connection_store.get_connection("ren-1").expires_at > w.now_ms // 1000 + 60


@scenario("renew")
def renew_after_the_session_or_from_a_gone_connection(w: World):
    expired_and_gone(w, "renew", {"action": "renew", "token": "x"}, "rnw")


@scenario("read")
def read_moves_the_marker_and_tells_the_users_other_connections(w: World):
    w.start()
    w.register_user("red-ann", "password-1")
    w.connect("red-1", "red-ann", room="red-room")
    w.connect("red-2", "red-ann", room="red-other")  # another tab, elsewhere
    w.connect("red-3", "red-ann", room="red-room")  # a third, found gone when told
    mid = message_in(w, "red-1", "red-ann")
    w.later(20)
    w.api.gone.add("red-3")
    read = ask(w, "read", {"action": "read", "room": "red-room", "id": mid}, "red-1", "red-ann")
    assert read == {"type": "read", "room": "red-room", "id": mid}
    assert w.api.frames("red-2", "read")[-1]["id"] == mid and w.app.connection_store.get_connection("red-3") is None
    # Another room than the connection's: admitted as join admits (a private room: members only).
    ask(w, "rooms", {"action": "createroom", "room": "red-priv", "visibility": "private"}, "red-1", "red-ann")
    w.connect("red-4", "red-bob", room="red-room")
    refused = ask(w, "read", {"action": "read", "room": "red-priv", "id": mid}, "red-4", "red-bob")
    assert refused["code"] == "forbidden"
    assert ask(w, "read", {"action": "read", "room": "red-other", "id": mid}, "red-1", "red-ann")["id"] == mid


@scenario("read")
def read_after_the_session_or_from_a_gone_connection(w: World):
    expired_and_gone(w, "read", {"action": "read", "room": "rdx-room", "id": protocol.new_message_id(w.now_ms, "abcdef")},
                      "rdx")
