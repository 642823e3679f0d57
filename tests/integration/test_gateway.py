"""API Gateway's limits, as the local stack's gateway (devstack/gateway.py) and sls offline's
timeouts enforce them: what a client or a function sees when it goes over one."""

import time

import boto3
import pytest
import requests
from websockets.exceptions import ConnectionClosed

from devstack.local_stage import LOCAL_CREDENTIALS, AwsLimits, Ports
from devstack.stack import LocalStack
from tests.integration.conftest import Client, unique_name

KB32 = 32 * 1024
KB128 = 128 * 1024


def closed_with(c: Client, timeout=30):
    """The close frame the server sent, once the connection is closed."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            c.recv(timeout=timeout)
    return closed.value.rcvd


def wait_gone(stack, connection_id, timeout=20):
    """Wait until $disconnect removed the connection's row (sls offline ran it after the close)."""
    ddb = stack.dynamodb()
    deadline = time.monotonic() + timeout
    while "Item" in ddb.get_item(TableName="wschat-local-ActiveConnections", Key={"connectionId": {"S": connection_id}}):
        assert time.monotonic() < deadline, "the closed connection's row is still there: no $disconnect"
        time.sleep(0.2)


# -- what a client sends ---------------------------------------------------------------------------


def test_a_client_frame_over_32_kb_closes_the_connection_with_1009(stack, register, client):
    c = client(register()["token"])
    connection_id = c.join()["connectionId"]
    # Over the chat's own 16 KiB but within API Gateway's 32 KB: the function answers it.
    c.send("x" * (KB32 - 100))
    assert c.next("error")["code"] == "too_large"
    c.send("x" * (KB32 + 1))
    close = closed_with(c)
    assert close.code == 1009
    wait_gone(stack, connection_id)


def test_a_fragmented_message_may_pass_32_kb_but_not_128_kb(stack, register, client):
    c = client(register()["token"])
    c.join()
    c.ws.send(["x" * 30_000] * 3)  # three frames of 30 KB: one 90 KB message, as API Gateway allows
    assert c.next("error")["code"] == "too_large"  # the chat's own 16 KiB limit
    try:
        c.ws.send(["x" * 30_000] * 5)  # 150 KB
    except ConnectionClosed:
        pass  # the gateway may close before the last fragment is out: the client then sees it while sending
    assert closed_with(c).code == 1009


# -- what a function posts -------------------------------------------------------------------------


def management_api(stack):
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=stack.management_url, region_name=LOCAL_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def test_a_post_over_128_kb_is_refused_with_413_and_never_delivered(stack, register, client):
    c = client(register()["token"])
    connection_id = c.join()["connectionId"]
    url = f"{stack.management_url}/@connections/{connection_id}"

    refused = requests.post(url, data=b"x" * (KB128 + 1), timeout=30)  # unsigned, as locally
    assert refused.status_code == 413
    assert refused.headers["x-amzn-ErrorType"] == "PayloadTooLargeException"
    api = management_api(stack)  # signed, as on AWS: boto3 reads the answer as API Gateway's
    with pytest.raises(api.exceptions.PayloadTooLargeException):
        api.post_to_connection(ConnectionId=connection_id, Data=b"y" * 200_000)

    # At the limit it arrives, in frames of at most 32 KB as API Gateway sends it.
    text = "\u00e9" * (KB128 // 2)  # 128 KB of 2-byte characters: no frame may split one
    assert requests.post(url, data=text.encode(), timeout=30).status_code in (200, 204)
    pieces = list(c.ws.recv_streaming(decode=False))
    assert b"".join(pieces).decode() == text
    assert len([piece for piece in pieces if piece]) == 4 and all(len(piece) <= KB32 for piece in pieces)
    c.send({"action": "heartbeat"})  # nothing else arrived, and the connection is fine
    assert c.recv()["type"] == "heartbeat"


def test_the_gateway_passes_on_the_management_apis_other_answers(stack, register, client):
    c = client(register()["token"])
    connection_id = c.join()["connectionId"]
    # sls offline's 410 has no GoneException type (boto3 reads it as code "410"); the sender goes by status.
    gone = requests.post(f"{stack.management_url}/@connections/no-such-connection", data=b"{}", timeout=30)
    assert gone.status_code == 410
    management_api(stack).delete_connection(ConnectionId=connection_id)
    closed_with(c)
    wait_gone(stack, connection_id)


# -- idle and hard timeouts, shortened ----------------------------------------------------------------

# The busy test's heartbeats, a second apart, must each come back within IDLE even on a loaded
# machine; HARD well past IDLE, so that the busy connection outlives the idle one's end.
IDLE, HARD = 6, 12


@pytest.fixture(scope="module")
def quick_stack():
    local = LocalStack(ports=Ports.free(), aws_limits=AwsLimits(idle_timeout_seconds=IDLE, hard_timeout_seconds=HARD))
    with local:
        yield local


def guest(stack):
    return requests.post(f"{stack.http_url}/guest", timeout=30).json()["token"]


def test_an_idle_connection_is_closed_going_away(quick_stack):
    c = Client(quick_stack, guest(quick_stack), unique_name("room"))
    connection_id = c.join()["connectionId"]
    close = closed_with(c, timeout=IDLE * 10)  # the client sends nothing more
    assert (close.code, close.reason) == (1001, "Going away")
    wait_gone(quick_stack, connection_id)


def test_a_busy_connection_is_still_closed_at_the_hard_timeout(quick_stack):
    token = guest(quick_stack)
    started = time.monotonic()
    c = Client(quick_stack, token, unique_name("room"))
    connection_id = c.join()["connectionId"]
    with pytest.raises(ConnectionClosed) as closed:
        while True:  # a heartbeat a second: never idle
            c.send({"action": "heartbeat"})
            c.next("heartbeat", timeout=HARD * 3)
            time.sleep(1)
    assert closed.value.rcvd.code == 1001
    # It lived past the idle timeout, to the hard one (a lower bound: a slow machine only adds to it).
    assert time.monotonic() - started >= HARD
    wait_gone(quick_stack, connection_id)
