"""The WebSocket routes, fed API-Gateway-shaped events, over moto's DynamoDB and a fake @connections API."""

import json
import time

import pytest

from handler import app, connect, disconnect, messages, protocol
from handler.store.messages import MessageStore
from stackfiles.config import load_config
from tests import iam_harness
from tests.gateway_model import two_way_routes
from tests.unit.conftest import connection_store, message_store, reinstall_app, session_row, set_clock, through_gateway, ws_event


def connect_user(connection_id, username="alice", room=None, **kwargs):
    response = connect.handler(ws_event("$connect", connection_id=connection_id, username=username, room=room, **kwargs))
    assert response["statusCode"] == 200, response
    return response


def send(connection_id, body, username="alice", **kwargs):
    return through_gateway(messages.send_message,
                           ws_event("sendmessage", body, connection_id=connection_id, username=username, **kwargs))


def join(connection_id, room=None, username="alice", **kwargs):
    body = {"action": "join"} | ({"room": room} if room else {})
    return messages.join(ws_event("join", body, connection_id=connection_id, username=username, **kwargs))


def test_connect_records_connection_and_session(api):
    connect_user("c1", "alice", room="lobby")
    conn = connection_store().get_connection("c1")
    assert (conn.username, conn.room, conn.guest) == ("alice", "lobby", False)
    session = session_row("c1")
    assert session["username"] == "alice" and session["room"] == "lobby"
    assert session["sourceIp"] == "203.0.113.7" and session["userAgent"] == "pytest-client/1.0"
    assert session["connectedAt"].endswith("Z")


def test_connect_defaults_to_general_and_refuses_bad_rooms(api):
    connect_user("c1")
    assert connection_store().get_connection("c1").room == "general"
    response = connect.handler(ws_event("$connect", connection_id="c2", room="no spaces allowed"))
    assert response["statusCode"] == 400
    assert connection_store().get_connection("c2") is None


def test_connect_without_authorizer_context_is_refused(api):
    assert connect.handler(ws_event("$connect", connection_id="c1", authorized=False))["statusCode"] == 403
    assert connect.handler(ws_event("$connect", connection_id="c1", expires_in=-5))["statusCode"] == 401


def test_connect_refusals_answer_a_status_and_a_body(api, monkeypatch):
    monkeypatch.setenv("WSCHAT_MAX_CONNECTIONS_PER_USER", "1")
    reinstall_app(transport=api)
    connect_user("c1")
    set_clock(int(time.time() * 1000) + 60_000)
    assert connect.handler(ws_event("$connect", connection_id="c2")) == {
        "statusCode": 429, "body": "too many connections: at most 1 per user; close one and try again"}
    app.app().accounts_store.revoke_token("jti-gone", int(time.time()) + 600)
    event = ws_event("$connect", connection_id="c3", username="bob")
    event["requestContext"]["authorizer"]["jti"] = "jti-gone"
    assert connect.handler(event) == {"statusCode": 403, "body": "token revoked"}
    assert connection_store().get_connection("c2") is None and connection_store().get_connection("c3") is None


def test_join_welcomes_with_room_online_and_history(api):
    connect_user("a1", "alice")
    connect_user("b1", "bob")
    send("a1", {"action": "sendmessage", "message": "first"})
    api.clear()
    join("b1", username="bob")
    welcome = api.last("b1")
    assert welcome["type"] == "welcome"
    assert welcome["user"] == "bob" and welcome["room"] == "general" and welcome["connectionId"] == "b1"
    assert welcome["online"] == ["alice", "bob"]
    assert [m["message"] for m in welcome["history"]] == ["first"]
    assert welcome["expiresAt"].endswith("Z") and welcome["sessionEndsAt"] is None


def test_connect_announces_presence_to_the_room(api):
    connect_user("a1", "alice")
    connect_user("b1", "bob")
    assert api.frames("a1", "presence") == [
        {"type": "presence", "event": "joined", "user": "bob", "room": "general", "online": ["alice", "bob"], "onlineCount": 2}
    ]
    assert api.frames("b1") == []  # a connecting client cannot receive until $connect returns


def test_messages_reach_exactly_their_room_sender_included(api):
    connect_user("a1", "alice", room="r1")
    connect_user("b1", "bob", room="r1")
    connect_user("c1", "carol", room="r2")
    api.clear()
    send("a1", {"action": "sendmessage", "message": "  hello r1  ", "clientMsgId": "m-1"})
    for cid in ("a1", "b1"):
        (frame,) = api.frames(cid, "message")
        assert frame["sender"] == "alice" and frame["message"] == "hello r1" and frame["room"] == "r1"
        assert frame["clientMsgId"] == "m-1" and protocol.is_message_id(frame["id"])
    assert api.frames("c1") == []


def test_sender_is_who_the_authorizer_said_not_the_body(api):
    connect_user("a1", "alice")
    send("a1", {"action": "sendmessage", "message": "hi", "sender": "mallory", "username": "mallory"})
    assert api.last("a1")["sender"] == "alice"
    messages_, _ = message_store().recent_messages("general", 10)
    assert messages_[0].sender == "alice"


def test_ids_increase_in_send_order(api):
    connect_user("a1")
    for n in range(5):
        send("a1", {"action": "sendmessage", "message": f"m{n}"})
    ids = [frame["id"] for frame in api.frames("a1", "message")]
    assert ids == sorted(ids) and len(set(ids)) == 5


@pytest.mark.parametrize("body, code", [
    ("not json", "bad_request"),
    ({"action": "sendmessage"}, "bad_request"),
    ({"action": "sendmessage", "message": "  "}, "empty_message"),
    ({"action": "sendmessage", "message": "x" * 2001}, "too_large"),
    ({"action": "sendmessage", "message": ["a"]}, "bad_request"),
])
def test_bad_messages_get_an_error_and_are_not_stored_or_broadcast(api, body, code):
    connect_user("a1", "alice")
    connect_user("b1", "bob")
    api.clear()
    calls = api.calls
    assert send("a1", body)["statusCode"] == 200
    assert api.frames("a1") == [api.last("a1")] and api.last("a1")["type"] == "error"
    assert api.calls == calls  # the refusal is the route's response: no post
    assert api.last("a1")["code"] == code and api.last("a1")["message"]
    assert api.frames("b1") == []
    assert message_store().recent_messages("general", 10) == ([], False)


@pytest.mark.parametrize("body, code", [
    ("{nope", "bad_request"),
    ("", "bad_request"),
    (None, "bad_request"),
    ({"no": "action"}, "bad_request"),
    ({"action": "dance"}, "unknown_action"),
    ("[1]", "bad_request"),
])
def test_default_route_answers_with_an_error(api, body, code):
    connect_user("a1")
    api.clear()
    messages.default(ws_event("$default", body, connection_id="a1"))
    assert api.last("a1")["type"] == "error" and api.last("a1")["code"] == code


def test_default_route_only_ever_replies_with_an_error(api):
    connect_user("a1")
    api.clear()
    messages.default(ws_event("$default", {"action": "sendmessage", "message": "sneaky"}, connection_id="a1"))
    assert api.frames("a1") == [api.last("a1")] and api.last("a1")["code"] == "unknown_action"
    assert message_store().recent_messages("general", 10) == ([], False)


def test_heartbeat_replies_with_server_time(api):
    connect_user("a1")
    assert through_gateway(messages.heartbeat, ws_event("heartbeat", {"action": "heartbeat"}, connection_id="a1"))["statusCode"] == 200
    assert api.last("a1")["type"] == "heartbeat" and api.last("a1")["serverTime"].endswith("Z")


def test_the_routes_that_answer_in_their_response_are_the_stacks_two_way_routes():
    # A route that returns its answer without a route response would leave the client waiting
    # for ever (API Gateway drops the body); one with a route response that still posts would
    # pay for a post and get an empty message.
    answering = set()
    for spec in load_config()["functions"].values():
        entry = getattr(*iam_harness.entry_point(spec["handler"]))
        for event in spec.get("events") or []:
            if "websocket" in event and getattr(entry, "two_way", False):
                answering.add(event["websocket"]["route"])
    assert answering == two_way_routes() == {"sendmessage", "heartbeat"}


def test_a_message_and_a_heartbeat_answer_their_sender_without_a_post(api):
    connect_user("a1")
    connect_user("b1", "bob")
    api.clear()
    calls = api.calls
    response = messages.send_message(ws_event("sendmessage", {"action": "sendmessage", "message": "hi"},
                                              connection_id="a1"))
    assert json.loads(response["body"])["message"] == "hi"
    assert api.frames("a1") == [] and api.last("b1")["message"] == "hi"
    assert api.calls == calls + 1  # the post to bob, and only that
    response = messages.heartbeat(ws_event("heartbeat", {"action": "heartbeat"}, connection_id="a1"))
    assert json.loads(response["body"])["type"] == "heartbeat" and api.calls == calls + 1


def test_history_paging_before_and_after(api):
    connect_user("a1")
    for n in range(7):
        send("a1", {"action": "sendmessage", "message": f"m{n}"})
    ids = [frame["id"] for frame in api.frames("a1", "message")]

    def history(**query):
        messages.history(ws_event("history", {"action": "history", **query}, connection_id="a1"))
        frame = api.last("a1")
        assert frame["type"] == "history" and frame["room"] == "general"
        return [m["message"] for m in frame["messages"]], frame["hasMore"]

    assert history(limit=3) == (["m4", "m5", "m6"], True)
    assert history(before=ids[4], limit=3) == (["m1", "m2", "m3"], True)
    assert history(before=ids[2], limit=3) == (["m0", "m1"], False)
    assert history(after=ids[3], limit=2) == (["m4", "m5"], True)
    assert history(after=ids[5]) == (["m6"], False)
    assert history(after=ids[6]) == ([], False)
    messages.history(ws_event("history", {"action": "history", "after": "12"}, connection_id="a1"))
    assert api.last("a1")["code"] == "bad_request"


def test_join_moves_rooms_and_tells_neither(api):
    connect_user("a1", "alice", room="r1")
    connect_user("b1", "bob", room="r1")
    connect_user("c1", "carol", room="r2")
    api.clear()
    join("a1", room="r2")
    assert api.last("a1")["type"] == "welcome" and api.last("a1")["room"] == "r2"
    assert api.last("a1")["online"] == ["alice", "carol"]
    # A switch is no presence change (issue 19): no `left` in r1, no `joined` in r2.
    assert api.frames("b1") == [] and api.frames("c1") == []
    send("a1", {"action": "sendmessage", "message": "in r2"})
    assert api.frames("b1", "message") == [] and api.frames("c1", "message")[0]["message"] == "in r2"


def test_join_bad_room_keeps_the_current_one(api):
    connect_user("a1", room="r1")
    join("a1", room="bad room!")
    assert api.last("a1")["code"] == "invalid_room"
    assert connection_store().get_connection("a1").room == "r1"


def test_disconnect_cleans_up_and_tells_the_room(api, monkeypatch):
    # At once when the stage holds no presence grace (test_chat_departures has the grace's cases).
    monkeypatch.setenv("WSCHAT_PRESENCE_GRACE_SECONDS", "0")
    reinstall_app()
    connect_user("a1", "alice")
    connect_user("b1", "bob")
    api.clear()
    disconnect.handler(ws_event("$disconnect", connection_id="b1", username="bob"))
    assert connection_store().get_connection("b1") is None
    session = session_row("b1")
    assert session["disconnectedAt"].endswith("Z") and session["durationSeconds"] >= 0
    assert session["reason"] == "client closed"
    assert api.frames("a1") == [{"type": "presence", "event": "left", "user": "bob", "room": "general", "online": ["alice"], "onlineCount": 1}]
    # A second $disconnect for the same connection changes nothing and does not fail.
    assert disconnect.handler(ws_event("$disconnect", connection_id="b1", username="bob")) == {"statusCode": 200}


def test_second_tab_leaving_does_not_mark_the_user_gone(api):
    connect_user("a1", "alice")
    connect_user("a2", "alice")
    connect_user("b1", "bob")
    api.clear()
    disconnect.handler(ws_event("$disconnect", connection_id="a2"))
    assert api.frames("b1") == []


def later_clock(monkeypatch, seconds):
    moment = int(time.time() * 1000) + seconds * 1000
    monkeypatch.setattr(app.app(), "clock", lambda: moment)


def test_stale_members_are_removed_on_send(api, monkeypatch):
    connect_user("a1", "alice")
    connect_user("b1", "bob")
    connect_user("c1", "carol")
    api.gone.add("b1")
    api.clear()
    later_clock(monkeypatch, 30)
    send("a1", {"action": "sendmessage", "message": "anyone?"})
    assert connection_store().get_connection("b1") is None
    assert session_row("b1")["reason"] == "gone"
    assert api.frames("c1", "presence")[-1] == {
        "type": "presence", "event": "left", "user": "bob", "room": "general", "online": ["alice", "carol"], "onlineCount": 2
    }


def test_a_connection_still_connecting_is_not_dropped_as_gone(api):
    # Between its row being written and $connect returning, API Gateway answers 410 for a new
    # connection; it must survive that, or its own join finds no row.
    connect_user("a1", "alice")
    connect_user("b1", "bob")
    api.gone.add("b1")
    send("a1", {"action": "sendmessage", "message": "hi"})
    assert connection_store().get_connection("b1") is not None
    api.gone.discard("b1")
    join("b1", username="bob")
    assert api.last("b1")["type"] == "welcome"


def test_failed_post_to_one_member_does_not_stop_the_others(api):
    for cid, name in (("a1", "alice"), ("b1", "bob"), ("c1", "carol")):
        connect_user(cid, name)
    api.broken.add("b1")
    send("a1", {"action": "sendmessage", "message": "hi"})
    assert api.frames("c1", "message")[0]["message"] == "hi"
    assert connection_store().get_connection("b1") is not None  # not gone, just failed once


def test_expired_session_is_refused_and_closed(api, monkeypatch):
    connect_user("g1", "guest-abcd", guest=True, session_limit=60)
    connect_user("b1", "bob")
    api.clear()
    later = int(time.time() * 1000) + 61_000
    monkeypatch.setattr(app.app(), "clock", lambda: later)
    send("g1", {"action": "sendmessage", "message": "still here?"}, username="guest-abcd", guest=True, session_limit=60)
    assert api.frames("g1") == [{"type": "error", "code": "session_expired", "message": "session limit reached", "reason": "session_limit"}]
    assert api.closed == ["g1"]
    assert api.frames("b1", "message") == []
    assert session_row("g1")["reason"] == "session limit reached"
    assert api.frames("b1", "presence")[-1]["event"] == "left"


def test_token_expiry_is_enforced_after_connect(api, monkeypatch):
    connect_user("a1", "alice", expires_in=30)
    later = int(time.time() * 1000) + 31_000
    monkeypatch.setattr(app.app(), "clock", lambda: later)
    send("a1", {"action": "sendmessage", "message": "hi"}, expires_in=30)
    assert api.frames("a1")[-1]["code"] == "session_expired"
    assert api.frames("a1")[-1]["message"] == "token expired"


def test_unknown_connection_gets_not_connected(api):
    send("ghost", {"action": "sendmessage", "message": "hi"})
    assert api.last("ghost")["code"] == "not_connected"


def test_database_failure_is_reported_as_unavailable(api, monkeypatch):
    connect_user("a1")
    monkeypatch.setenv("WSCHAT_DDB_ENDPOINT", "http://127.0.0.1:9")
    reinstall_app(dynamodb=None)  # a real client, to an address where nothing listens
    send("a1", {"action": "sendmessage", "message": "hi"})
    assert api.last("a1") == {"type": "error", "code": "unavailable", "message": "the chat store is unavailable; try again",
                              "action": "sendmessage"}


def test_a_bug_becomes_an_internal_error_frame_not_an_exception(api, monkeypatch):
    connect_user("a1")

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(MessageStore, "append_message", broken)
    assert send("a1", {"action": "sendmessage", "message": "hi"})["statusCode"] == 200
    assert api.last("a1")["code"] == "internal"


def test_handlers_survive_garbage_events(api):
    for handler in (messages.send_message, messages.join, messages.history, messages.heartbeat, messages.default,
                    connect.handler, disconnect.handler):
        for event in (None, {}, "x", {"requestContext": None}, {"requestContext": {"connectionId": "z"}}):
            assert handler(event, None)["statusCode"] in (200, 400, 403)


def test_frames_render_text_not_html(api):
    connect_user("a1")
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    send("a1", {"action": "sendmessage", "message": payload})
    assert api.last("a1")["message"] == payload  # stored and sent verbatim; clients render it as text
    assert json.loads(json.dumps(api.last("a1")))["message"] == payload


# -- replies within API Gateway's 128 KB: built under the byte budget, a refusal never silent -------

EMOJI = "\U0001F600"
FLOOD = [EMOJI * 1000, '"' * 1333 + EMOJI * 666]  # the most bytes, and the most JSON, a message can be


def flood(room: str, count: int) -> list[str]:
    """Store `count` of the largest messages (straight into the store: the rate limit is not the point)."""
    start = int(time.time() * 1000)
    return [message_store().append_message(room=room, sender="alice", message=FLOOD[n % 2], client_msg_id=f"f{n}",
                                   sent_at_ms=start + n).id for n in range(count)]


def test_a_flooded_room_stays_joinable_and_every_message_is_reachable_by_paging(api, monkeypatch):
    monkeypatch.setenv("WSCHAT_HISTORY_BURST", "1000")  # paging through it all at once is the point here
    reinstall_app()
    ids = flood("general", 120)
    connect_user("b1", "bob")
    join("b1", username="bob")
    welcome = api.last("b1")
    assert welcome["type"] == "welcome" and welcome["hasMore"] is True
    assert len(protocol.encode(welcome)) <= protocol.FRAME_BUDGET_BYTES
    assert [m["id"] for m in welcome["history"]] == ids[-len(welcome["history"]):]
    assert 16 <= len(welcome["history"]) < protocol.HISTORY_ON_JOIN  # cut by the budget, not the count

    def page(**query):
        messages.history(ws_event("history", {"action": "history", "limit": 100, **query}, connection_id="b1",
                                  username="bob"))
        frame = api.last("b1")
        assert frame["type"] == "history" and len(protocol.encode(frame)) <= protocol.FRAME_BUDGET_BYTES
        return frame

    seen, frame = [m["id"] for m in welcome["history"]], welcome
    while frame["hasMore"]:
        frame = page(before=seen[0])
        seen = [m["id"] for m in frame["messages"]] + seen
    assert seen == ids

    seen, frame = [], {"hasMore": True}
    while frame["hasMore"]:
        frame = page(after=seen[-1] if seen else protocol.message_id_at(0))
        seen += [m["id"] for m in frame["messages"]]
    assert seen == ids


def test_a_reply_the_management_api_refuses_as_too_large_is_logged_and_the_asker_told(api, capsys):
    flood("general", 5)
    api.post_max_bytes = 10_000  # what a budget bug would meet at 128 KB
    connect_user("b1", "bob")
    capsys.readouterr()
    join("b1", username="bob")
    assert api.frames("b1", "welcome") == [] and api.refused and api.refused[0][0] == "b1"
    error = api.last("b1")
    assert error == {"type": "error", "code": "internal", "message": "the welcome reply was too large to send"}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    refused = [line for line in lines if line["message"] == "reply too large for API Gateway"]
    assert refused and refused[0]["level"] == "ERROR" and refused[0]["frameType"] == "welcome"
    assert refused[0]["bytes"] == api.refused[0][1]


def test_behind_a_custom_domain_replies_go_to_the_apis_own_endpoint(api):
    # Behind a custom domain the event's domainName is chat.example.com, which does not serve
    # @connections: the endpoint must come from the API's id and region, or every reply fails.
    connect_user("a1")
    event = ws_event("join", {"action": "join"}, connection_id="a1")  # a route that posts its reply
    event["requestContext"]["domainName"] = "chat.example.com"
    assert messages.join(event)["statusCode"] == 200
    assert api.last("a1")["type"] == "welcome"  # the fake answers only the execute-api endpoint


def test_the_management_endpoint_follows_the_region_and_stage():
    from handler.events import WebSocketEvent

    event = WebSocketEvent({"requestContext": {"apiId": "xyz789", "stage": "prod", "domainName": "chat.example.com"}})
    assert event.management_endpoint("eu-west-1") == "https://xyz789.execute-api.eu-west-1.amazonaws.com/prod"
    assert WebSocketEvent({"requestContext": {"domainName": "chat.example.com"}}).management_endpoint("us-east-1") is None
