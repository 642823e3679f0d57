"""Abuse through the real local stack, as an attacker with a valid account would try it: too many
connections, floods spread over connections, join and history floods, room switching to amplify
presence, connecting while a logout runs, reconnecting for a fresh session limit, repeated sends,
and text that breaks frames. docs/reliability.md ("Abuse") lists each with the limit that stops it.

The stack here runs its functions' DynamoDB traffic through a gate (tests/integration/dynamo_gate.py)
that can hold one request back, to make a race happen on purpose; its rates are lower than the
defaults so that no test depends on how fast this machine is. Floods are sent one frame after the
answer to the previous one: a limit that holds for those holds for frames sent at once, and the
local stack starts a Python process per concurrent call (fifty at once on two cores time out).
"""

import json
import threading
import time
import uuid

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus

from devstack.local_stage import Ports
from devstack.stack import LocalStack
from tests.integration.conftest import Client, unique_name
from tests.integration.dynamo_gate import DynamoGate

GUEST_SESSION_LIMIT = 6
MESSAGE_BURST, MESSAGE_RATE = 10, 0.2
JOIN_BURST, JOIN_RATE = 5, 0.2
HISTORY_BURST, HISTORY_RATE = 10, 0.5
MAX_CONNECTIONS = 5  # the default
CONNECTIONS = "wschat-local-ActiveConnections"
MESSAGES = "wschat-local-MessageHistory"


@pytest.fixture(scope="module")
def gate_stack():
    ports = Ports.free()
    gate = DynamoGate(ports.ddb).start()
    local = LocalStack(ports=ports, data_dir=None, sweep_seconds=1, env={
        "WSCHAT_DDB_PORT": str(gate.port),  # the functions' DynamoDB endpoint: the gate
        "WSCHAT_GUEST_SESSION_LIMIT_SECONDS": str(GUEST_SESSION_LIMIT),
        "WSCHAT_MESSAGE_BURST": str(MESSAGE_BURST), "WSCHAT_MESSAGE_RATE": str(MESSAGE_RATE),
        "WSCHAT_JOIN_BURST": str(JOIN_BURST), "WSCHAT_JOIN_RATE": str(JOIN_RATE),
        "WSCHAT_HISTORY_BURST": str(HISTORY_BURST), "WSCHAT_HISTORY_RATE": str(HISTORY_RATE),
    })
    try:
        with local:
            yield local, gate
    finally:
        gate.release()
        gate.stop()


@pytest.fixture
def stack(gate_stack):
    return gate_stack[0]


@pytest.fixture
def gate(gate_stack):
    yield gate_stack[1]
    gate_stack[1].release()


@pytest.fixture
def clients():
    opened = []
    yield opened
    for c in opened:
        try:
            c.close()
        except Exception:
            pass


def register(stack) -> dict:
    response = requests.post(f"{stack.http_url}/register",
                             json={"username": unique_name(), "password": "abuse-pw-123"}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def guest(stack) -> dict:
    response = requests.post(f"{stack.http_url}/guest", timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def open_client(stack, clients, token, room=None) -> Client:
    c = Client(stack, token, room)
    clients.append(c)
    return c


def ask(c: Client, frame: dict | str, types=("message", "error"), timeout=20) -> dict:
    """Send a frame and return the answer: the next frame of one of `types`."""
    c.send(frame)
    deadline = time.monotonic() + timeout
    while True:
        answer = c.recv(max(0.1, deadline - time.monotonic()))
        if answer["type"] in types:
            return answer


def refused_status(stack, token) -> int | None:
    """The HTTP status a new connection with `token` is refused with; None if it was accepted (and closed)."""
    try:
        Client(stack, token).close()
    except InvalidStatus as refused:
        return refused.response.status_code
    return None


def assert_rate_limited(frame: dict) -> None:
    assert frame["type"] == "error" and frame["code"] == "rate_limited", frame
    assert isinstance(frame["retryAfterMs"], int) and frame["retryAfterMs"] > 0, frame


# -- connections and floods ----------------------------------------------------------------------


def test_a_sixth_connection_of_one_user_is_refused_until_one_closes(stack, clients):
    user = register(stack)
    opened = [open_client(stack, clients, user["token"]) for _ in range(MAX_CONNECTIONS)]
    for c in opened:
        c.join()
    with pytest.raises(InvalidStatus) as refused:
        open_client(stack, clients, user["token"])
    assert refused.value.response.status_code == 429
    opened[0].close()
    # Its $disconnect frees the place (it runs after the close, so allow it a moment).
    deadline = time.monotonic() + 15
    while True:
        try:
            assert ask(open_client(stack, clients, user["token"]), {"action": "heartbeat"}, ("heartbeat",))
            break
        except InvalidStatus as again:
            assert again.response.status_code == 429
            assert time.monotonic() < deadline, "a closed connection still counted"
            time.sleep(0.5)
    # Another user is not affected by this one's connections.
    open_client(stack, clients, register(stack)["token"]).join()


def test_connections_that_died_without_a_disconnect_do_not_count(stack, clients):
    user = register(stack)
    name = user["user"]["username"]
    ddb = stack.dynamodb()
    now = int(time.time())
    ghosts = [f"ghost-{uuid.uuid4().hex[:8]}" for _ in range(MAX_CONNECTIONS)]
    for ghost in ghosts:  # rows whose $disconnect was lost: API Gateway answers 410 for them
        ddb.put_item(TableName=CONNECTIONS, Item={
            "connectionId": {"S": ghost}, "username": {"S": name}, "guest": {"BOOL": False},
            "room": {"S": unique_name("room")}, "connectedAt": {"N": str((now - 60) * 1000)},
            "expiresAt": {"N": str(now + 600)}, "deadline": {"N": str(now + 600)}, "sweepShard": {"S": "0"},
        })
    open_client(stack, clients, user["token"]).join()
    left = [g for g in ghosts if "Item" in ddb.get_item(TableName=CONNECTIONS, Key={"connectionId": {"S": g}})]
    assert left == []


def test_one_message_budget_per_user_across_all_connections(stack, clients):
    user = register(stack)
    # Each connection in a room of its own, so that each sees only its own echoes.
    opened = [open_client(stack, clients, user["token"], unique_name("room")) for _ in range(MAX_CONNECTIONS)]
    for c in opened:
        c.join()
    started = time.monotonic()
    replies = [ask(c, {"action": "sendmessage", "message": f"flood {k} {n}", "clientMsgId": f"f-{k}-{n}"})
               for n in range(4) for k, c in enumerate(opened)]
    elapsed = time.monotonic() - started
    accepted = [f for f in replies if f["type"] == "message"]
    for frame in replies:
        if frame["type"] == "error":
            assert_rate_limited(frame)
    # Per-connection budgets let all 20 through (each connection sent 4 of its 10).
    assert 1 <= len(accepted) <= MESSAGE_BURST + MESSAGE_RATE * elapsed + 1
    stored = 0
    for c in opened:
        c.send({"action": "history", "limit": 100})
        stored += len(c.next("history")["messages"])
    assert stored == len(accepted)


def log_lines(stack):
    for path in stack.log_dir.glob(f"*-{stack.ports.ws}.log"):
        for line in path.read_text(errors="replace").splitlines():
            start = line.find("{")
            if start < 0:
                continue
            try:
                yield json.loads(line[start:])
            except ValueError:
                continue


def test_a_refused_message_reads_only_its_row_and_budget(stack, clients):
    user = register(stack)
    name = user["user"]["username"]
    c = open_client(stack, clients, user["token"], unique_name("room"))
    c.join()
    replies = [ask(c, {"action": "sendmessage", "message": f"m{n}"}) for n in range(MESSAGE_BURST + 5)]
    refused = [f for f in replies if f["type"] == "error"]
    assert refused
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in log_lines(stack)
                 if line.get("route") == "sendmessage" and line.get("username") == name
                 and line.get("code") == "rate_limited"]
        if len(lines) >= len(refused) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(lines) == len(refused)
    # One read of two items (the connection's row and the sender's budget), never the room's
    # member list (that nothing is written: test_chat_messaging.py's refused-message test).
    assert [line["itemsRead"] for line in lines] == [2] * len(lines)


def test_joins_and_history_requests_are_limited_per_user(stack, clients):
    user = register(stack)
    c = open_client(stack, clients, user["token"], unique_name("room"))
    started = time.monotonic()
    replies = [ask(c, {"action": "join"}, ("welcome", "error")) for _ in range(40)]
    elapsed = time.monotonic() - started
    welcomed = [f for f in replies if f["type"] == "welcome"]
    for frame in replies:
        if frame["type"] == "error":
            assert_rate_limited(frame)
    assert 1 <= len(welcomed) <= JOIN_BURST + JOIN_RATE * elapsed + 1
    started = time.monotonic()
    replies = [ask(c, {"action": "history", "limit": 5}, ("history", "error")) for _ in range(40)]
    elapsed = time.monotonic() - started
    pages = [f for f in replies if f["type"] == "history"]
    for frame in replies:
        if frame["type"] == "error":
            assert_rate_limited(frame)
    assert 1 <= len(pages) <= HISTORY_BURST + HISTORY_RATE * elapsed + 1


def test_room_switching_cannot_amplify_presence(stack, clients):
    x, y = unique_name("roomx"), unique_name("roomy")
    watcher_x = open_client(stack, clients, register(stack)["token"], x)
    watcher_x.join()
    watcher_y = open_client(stack, clients, register(stack)["token"], y)
    watcher_y.join()
    attacker = register(stack)
    name = attacker["user"]["username"]
    a = open_client(stack, clients, attacker["token"], x)
    watcher_x.next("presence", event="joined", user=name)
    for n in range(40):
        ask(a, {"action": "join", "room": y if n % 2 == 0 else x}, ("welcome", "error"))
    # Wait until nothing more comes (a coalesced change is settled by the sweep).
    seen = {}
    for label, watcher in (("x", watcher_x), ("y", watcher_y)):
        frames = watcher.nothing_more(8.0)
        seen[label] = [f for f in frames if f["type"] == "presence" and f["user"] == name]
    # Today: 20 frames to every member of each room (40 joins, each a `left` and a `joined`).
    assert len(seen["x"]) <= 6 and len(seen["y"]) <= 6, {k: [f["event"] for f in v] for k, v in seen.items()}


# -- revocation ------------------------------------------------------------------------------------


def test_a_connection_accepted_while_its_token_is_logged_out_is_closed(stack, gate, clients):
    user = register(stack)
    name = user["user"]["username"].encode()
    # Hold $connect's write of the connection row: the authorizer has already found the token valid.
    gate.hold(lambda head, body: b"PutItem" in head and CONNECTIONS.encode() in body and name in body)
    outcome = []

    def connect():
        try:
            outcome.append(Client(stack, user["token"]))
        except InvalidStatus as refused:
            outcome.append(refused.response.status_code)

    connecting = threading.Thread(target=connect)
    connecting.start()
    assert gate.held.wait(20), "the connect never wrote its row"
    logout = requests.post(f"{stack.http_url}/logout", headers={"Authorization": f"Bearer {user['token']}"}, timeout=30)
    assert logout.status_code == 200 and logout.json()["closed"] == 0  # nothing to close yet
    gate.release()
    connecting.join(30)
    (result,) = outcome
    if isinstance(result, int):
        assert result in (401, 403)  # refused: the connect saw the revocation
        return
    clients.append(result)
    # Accepted: it must not outlive the logout by more than a few seconds.
    frames, closed = [], False
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            result.send({"action": "heartbeat"})
            try:
                frames.append(result.recv(timeout=1))
            except TimeoutError:
                continue
    except ConnectionClosed:
        closed = True
    assert closed, f"a connection of the logged-out token was still open 10 s later; it saw {frames[-3:]}"
    assert {"type": "error", "code": "session_expired", "message": "logged out", "reason": "logged_out"} in frames


# -- session limits ----------------------------------------------------------------------------------


def test_the_session_limit_belongs_to_the_token_not_the_connection(stack, clients):
    token = guest(stack)["token"]
    first = open_client(stack, clients, token).join()
    assert first["sessionEndsAt"] is not None
    time.sleep(1.2)  # a second connection a second later: today it gets a later deadline
    second = open_client(stack, clients, token).join()
    assert second["sessionEndsAt"] == first["sessionEndsAt"]
    for c in clients:
        c.close()
    ends = time.mktime(time.strptime(first["sessionEndsAt"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    time.sleep(max(0.0, ends - time.time()) + 1)
    # After the deadline, a reconnect with the same token gets no fresh session.
    assert refused_status(stack, token) in (401, 403)


# -- repeated sends ------------------------------------------------------------------------------


def test_a_repeated_client_msg_id_is_stored_and_broadcast_once(stack, clients):
    room = unique_name("room")
    sender = register(stack)
    a = open_client(stack, clients, sender["token"], room)
    a.join()
    a2 = open_client(stack, clients, sender["token"], room)  # another tab of the same user
    a2.join()
    w = open_client(stack, clients, register(stack)["token"], room)
    w.join()
    a.send({"action": "sendmessage", "message": "only once", "clientMsgId": "dup-1"})
    original = a.next("message", clientMsgId="dup-1")
    a.send({"action": "sendmessage", "message": "only once", "clientMsgId": "dup-1"})
    assert a.next("message", clientMsgId="dup-1") == original
    a2.send({"action": "sendmessage", "message": "only once", "clientMsgId": "dup-1"})
    assert a2.next("message", clientMsgId="dup-1", id=original["id"]) == original  # its own echo of the first
    assert a2.next("message", clientMsgId="dup-1", timeout=5) == original  # the answer to its repeat
    got = [f for f in w.nothing_more(2.0) if f["type"] == "message"]
    assert got == [original]
    w.send({"action": "history"})
    assert w.next("history")["messages"] == [original]


# -- text ------------------------------------------------------------------------------------------


def test_a_lone_surrogate_is_refused_and_cannot_brick_a_room(stack, clients):
    room = unique_name("room")
    a = open_client(stack, clients, register(stack)["token"], room)
    a.join()
    # Valid JSON, not valid Unicode. Before the fix it was stored, its broadcast failed (`internal`),
    # and every later welcome and history of the room failed the same way.
    answer = ask(a, '{"action":"sendmessage","message":"broken \\ud800 text"}')
    assert (answer["type"], answer.get("code")) == ("error", "bad_request"), answer
    b = open_client(stack, clients, register(stack)["token"], room)
    welcome = ask(b, {"action": "join"}, ("welcome", "error"))
    assert (welcome["type"], welcome["history"]) == ("welcome", []), welcome


def test_a_room_already_holding_a_lone_surrogate_recovers(stack, clients):
    room = unique_name("room")
    stored_id = f"{int(time.time() * 1000):013d}abcdef"
    stack.dynamodb().put_item(TableName=MESSAGES, Item={
        "room": {"S": room}, "id": {"S": stored_id}, "sender": {"S": "someone"},
        "message": {"S": "stored before \ud800 the fix"}, "sentAt": {"S": "2026-11-26T00:00:00.000Z"},
        "clientMsgId": {"S": "old-\udc00"},
    })
    c = open_client(stack, clients, register(stack)["token"], room)
    welcome = ask(c, {"action": "join"}, ("welcome", "error"))  # before the fix: `internal`, for ever
    assert welcome["type"] == "welcome", welcome
    (message,) = welcome["history"]
    assert message["message"] == "stored before \ufffd the fix" and message["clientMsgId"] == "old-\ufffd"
    c.send({"action": "history"})
    assert c.next("history")["messages"] == [message]


@pytest.mark.parametrize("fields, code", [
    ({"message": "C1 control \u0085 here"}, "bad_request"),
    ({"message": "bidi isolate \u2066 here"}, "bad_request"),
    ({"message": "bidi override \u202e here"}, "bad_request"),
    ({"message": "\u200b\u2060\ufeff\u200b"}, "empty_message"),
    ({"message": " \u00ad\u200b \u3164 "}, "empty_message"),
    ({"message": "fine", "clientMsgId": "id-\ud800"}, "bad_request"),
    ({"message": "fine", "clientMsgId": "id-\u202e"}, "bad_request"),
])
def test_invisible_control_and_spoofing_text_is_refused(stack, clients, fields, code):
    c = open_client(stack, clients, register(stack)["token"], unique_name("room"))
    c.join()
    c.send(json.dumps({"action": "sendmessage", **fields}))  # ensure_ascii: escapes reach the server as sent
    assert c.next("error")["code"] == code
    c.send({"action": "history"})
    assert c.next("history")["messages"] == []
