"""Faults through the real local stack: DynamoDB down and back, a client that vanished, and
secrets kept out of every log line."""

import time
import uuid

import pytest
import requests

from devstack.local_stage import Ports
from devstack.stack import LocalStack
from tests.integration.conftest import Client, unique_name


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    # On disk, so that the data survives DynamoDB Local's restart.
    local = LocalStack(ports=Ports.free(), data_dir=tmp_path_factory.mktemp("ddb"))
    with local:
        yield local


def register(stack):
    name = unique_name()
    response = requests.post(f"{stack.http_url}/register", json={"username": name, "password": "fault-pw-123"}, timeout=30)
    assert response.status_code == 201
    return response.json()


def test_dynamodb_down_gives_a_clear_error_and_service_resumes_without_restarting(fault_stack):
    user = register(fault_stack)
    c = Client(fault_stack, user["token"], "faults")
    c.join()
    c.send({"action": "sendmessage", "message": "before"})
    assert c.next("message")["message"] == "before"

    fault_stack.stop_dynamodb()
    started = time.monotonic()
    c.send({"action": "sendmessage", "message": "while down"})
    error = c.next("error", timeout=20)
    assert error == {"type": "error", "code": "unavailable", "message": "the chat store is unavailable; try again",
                     "action": "sendmessage"}
    assert time.monotonic() - started < 15  # a clear answer, not a hang
    c.send({"action": "heartbeat"})  # what needs no database still works
    assert c.next("heartbeat")
    login = requests.post(f"{fault_stack.http_url}/login", json={"username": "nobody1", "password": "whatever1"}, timeout=30)
    assert login.status_code == 503 and "unavailable" in login.json()["error"]

    fault_stack.start_dynamodb()  # same port, same data; sls offline keeps running
    deadline = time.monotonic() + 30
    while True:
        c.send({"action": "sendmessage", "message": "after"})
        frame = c.recv(timeout=20)
        while frame["type"] not in ("message", "error"):
            frame = c.recv(timeout=20)
        if frame["type"] == "message":
            break
        assert time.monotonic() < deadline, frame
        time.sleep(1)
    c.send({"action": "history", "limit": 10})
    texts = [m["message"] for m in c.next("history")["messages"]]
    assert texts[0] == "before" and texts[-1] == "after" and "while down" not in texts
    c.close()


def test_a_vanished_client_is_removed_on_the_next_send(fault_stack):
    user = register(fault_stack)
    room = unique_name("room")
    c = Client(fault_stack, user["token"], room)
    c.join()
    # A connection whose $disconnect never came: its row is there, API Gateway no longer knows it.
    ddb = fault_stack.dynamodb()
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    old = int(time.time() * 1000) - 60_000
    ddb.put_item(TableName="wschat-local-ActiveConnections", Item={
        "connectionId": {"S": ghost}, "username": {"S": "ghostuser"}, "guest": {"BOOL": False}, "room": {"S": room},
        "connectedAt": {"N": str(old)}, "expiresAt": {"N": str(int(time.time()) + 600)},
        "deadline": {"N": str(int(time.time()) + 600)}, "sweepShard": {"S": "0"},
    })
    ddb.put_item(TableName="wschat-local-SessionHistory", Item={
        "connectionId": {"S": ghost}, "username": {"S": "ghostuser"}, "connectedAt": {"S": "2026-01-01T00:00:00.000Z"},
        "connectedAtEpoch": {"N": str(old // 1000)},
    })
    c.send({"action": "sendmessage", "message": "anyone there?"})
    assert c.next("message")["message"] == "anyone there?"
    deadline = time.monotonic() + 10
    while "Item" in ddb.get_item(TableName="wschat-local-ActiveConnections", Key={"connectionId": {"S": ghost}}):
        assert time.monotonic() < deadline, "the vanished connection was not removed"
        time.sleep(0.2)
    # The session is closed by a separate update that may land after the row's deletion: wait for it.
    deadline = time.monotonic() + 10
    while True:
        session = ddb.get_item(TableName="wschat-local-SessionHistory", Key={"connectionId": {"S": ghost}},
                               ConsistentRead=True)["Item"]
        if "reason" in session:
            break
        assert time.monotonic() < deadline, f"the vanished connection's session was not closed: {session}"
        time.sleep(0.2)
    assert session["reason"]["S"] == "gone" and int(session["durationSeconds"]["N"]) >= 59
    c.close()


def test_no_token_or_password_reaches_any_log(fault_stack):
    name, password = unique_name(), f"pw-{uuid.uuid4().hex}"
    url = fault_stack.http_url
    token = requests.post(f"{url}/register", json={"username": name, "password": password}, timeout=30).json()["token"]
    token = requests.post(f"{url}/login", json={"username": name, "password": password}, timeout=30).json()["token"]
    requests.post(f"{url}/login", json={"username": name, "password": password + "x"}, timeout=30)
    c = Client(fault_stack, token, "secrets")
    c.join()
    c.send({"action": "sendmessage", "message": f"my password is not {password[:6]}"})
    c.next("message")
    requests.post(f"{url}/logout", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    time.sleep(1)
    logs = "".join(path.read_text(errors="replace") for path in fault_stack.log_dir.glob(f"*-{fault_stack.ports.ws}.log"))
    assert name in logs  # the session was logged...
    signature = token.rsplit(".", 1)[1]
    for secret in (password, token, signature, token.split(".")[1]):
        assert secret not in logs  # ...without a password, a token, or any part of one
    assert "my password is not" not in logs  # nor message bodies
