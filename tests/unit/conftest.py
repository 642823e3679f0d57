"""Unit-test fixtures: moto's DynamoDB built from the stack files (once per session: each test gets
a fresh moto world holding a copy of the empty tables), a fake management API behind the transport,
the App built from both, event factories, the rooms and moderation services' helpers; IAM enforced
as on AWS.

IAM: every entry point runs as its own function (tests/iam_harness.py wraps them when this file is
imported), and every App checks each AWS call against that function's role in the stack files
(WSCHAT_ENFORCE_IAM and a policy file for this stage, written once per session). A test in which
any call was refused fails at teardown, naming the call, unless it asks for `iam_calls` (then it
checks them itself)."""

import copy
import json
import time
import urllib.parse
from pathlib import Path

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

import local_iam as iam
from devstack.tables import create_tables
from handler import app
from handler.app import App
from handler.auth import passwords
from handler.settings import Settings
from handler.transport import Response
from stackfiles.cloudformation import Where
from tests import iam_harness
from tests.gateway_model import answer_to_asker

EVENTS = Path(__file__).resolve().parent.parent / "events"
STAGE = "test"
SECRET = "unit-test-secret-that-is-long-enough-for-hs256-0123456789"
# The @connections endpoint handlers derive from the saved events' apiId, the region and the stage.
ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/test"
# Where the roles' ARNs point: moto's account, the saved events' API id.
IAM_WHERE = Where(region="us-east-1", account="123456789012", websocket_api="abc123")

iam_harness.wrap_entry_points()


def load_event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture(scope="session")
def iam_policy_file(tmp_path_factory) -> Path:
    return iam_harness.write_policy(tmp_path_factory.mktemp("iam") / f"policy-{STAGE}.json", STAGE, IAM_WHERE)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, iam_policy_file):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    for key, value in {
        "WSCHAT_ENFORCE_IAM": "true", "WSCHAT_IAM_POLICY_FILE": str(iam_policy_file),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "WSCHAT_STAGE": STAGE, "WSCHAT_JWT_SECRET": SECRET,
        "WSCHAT_DDB_ENDPOINT": "", "WSCHAT_MANAGEMENT_ENDPOINT": "", "WSCHAT_DDB_CLIENT": "boto3",
        # The endpoint of the stage's API for functions with no WebSocket event (sweep, logout).
        "WSCHAT_WS_API_URL": ENDPOINT,
        "WSCHAT_CONNECTIONS_TABLE": f"wschat-{STAGE}-ActiveConnections",
        "WSCHAT_SESSIONS_TABLE": f"wschat-{STAGE}-SessionHistory",
        "WSCHAT_MESSAGES_TABLE": f"wschat-{STAGE}-MessageHistory",
        "WSCHAT_USERS_TABLE": f"wschat-{STAGE}-Users",
        "WSCHAT_LIMITS_TABLE": f"wschat-{STAGE}-Limits",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("WSCHAT_ALLOW_REGISTRATION", "WSCHAT_ALLOW_GUESTS", "WSCHAT_TOKEN_TTL_SECONDS",
                "WSCHAT_GUEST_SESSION_LIMIT_SECONDS", "WSCHAT_MEMBER_SESSION_LIMIT_SECONDS", "WSCHAT_FANOUT_FUNCTION",
                "WSCHAT_LAMBDA_ENDPOINT", "WSCHAT_FANOUT_BATCH_SIZE", "WSCHAT_MESSAGE_BURST", "WSCHAT_MESSAGE_RATE",
                "WSCHAT_LOGIN_MAX_FAILURES", "WSCHAT_REGISTRATIONS_PER_IP", "WSCHAT_PRESENCE_MAX_ROOM",
                "WSCHAT_JOIN_BURST", "WSCHAT_JOIN_RATE", "WSCHAT_HISTORY_BURST", "WSCHAT_HISTORY_RATE",
                "WSCHAT_PRESENCE_BURST", "WSCHAT_PRESENCE_RATE", "WSCHAT_MAX_CONNECTIONS_PER_USER",
                "WSCHAT_CLIENT_MSG_ID_SECONDS"):
        monkeypatch.delenv(key, raising=False)
    app.install(None)
    _fakes.clear()
    yield
    app.install(None)
    _fakes.clear()


_claimed: dict = {}


@pytest.fixture(autouse=True)
def iam_watch():
    """Fail the test if the harness refused a call its test did not expect (see iam_calls)."""
    recorder = iam_harness.Recorder()
    _claimed.clear()
    with iam.observe(recorder):
        _claimed["recorder"] = recorder
        yield recorder
    denied = recorder.denied()
    if denied and not _claimed.get("claimed"):
        lines = "\n".join(f"  {c.function}: {c.action} on {c.resource}" for c in dict.fromkeys(denied))
        pytest.fail(f"IAM refused calls the function's role does not grant (infra/roles.yml):\n{lines}")


@pytest.fixture
def iam_calls(iam_watch) -> iam_harness.Recorder:
    """The calls the harness checked in this test (`.denied()` the refused ones); asking for it
    means the test checks refusals itself."""
    _claimed["claimed"] = True
    return iam_watch


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """scrypt at its real cost (N=2^17, about 0.4-0.8 s a hash here) only where the cost is the
    subject (tests/unit/test_passwords.py asks for `real_password_cost`); elsewhere N=2^10."""
    monkeypatch.setattr(passwords, "N", 2**10)


# What the current test's App was built with, so that reinstall_app() keeps them.
_fakes: dict = {}


def install_app(**clients) -> App:
    """Build the App from the environment as it is now, with these clients, and make it the process's."""
    _fakes.update(clients)
    instance = App(Settings.from_env(), **{key: value for key, value in _fakes.items() if value is not None})
    app.install(instance)
    return instance


def through_gateway(entry, event: dict) -> dict:
    """Call a route's entry point as API Gateway does: a two-way route's answer reaches its asker,
    so the fake @connections API records it beside the posts (tests/gateway_model.py)."""
    response = entry(event)
    answer = answer_to_asker(event, response)
    if answer is not None:
        _fakes["transport"].received(*answer)
    return response


def heard(chat, connection_id: str, frame: dict) -> dict:
    """A Chat call's answer (what a two-way route returns) as its asker receives it."""
    return chat.sender.transport.received(connection_id, frame)


def reinstall_app(**clients) -> App:
    """After a test changed the environment: the same fakes, settings read again."""
    return install_app(**clients)


@pytest.fixture(scope="session")
def dynamodb_client():
    """One boto3 client for every test: making one costs about 0.1 s, and moto answers it whenever a
    mock is active (its hook is on every client)."""
    return boto3.client("dynamodb", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session")
def empty_tables(dynamodb_client) -> dict:
    """The stack's tables as moto holds them right after their creation, built once: creating them
    from the stack files costs about 0.3 s, and most tests need them."""
    with mock_aws():
        create_tables(dynamodb_client, STAGE)
        return copy.deepcopy(_moto_tables())


def _moto_tables() -> dict:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables


@pytest.fixture
def dynamodb(dynamodb_client, empty_tables):
    """A fresh moto world per test (every service's state reset, as mock_aws does) holding a copy of
    the empty tables: each test starts from tables with no item, whatever the previous one wrote."""
    with mock_aws():
        _moto_tables().update(copy.deepcopy(empty_tables))
        _fakes["dynamodb"] = dynamodb_client
        yield dynamodb_client


class FakeManagementApi:
    """Stands in for API Gateway's @connections API behind the transport: records posts, answers
    410 for gone ids and 500 for broken ones, and 413 for a post over 128 KB as API Gateway does;
    a DELETE closes (and so gones) the connection."""

    # API Gateway's message payload quota; a test may lower it to provoke a 413.
    post_max_bytes = 128 * 1024

    def __init__(self):
        self.posts: dict[str, list[dict]] = {}
        self.gone: set[str] = set()
        self.broken: set[str] = set()
        self.closed: list[str] = []
        self.refused: list[tuple[str, int]] = []  # (connection id, bytes) of posts refused with 413
        self.region = "us-east-1"
        self.calls = 0

    def request(self, service, method, url, body=b"", headers=None, retryable=None) -> Response:
        self.calls += 1
        assert service == "execute-api" and url.startswith(ENDPOINT + "/@connections/"), url
        connection_id = urllib.parse.unquote(url.rsplit("/", 1)[1])
        if method == "DELETE":
            if connection_id in self.gone:
                return Response(410)
            self.closed.append(connection_id)
            self.gone.add(connection_id)
            return Response(204)
        if connection_id in self.gone:
            return Response(410)
        if connection_id in self.broken:
            return Response(500)
        if len(body) > self.post_max_bytes:
            self.refused.append((connection_id, len(body)))
            return Response(413, {"x-amzn-errortype": "PayloadTooLargeException"}, b'{"message":"Request Too Long"}')
        self.posts.setdefault(connection_id, []).append(json.loads(body))
        return Response(200)

    def request_many(self, service, method, urls, body, headers, deadline):
        return [self.request(service, method, url, body, headers) for url in urls]

    def received(self, connection_id: str, frame: dict) -> dict:
        """A frame the client got another way than a post: a two-way route's answer
        (tests/gateway_model.py). Recorded beside the posts, which it follows."""
        self.posts.setdefault(connection_id, []).append(frame)
        return frame

    def frames(self, connection_id: str, type_: str | None = None) -> list[dict]:
        frames = self.posts.get(connection_id, [])
        return [frame for frame in frames if type_ is None or frame["type"] == type_]

    def last(self, connection_id: str) -> dict:
        return self.posts[connection_id][-1]

    def clear(self):
        self.posts.clear()


@pytest.fixture
def api(dynamodb):
    fake = FakeManagementApi()
    install_app(dynamodb=dynamodb, transport=fake)
    yield fake


def connection_store():
    return app.app().connection_store


def message_store():
    return app.app().message_store


def follow_up_store():
    return app.app().follow_up_store


def accounts():
    return app.app().accounts_store


def session_row(connection_id: str) -> dict | None:
    """A SessionHistory row as plain values (what an operator would read)."""
    item = _fakes["dynamodb"].get_item(
        TableName=f"wschat-{STAGE}-SessionHistory", Key={"connectionId": {"S": connection_id}}, ConsistentRead=True
    ).get("Item")
    if not item:
        return None
    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


class Clock:
    """A clock a test moves: pass it as the App's clock, then advance() it."""

    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


def set_clock(epoch_ms: int) -> None:
    """Move the app's clock (the chat's and the accounts' idea of now)."""
    app.app().clock = lambda: epoch_ms


def ws_event(route: str, body=None, *, connection_id: str = "conn-1", username: str = "alice", guest: bool = False,
             expires_in: int = 3600, session_limit: int = 0, room: str | None = None, authorized: bool = True) -> dict:
    """An API Gateway WebSocket event as the gateway delivers it after the authorizer allowed the connection."""
    event = copy.deepcopy(load_event("connect" if route == "$connect" else "message"))
    context = event["requestContext"]
    context["routeKey"] = route
    context["connectionId"] = connection_id
    context["eventType"] = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    if authorized:
        context["authorizer"] = {
            "principalId": username, "username": username, "guest": "true" if guest else "false",
            "expiresAt": int(time.time()) + expires_in, "sessionLimitSeconds": session_limit,
        }
    else:
        context.pop("authorizer", None)
    if route == "$connect":
        event["queryStringParameters"] = {"token": "Bearer x"} | ({"room": room} if room is not None else {})
    else:
        event.pop("queryStringParameters", None)
        if body is None:
            event.pop("body", None)
        else:
            event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event
