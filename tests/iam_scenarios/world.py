"""The world the scenarios run in: moto (DynamoDB, SSM), a fake @connections API and a fake Lambda
API, the events each function receives, and the steps several families of scenarios share."""

from __future__ import annotations

import copy
import functools
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from handler.auth import passwords
from handler.auth.tokens import issue_token
from devstack.tables import create_tables
from handler import app as app_module
import local_iam as iam
from handler.app import App
from handler.settings import Settings
from handler.transport import Response
from tests import iam_harness
from tests.gateway_model import answer_to_asker

EVENTS = Path(__file__).resolve().parent.parent / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"
API_ID = "abc123"
SECRET = "iam-scenario-secret-current-0123456789abcdefghijklmnop"
PREVIOUS_SECRET = "iam-scenario-secret-previous-0123456789abcdefghijklmn"
CREDENTIALS = {"region_name": REGION, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}



class FakeManagementApi:
    """API Gateway's @connections API: records posts, 410 for gone connections, DELETE closes."""

    def __init__(self):
        self.posts: dict[str, list[dict]] = {}
        self.gone: set[str] = set()
        self.closed: list[str] = []

    def request(self, service, method, url, body=b"", headers=None, retryable=None) -> Response:
        connection_id = urllib.parse.unquote(url.rsplit("/", 1)[1])
        if connection_id in self.gone:
            return Response(410)
        if method == "DELETE":
            self.closed.append(connection_id)
            self.gone.add(connection_id)
            return Response(204)
        self.posts.setdefault(connection_id, []).append(json.loads(body))
        return Response(200)

    def request_many(self, service, method, urls, body, headers, deadline):
        return [self.request(service, method, url, body, headers) for url in urls]

    def frames(self, connection_id: str, type_: str | None = None) -> list[dict]:
        return [f for f in self.posts.get(connection_id, []) if type_ is None or f["type"] == type_]


class FakeLambda:
    """Lambda's Invoke API: records asynchronous invocations (their functions run separately)."""

    def __init__(self):
        self.invocations: list[dict] = []

    def invoke(self, *, FunctionName, InvocationType="RequestResponse", Payload=b"{}", **_):
        self.invocations.append({"function": FunctionName, "type": InvocationType, "payload": json.loads(Payload)})
        return {"StatusCode": 202}


@functools.cache
def _client(service: str):
    # One client per service for every scenario: making one costs about 0.1 s, and moto answers it
    # in whichever world is active.
    return boto3.client(service, **CREDENTIALS)


def _moto_tables() -> dict:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables


_EMPTY_TABLES: dict[str, dict] = {}


def _empty_tables(stage: str) -> dict:
    """A copy of the stage's tables as moto holds them right after their creation. They are created
    from the stack files once (about 0.3 s) and copied for each scenario."""
    if stage not in _EMPTY_TABLES:
        create_tables(_client("dynamodb"), stage)
        _EMPTY_TABLES[stage] = copy.deepcopy(_moto_tables())
    return copy.deepcopy(_EMPTY_TABLES[stage])


@dataclass
class World:
    stage: str
    enforcer: iam.Enforcer
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def __post_init__(self):
        self.endpoint = f"https://{API_ID}.execute-api.{REGION}.amazonaws.com/{self.stage}"
        self.api = FakeManagementApi()
        self.lambda_ = FakeLambda()
        self.dynamodb = _client("dynamodb")
        self.ssm = _client("ssm")
        self.env = {
            "AWS_REGION": REGION, "WSCHAT_STAGE": self.stage, "WSCHAT_DDB_CLIENT": "boto3",
            # The secret from SSM, as on AWS: both parameters are read.
            "WSCHAT_JWT_SECRET": "", "WSCHAT_JWT_SECRET_PARAM": f"/wschat/{self.stage}/jwt-secret",
            "WSCHAT_WS_API_URL": self.endpoint, "WSCHAT_FANOUT_FUNCTION": f"wschat-{self.stage}-fanout",
        }

    # -- set-up --------------------------------------------------------------------------------------

    def create(self) -> "World":
        """The stage's tables and secret, in the fresh moto world a scenario runs in."""
        _moto_tables().update(_empty_tables(self.stage))
        base = f"/wschat/{self.stage}/jwt-secret"
        self.ssm.put_parameter(Name=base, Value=SECRET, Type="SecureString")
        self.ssm.put_parameter(Name=base + "-previous", Type="SecureString", Value=json.dumps(
            {"secret": PREVIOUS_SECRET, "rotatedAt": self.now_ms // 1000, "acceptUntil": self.now_ms // 1000 + 7200}))
        return self

    def start(self, **env: str) -> App:
        """A cold start: the App of every function from here on, with these settings changed."""
        instance = App(
            Settings.from_env({**self.env, **env}), dynamodb=self.dynamodb, transport=self.api,
            lambda_client=self.lambda_, ssm_client=self.ssm, clock=lambda: self.now_ms, enforcer=self.enforcer,
        )
        app_module.install(instance)
        return instance

    def later(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)

    @property
    def app(self) -> App:
        return app_module.app()

    # -- events --------------------------------------------------------------------------------------

    def _event(self, name: str) -> dict:
        event = json.loads((EVENTS / f"{name}.json").read_text())
        event.get("requestContext", {})["stage"] = self.stage
        return event

    def ws(self, route: str, body=None, *, connection_id: str, username: str = "alice", guest: bool = False,
           expires_in: int = 3600, session_limit: int = 0, jti: str = "", room: str | None = None,
           family: str = "") -> dict:
        event = self._event("connect" if route == "$connect" else "message")
        context = event["requestContext"]
        context.update(routeKey=route, connectionId=connection_id,
                       eventType={"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE"))
        context["authorizer"] = {"principalId": username, "username": username, "guest": str(guest).lower(),
                                 "expiresAt": self.now_ms // 1000 + expires_in, "sessionLimitSeconds": session_limit,
                                 "jti": jti, "family": family}
        if route == "$connect":
            event["queryStringParameters"] = {"token": "Bearer x"} | ({"room": room} if room else {})
        else:
            event.pop("queryStringParameters", None)
            event.pop("body", None)
            if body is not None:
                event["body"] = json.dumps(body)
        return event

    def http(self, body=None, *, source_ip: str = "203.0.113.7", headers: dict | None = None) -> dict:
        event = self._event("http_login")
        event["requestContext"]["http"]["sourceIp"] = source_ip
        event["headers"] = {"content-type": "application/json", **(headers or {})}
        event["body"] = None if body is None else json.dumps(body)
        return event

    def authorizer_event(self, token: str, connection_id: str = "auth-1") -> dict:
        event = self._event("authorizer")
        event["queryStringParameters"] = {"token": f"Bearer {token}"}
        event["requestContext"]["connectionId"] = connection_id
        event["methodArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{self.stage}/$connect"
        return event

    def token(self, username: str, *, secret: str = SECRET, ttl: int = 3600) -> str:
        token, _ = issue_token(username=username, guest=False, ttl_seconds=ttl, session_limit_seconds=0,
                               secret=secret.encode(), audience=f"wschat-{self.stage}", now=self.now_ms // 1000)
        return token

    # -- entry points (through the module attributes iam_harness wrapped) ----------------------------

    def call(self, function: str, event=None) -> dict:
        module, attribute = iam_harness.entry_point(iam_harness.ENTRY_POINTS[function])
        entry = getattr(module, attribute)
        assert getattr(entry, "iam_function", None) == function, f"{function}: entry point not wrapped"
        response = entry(event, None)
        answer = answer_to_asker(event, response)  # a two-way route's answer reaches its asker
        if answer is not None:
            connection_id, frame = answer
            self.api.posts.setdefault(connection_id, []).append(frame)
        return response

    def connect(self, connection_id: str, username: str, room: str = "general", **identity) -> None:
        response = self.call("connect", self.ws("$connect", connection_id=connection_id, username=username,
                                                room=room, **identity))
        assert response["statusCode"] == 200, response

    def crowd(self, room: str, count: int, prefix: str = "m") -> list[str]:
        """Members connected straight through the store (set-up, not a scenario's calls)."""
        from handler.store.connections import Connection

        ids = [f"{prefix}{i}-{room}" for i in range(count)]
        for cid in ids:
            self.app.connection_store.put_connection(Connection(
                connection_id=cid, username=cid, guest=False, room=room, connected_at_ms=self.now_ms,
                expires_at=self.now_ms // 1000 + 3600, session_ends_at=None))
        return ids

    def register_user(self, username: str, password: str, *, cost: int | None = None) -> None:
        """A member straight in the Users table; `cost` makes an older, cheaper hash (a rehash on login)."""
        stored = passwords.hash_password(password)
        if cost is not None:
            saved = passwords.N
            passwords.N = cost
            try:
                stored = passwords.hash_password(password)
            finally:
                passwords.N = saved
        assert self.app.accounts_store.create_user(username=username, password_hash=stored, guest=False,
                                                   created_at_ms=self.now_ms)


def status(response: dict) -> int:
    return response["statusCode"]


# -- steps several families share -------------------------------------------------------------------


def ask(w: World, function: str, body: dict, connection_id: str, username: str, **identity) -> dict:
    """Send a rooms or moderation frame; return the last frame its sender got."""
    w.call(function, w.ws(body["action"], body, connection_id=connection_id, username=username, **identity))
    return w.api.frames(connection_id)[-1]


def message_in(w: World, connection_id: str, username: str, text: str = "hello") -> str:
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": text},
                               connection_id=connection_id, username=username))
    return w.api.frames(connection_id, "message")[-1]["id"]


def signed_in(w: World, username: str) -> dict:
    w.register_user(username, "password-1")
    return json.loads(w.call("login", w.http({"username": username, "password": "password-1"}))["body"])


def expired_and_gone(w: World, function: str, body: dict, prefix: str, route: str | None = None) -> None:
    """The function's two housekeeping paths: a session past its limit is closed; a sender found
    gone is forgotten and its room told. `route`: the function's route to call, if not its name."""
    route = route or function
    w.start()
    w.connect(f"{prefix}-1", f"{prefix}-ann", room=f"{prefix}-room", session_limit=30)
    w.connect(f"{prefix}-2", f"{prefix}-bob", room=f"{prefix}-room")
    w.connect(f"{prefix}-3", f"{prefix}-cat", room=f"{prefix}-room")
    w.later(60)
    w.call(function, w.ws(route, body, connection_id=f"{prefix}-1", username=f"{prefix}-ann", session_limit=30))
    assert f"{prefix}-1" in w.api.closed
    w.api.gone.update({f"{prefix}-2", f"{prefix}-3"})  # the sender and another member gone
    w.call(function, w.ws(route, body, connection_id=f"{prefix}-2", username=f"{prefix}-bob"))
    assert w.app.connection_store.get_connection(f"{prefix}-2") is None
