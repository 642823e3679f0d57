"""Unit-test fixtures: moto's DynamoDB built from serverless.yml, a fake management API, event factories."""

import copy
import json
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack.tables import create_tables
from handler import app, config, sender

EVENTS = Path(__file__).resolve().parent.parent / "events"
STAGE = "test"
SECRET = "unit-test-secret-that-is-long-enough-for-hs256-0123456789"
# The endpoint handlers derive from the saved events' domainName and stage.
ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/test"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "WSCHAT_STAGE": STAGE, "WSCHAT_JWT_SECRET": SECRET,
        "WSCHAT_DDB_ENDPOINT": "", "WSCHAT_MANAGEMENT_ENDPOINT": "",
        "WSCHAT_CONNECTIONS_TABLE": f"wschat-{STAGE}-ActiveConnections",
        "WSCHAT_SESSIONS_TABLE": f"wschat-{STAGE}-SessionHistory",
        "WSCHAT_MESSAGES_TABLE": f"wschat-{STAGE}-MessageHistory",
        "WSCHAT_USERS_TABLE": f"wschat-{STAGE}-Users",
        "WSCHAT_LIMITS_TABLE": f"wschat-{STAGE}-Limits",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("WSCHAT_ALLOW_REGISTRATION", "WSCHAT_ALLOW_GUESTS", "WSCHAT_TOKEN_TTL_SECONDS",
                "WSCHAT_GUEST_SESSION_LIMIT_SECONDS", "WSCHAT_MEMBER_SESSION_LIMIT_SECONDS"):
        monkeypatch.delenv(key, raising=False)
    reset_singletons()
    yield
    reset_singletons()


def reset_singletons():
    """Settings, the secret and the clients are built once per process; tests rebuild them."""
    config.settings.cache_clear()
    config.jwt_secret.cache_clear()
    app._storage = None
    sender._clients.clear()
    sender._injected.clear()


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(client, STAGE)
        yield client


class FakeManagementApi:
    """Stands in for API Gateway's @connections API: records posts, and answers 410 for gone ids."""

    def __init__(self):
        self.posts: dict[str, list[dict]] = {}
        self.gone: set[str] = set()
        self.broken: set[str] = set()
        self.closed: list[str] = []

    def post_to_connection(self, ConnectionId, Data):
        if ConnectionId in self.gone:
            raise ClientError(
                {"Error": {"Code": "GoneException", "Message": "gone"}, "ResponseMetadata": {"HTTPStatusCode": 410}},
                "PostToConnection",
            )
        if ConnectionId in self.broken:
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                "PostToConnection",
            )
        self.posts.setdefault(ConnectionId, []).append(json.loads(Data))

    def delete_connection(self, ConnectionId):
        self.closed.append(ConnectionId)
        self.gone.add(ConnectionId)

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
    sender.use_client(ENDPOINT, fake)
    yield fake


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
