"""The routes' replies within API Gateway's 128 KB (built under the byte budget, a refusal never
silent), and where they go: the API's own @connections endpoint, whatever domain the client used,
following the region and the stage."""

import json
import time

from handler import messages, protocol
from tests.unit.conftest import message_store, reinstall_app, ws_event
from tests.unit.route_calls import connect_user, join

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
