"""Property-based fuzzing of every handler: arbitrary events and bodies never make one raise, every
frame sent back is a well-formed protocol frame, and the stored state stays valid."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authorizer import handler as authorizer
from handler import app, connect, disconnect, fanout, http_auth, messages, sweep
from handler.entry import BackgroundFailed
from tests.unit.conftest import connection_store, reinstall_app, session_row, set_clock, through_gateway, ws_event

FRAME_TYPES = {"welcome", "message", "presence", "history", "heartbeat", "error"}
ERROR_CODES = {"bad_request", "unknown_action", "too_large", "empty_message", "invalid_room", "session_expired",
               "not_connected", "unavailable", "internal", "rate_limited"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
actions = st.sampled_from(["sendmessage", "join", "history", "heartbeat", "nope", "", None, 5])
bodies = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    st.builds(lambda action, fields: json.dumps({"action": action, **fields}),
              actions, st.dictionaries(st.sampled_from(["message", "room", "before", "after", "limit", "clientMsgId", "sender"]),
                                       json_values, max_size=4)),
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check_frames(api):
    for frames in api.posts.values():
        for frame in frames:
            assert frame["type"] in FRAME_TYPES
            if frame["type"] == "error":
                assert frame["code"] in ERROR_CODES and isinstance(frame["message"], str) and frame["message"]
            if frame["type"] == "message":
                assert isinstance(frame["message"], str) and 0 < len(frame["message"]) <= 2000
                assert frame["sender"] == "alice"  # never whatever a body claimed


@FUZZ
@given(body=bodies)
def test_websocket_routes_survive_any_body(api, body):
    if connection_store().get_connection("fz") is None:
        assert connect.handler(ws_event("$connect", connection_id="fz", username="alice"))["statusCode"] == 200
    for route, handler in (("sendmessage", messages.send_message), ("join", messages.join),
                           ("history", messages.history), ("heartbeat", messages.heartbeat),
                           ("$default", messages.default)):
        assert through_gateway(handler, ws_event(route, body, connection_id="fz"))["statusCode"] == 200
    check_frames(api)
    conn = connection_store().get_connection("fz")
    assert conn is not None and conn.username == "alice"  # state intact, whatever came in
    messages.join(ws_event("join", {"action": "join", "room": "general"}, connection_id="fz"))


@FUZZ
@given(event=st.dictionaries(st.sampled_from(["requestContext", "body", "queryStringParameters", "headers",
                                              "isBase64Encoded", "methodArn"]), json_values, max_size=5))
def test_every_handler_survives_any_event(api, event):
    for handler in (messages.send_message, messages.join, messages.history, messages.heartbeat, messages.default,
                    connect.handler, disconnect.handler, sweep.handler):
        assert isinstance(handler(event, None), dict)
    try:  # fanout reports an event it cannot deliver to Lambda (its Errors, the failures queue)
        assert isinstance(fanout.handler(event, None), dict)
    except BackgroundFailed:
        pass
    policy = authorizer.handler(event, None)
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    for handler in (http_auth.register, http_auth.login, http_auth.guest, http_auth.logout):
        response = handler(event, None)
        assert response["statusCode"] in (200, 201, 400, 401, 403, 409, 413, 429, 503)
        assert isinstance(json.loads(response["body"]), dict)


@FUZZ
@given(body=st.one_of(st.text(max_size=200), st.builds(json.dumps, json_values)))
def test_http_routes_answer_json_errors_for_any_body(dynamodb, body):
    event = {"body": body, "requestContext": {"http": {"sourceIp": "192.0.2.9"}}}
    for handler in (http_auth.register, http_auth.login, http_auth.logout):
        response = handler(event, None)
        assert 400 <= response["statusCode"] < 500 or response["statusCode"] in (200, 201)
        assert isinstance(json.loads(response["body"]), dict)
