"""The chat through the real local stack: HTTP API, authorizer, WebSocket routes, DynamoDB Local."""

import json
import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus

from handler import protocol
from handler.protocol import is_message_id
from tests.integration.conftest import GUEST_SESSION_LIMIT, Client, unique_name


def room():
    return unique_name("room")


def test_register_login_and_errors_over_http(stack):
    name = unique_name()
    url = stack.http_url
    assert requests.post(f"{url}/register", json={"username": name, "password": "pw-12345678"}).status_code == 201
    assert requests.post(f"{url}/register", json={"username": name, "password": "pw-12345678"}).status_code == 409
    ok = requests.post(f"{url}/login", json={"username": name, "password": "pw-12345678"})
    assert ok.status_code == 200 and ok.json()["user"]["username"] == name
    bad = requests.post(f"{url}/login", json={"username": name, "password": "nope-nope"})
    assert bad.status_code == 401 and bad.json() == {"error": "invalid username or password"}
    garbage = requests.post(f"{url}/login", data="{not json", headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400 and "JSON" in garbage.json()["error"]


@pytest.mark.parametrize("token", ["", "garbage", "Bearer x.y.z"])
def test_connect_without_a_valid_token_is_refused(stack, token):
    with pytest.raises(InvalidStatus) as refused:
        Client(stack, token, bearer=False)
    assert refused.value.response.status_code in (401, 403)


def test_connect_with_a_token_with_or_without_bearer(stack, register, client):
    user = register()
    for bearer in (True, False):
        c = client(user["token"], bearer=bearer)
        assert c.join()["user"] == user["user"]["username"]


def test_three_clients_two_rooms(stack, register, client):
    r1, r2 = room(), room()
    alice, bob, carol = register(), register(), register()
    a = client(alice["token"], r1)
    b = client(bob["token"], r1)
    c = client(carol["token"], r2)
    for member in (a, b, c):
        member.join()
    a.send({"action": "sendmessage", "message": "hello r1", "clientMsgId": "cm-1"})
    got_a = a.next("message")
    got_b = b.next("message")
    assert got_a == got_b
    assert got_a["sender"] == alice["user"]["username"] and got_a["room"] == r1 and got_a["clientMsgId"] == "cm-1"
    assert is_message_id(got_a["id"]) and got_a["sentAt"].endswith("Z")
    assert [f for f in c.nothing_more(1.0) if f["type"] == "message"] == []


def test_a_body_cannot_claim_another_sender(stack, register, client):
    r = room()
    mallory, victim = register(), register()
    m = client(mallory["token"], r)
    m.join()
    m.send({"action": "sendmessage", "message": "I am someone else", "sender": victim["user"]["username"],
            "username": victim["user"]["username"]})
    assert m.next("message")["sender"] == mallory["user"]["username"]


def test_presence_join_switch_and_leave(stack, register, client):
    r1, r2 = room(), room()
    alice, bob = register(), register()
    a = client(alice["token"], r1)
    a.join()
    b = client(bob["token"], r1)
    joined = a.next("presence", event="joined")
    assert joined["user"] == bob["user"]["username"]
    assert joined["online"] == sorted([alice["user"]["username"], bob["user"]["username"]])
    welcome = b.join(r2)
    assert welcome["room"] == r2 and welcome["online"] == [bob["user"]["username"]]
    # A room switch changes nobody's presence (the team's, issue 19): no left, no joined.
    b.join(r1)
    assert [f for f in a.nothing_more(1.0) if f["type"] == "presence"] == []
    b.close()
    assert a.next("presence", event="left")["online"] == [alice["user"]["username"]]


def test_history_on_join_and_after(stack, register, client):
    r = room()
    alice, bob = register(), register()
    a = client(alice["token"], r)
    a.join()
    ids = []
    for n in range(5):
        a.send({"action": "sendmessage", "message": f"m{n}"})
        ids.append(a.next("message")["id"])
    assert ids == sorted(ids)
    b = client(bob["token"], r)
    welcome = b.join()
    assert [m["message"] for m in welcome["history"]] == [f"m{n}" for n in range(5)]
    b.send({"action": "history", "after": ids[2]})
    page = b.next("history")
    assert [m["message"] for m in page["messages"]] == ["m3", "m4"] and page["hasMore"] is False
    b.send({"action": "history", "before": ids[2], "limit": 1})
    page = b.next("history")
    assert [m["message"] for m in page["messages"]] == ["m1"] and page["hasMore"] is True


def test_reconnect_fetches_what_was_missed(stack, register, client):
    r = room()
    alice, bob = register(), register()
    a = client(alice["token"], r)
    a.join()
    b = client(bob["token"], r)
    b.join()
    a.send({"action": "sendmessage", "message": "before"})
    last_seen = b.next("message")["id"]
    b.close()
    for text in ("while away 1", "while away 2"):
        a.send({"action": "sendmessage", "message": text})
        a.next("message", message=text)  # frames may be handled concurrently: wait for the echo to keep order
    b2 = client(bob["token"], r)
    b2.join()
    b2.send({"action": "history", "after": last_seen})
    assert [m["message"] for m in b2.next("history")["messages"]] == ["while away 1", "while away 2"]


def test_heartbeat(stack, register, client):
    c = client(register()["token"])
    c.send({"action": "heartbeat"})
    assert c.next("heartbeat")["serverTime"].endswith("Z")


@pytest.mark.parametrize("frame, code, action", [
    ("not json at all", "bad_request", None),
    ('{"no":"action"}', "bad_request", None),
    ('{"action":"teleport"}', "unknown_action", None),  # an unknown action is not echoed back
    ('{"action":"sendmessage","message":""}', "empty_message", "sendmessage"),
    ('{"action":"sendmessage","message":5}', "bad_request", "sendmessage"),
    (json.dumps({"action": "sendmessage", "message": "x" * 2001}), "too_large", "sendmessage"),
    ('{"action":"join","room":"no spaces"}', "invalid_room", "join"),
    ('{"action":"history","limit":"lots"}', "bad_request", "history"),
])
def test_malformed_input_gets_an_error_and_the_connection_stays_open(stack, register, client, frame, code, action):
    c = client(register()["token"])
    c.join()
    c.send(frame)
    error = c.next("error")
    assert error["code"] == code and error["message"]
    assert error.get("action") == action
    c.send({"action": "heartbeat"})
    assert c.next("heartbeat")


def test_disconnect_cleanup_and_session_history(stack, register, client):
    user = register()
    c = client(user["token"])
    connection_id = c.join()["connectionId"]
    c.close()
    ddb = stack.dynamodb()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        session = ddb.get_item(TableName="wschat-local-SessionHistory", Key={"connectionId": {"S": connection_id}})["Item"]
        if "disconnectedAt" in session:
            break
        time.sleep(0.2)
    assert session["username"]["S"] == user["user"]["username"]
    assert session["room"]["S"] == "general" and session["sourceIp"]["S"] == "127.0.0.1"
    assert "websockets" in session["userAgent"]["S"]
    assert int(session["durationSeconds"]["N"]) >= 0 and session["reason"]["S"] == "client closed"
    assert "Item" not in ddb.get_item(TableName="wschat-local-ActiveConnections", Key={"connectionId": {"S": connection_id}})


def test_guest_session_limit_is_enforced_by_the_server_without_any_frame_from_the_client(stack, client):
    guest = requests.post(f"{stack.http_url}/guest", timeout=30).json()
    assert guest["user"]["guest"] is True and guest["user"]["sessionLimitSeconds"] == GUEST_SESSION_LIMIT
    g = client(guest["token"])
    welcome = g.join()
    assert welcome["sessionEndsAt"] is not None
    # The sweep (every second here, every minute on AWS) closes it: the client sends nothing.
    error = g.next("error", timeout=GUEST_SESSION_LIMIT + 10)
    assert error == {"type": "error", "code": "session_expired", "message": "session limit reached", "reason": "session_limit"}
    with pytest.raises(ConnectionClosed):
        g.recv(timeout=10)
    session = stack.dynamodb().get_item(TableName="wschat-local-SessionHistory",
                                        Key={"connectionId": {"S": welcome["connectionId"]}})["Item"]
    assert session["reason"]["S"] == "session limit reached"


def test_messages_over_the_rate_limit_are_refused(stack, register, client):
    c = client(register()["token"], room())
    c.join()
    started = time.monotonic()
    codes = []
    # In waves of 5, each sent at once: well over the budget, and never more than 5 calls in
    # flight. Thirty at once made sls offline cold-start a Python process for nearly every one;
    # on a loaded 2-core machine one of them then ran past the function's timeout, and sls
    # offline's pool kept the timed-out process, so every later call to it hung (a whole
    # make test lost to one test; AWS would start 30 sandboxes in parallel instead).
    for wave in range(6):
        for n in range(5):
            c.send({"action": "sendmessage", "message": f"flood {wave * 5 + n}"})
        for _ in range(5):
            frame = c.recv(timeout=60)
            while frame.get("type") not in ("message", "error"):
                assert "type" in frame, frame  # sls offline's "Internal server error": a call failed
                frame = c.recv(timeout=60)
            codes.append(frame.get("code", "ok"))
    elapsed = time.monotonic() - started
    # A burst of 10, then 2 a second: the rest are refused.
    assert 1 <= codes.count("ok") <= 10 + 2 * elapsed + 1
    assert codes.count("rate_limited") == 30 - codes.count("ok")
    c.send({"action": "history", "limit": 100})
    stored = c.next("history")["messages"]
    assert len(stored) == codes.count("ok")  # refused messages were not stored


def test_logout_revokes_the_token_everywhere(stack, register, client):
    user = register()
    c = client(user["token"], room())
    c.join()
    response = requests.post(f"{stack.http_url}/logout", headers={"Authorization": f"Bearer {user['token']}"}, timeout=30)
    assert response.status_code == 200 and response.json()["closed"] == 1
    assert c.next("error") == {"type": "error", "code": "session_expired", "message": "logged out", "reason": "logged_out"}
    with pytest.raises(ConnectionClosed):
        c.recv(timeout=10)
    with pytest.raises(InvalidStatus) as refused:
        Client(stack, user["token"])
    assert refused.value.response.status_code == 403


def test_failed_logins_make_that_address_wait_for_that_name(stack):
    name = unique_name()
    url = stack.http_url
    requests.post(f"{url}/register", json={"username": name, "password": "right-password"}, timeout=30)
    for _ in range(3):
        assert requests.post(f"{url}/login", json={"username": name, "password": "wrong-guess"}).status_code == 401
    held = requests.post(f"{url}/login", json={"username": name, "password": "right-password"})
    assert held.status_code == 429 and 0 < int(held.headers["Retry-After"]) <= 900
    # (tests/integration/test_logins.py: other addresses, the owner's, and the rest of the policy)


EMOJI = "\U0001F600"
# The largest messages there can be: the most UTF-8 bytes (1,000 emoji), and the most JSON (quotes
# cost 2 bytes once escaped): both at protocol.MESSAGE_MAX_BYTES or just under.
FLOOD_TEXTS = (EMOJI * 1000, '"' * 1333 + EMOJI * 666)
API_GATEWAY_POST_MAX = 128 * 1024


def send_until_stored(c, text, client_msg_id):
    """Send and wait for the echo; a rate-limited message is sent again once the limit allows."""
    while True:
        c.send({"action": "sendmessage", "message": text, "clientMsgId": client_msg_id})
        frame = c.recv(timeout=30)
        while not (frame["type"] == "error" or frame.get("clientMsgId") == client_msg_id):
            frame = c.recv(timeout=30)
        if frame["type"] != "error":
            return frame["id"]
        assert frame["code"] == "rate_limited", frame
        time.sleep(0.6)


def test_a_flood_of_the_largest_messages_leaves_the_room_joinable_and_all_of_it_reachable(stack, register, client):
    r = room()
    user = register()
    sent = []
    for sender in range(6):  # each connection has its own burst of 10
        c = client(user["token"], r)
        c.join()
        for n in range(10):
            sent.append(send_until_stored(c, FLOOD_TEXTS[n % 2], f"flood-{sender}-{n}"))
        c.close()
    assert len(sent) == 60 and sent == sorted(sent)

    reader = client(register()["token"], r)
    welcome = reader.join()
    sizes = {"welcome": reader.size_of(welcome)}
    assert sizes["welcome"] <= protocol.FRAME_BUDGET_BYTES < API_GATEWAY_POST_MAX
    assert welcome["hasMore"] is True and 0 < len(welcome["history"]) < protocol.HISTORY_ON_JOIN
    assert all(m["message"] in FLOOD_TEXTS for m in welcome["history"])

    def page(**query):
        reader.send({"action": "history", "limit": protocol.HISTORY_MAX_LIMIT, **query})
        frame = reader.next("history", timeout=30)
        size = reader.size_of(frame)
        sizes["history"] = max(sizes.get("history", 0), size)
        assert size <= protocol.FRAME_BUDGET_BYTES
        return frame

    # Back from the welcome with `before`, as the page's "load older" does, until nothing is left.
    seen, frame, pages = [m["id"] for m in welcome["history"]], welcome, 0
    while frame["hasMore"]:
        frame = page(before=seen[0])
        seen = [m["id"] for m in frame["messages"]] + seen
        pages += 1
    assert seen == sent and pages >= 2
    # Forward from the start with `after`, as a catch-up does.
    seen, frame = [], {"hasMore": True}
    while frame["hasMore"]:
        frame = page(after=seen[-1] if seen else protocol.message_id_at(0))
        seen += [m["id"] for m in frame["messages"]]
    assert seen == sent
    print(f"\nflood of {len(sent)}: welcome {sizes['welcome']} bytes with {len(welcome['history'])} messages, "
          f"largest history page {sizes['history']} bytes")
