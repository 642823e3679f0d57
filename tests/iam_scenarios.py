"""Each function's representative scenarios, run through its entry point under the IAM harness.

A scenario drives one function the way API Gateway, EventBridge or Lambda would, down each path that
makes a different AWS call: success, the limits, the members found gone, the session that expired,
the secret read from SSM (never inline here). Two tests run them:

- tests/unit/test_iam.py, enforcing the roles resolved from the stack files: no scenario meets a
  refusal, and each still does what it should.
- tests/stack/test_packaged_stack.py, recording (nothing refused) what each function called, then
  comparing with the packaged template: every call granted, and every grant used by some scenario
  (or named, with its reason, in that test's allow-list).

So a new code path with a new AWS call needs a scenario here, and a new grant needs a call that uses
it. Everything runs in moto (DynamoDB, SSM), a fake @connections API and a fake Lambda API.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import jwt
from moto import mock_aws

import local_iam as iam
from devstack.tables import create_tables
from handler import app as app_module
from handler import protocol
from handler.app import App
from handler.auth import passwords
from handler.auth.tokens import issue_token
from handler.settings import Settings
from handler.transport import Response
from tests import iam_harness
from tests.gateway_model import answer_to_asker

EVENTS = Path(__file__).resolve().parent / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"
API_ID = "abc123"
SECRET = "iam-scenario-secret-current-0123456789abcdefghijklmnop"
PREVIOUS_SECRET = "iam-scenario-secret-previous-0123456789abcdefghijklmn"
CREDENTIALS = {"region_name": REGION, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

SCENARIOS: dict[str, list[Callable[["World"], None]]] = {}
# Functions whose scenarios make no AWS call: they answer from the event alone, in their route's
# response (a two-way route), so their roles grant nothing but their logs.
CALLS_NOTHING = {"heartbeat"}


def scenario(function: str):
    """Register a scenario of `function` (infra/functions.yml's name)."""

    def register(run: Callable[["World"], None]):
        SCENARIOS.setdefault(function, []).append(run)
        return run

    return register


# -- the world the scenarios run in ----------------------------------------------------------------


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


@dataclass
class World:
    stage: str
    enforcer: iam.Enforcer
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def __post_init__(self):
        self.endpoint = f"https://{API_ID}.execute-api.{REGION}.amazonaws.com/{self.stage}"
        self.api = FakeManagementApi()
        self.lambda_ = FakeLambda()
        self.dynamodb = boto3.client("dynamodb", **CREDENTIALS)
        self.ssm = boto3.client("ssm", **CREDENTIALS)
        self.env = {
            "AWS_REGION": REGION, "WSCHAT_STAGE": self.stage, "WSCHAT_DDB_CLIENT": "boto3",
            # The secret from SSM, as on AWS: both parameters are read.
            "WSCHAT_JWT_SECRET": "", "WSCHAT_JWT_SECRET_PARAM": f"/wschat/{self.stage}/jwt-secret",
            "WSCHAT_WS_API_URL": self.endpoint, "WSCHAT_FANOUT_FUNCTION": f"wschat-{self.stage}-fanout",
        }

    # -- set-up --------------------------------------------------------------------------------------

    def create(self) -> "World":
        create_tables(self.dynamodb, self.stage)
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


# -- the HTTP API ----------------------------------------------------------------------------------


@scenario("register")
def register_signs_up_and_refuses_a_taken_name(w: World):
    w.start()
    assert status(w.call("register", w.http({"username": "reg-ann", "password": "password-1"}))) == 201
    assert status(w.call("register", w.http({"username": "REG-ANN", "password": "password-2"}))) == 409


@scenario("register")
def register_past_the_sign_ups_of_an_address(w: World):
    w.start(WSCHAT_REGISTRATIONS_PER_IP="1")
    ip = "198.51.100.20"
    assert status(w.call("register", w.http({"username": "reg-bob", "password": "password-1"}, source_ip=ip))) == 201
    assert status(w.call("register", w.http({"username": "reg-cat", "password": "password-1"}, source_ip=ip))) == 429


@scenario("guest")
def guests_sign_up_until_the_address_has_had_its_share(w: World):
    w.start(WSCHAT_REGISTRATIONS_PER_IP="1")
    ip = "198.51.100.21"
    assert status(w.call("guest", w.http(source_ip=ip))) == 201
    assert status(w.call("guest", w.http(source_ip=ip))) == 429


@scenario("login")
def login_from_a_new_address_and_a_known_one(w: World):
    w.start()
    w.register_user("log-ann", "password-1")
    assert status(w.call("login", w.http({"username": "log-ann", "password": "password-1"}))) == 200
    assert status(w.call("login", w.http({"username": "log-ann", "password": "password-1"}))) == 200
    assert status(w.call("login", w.http({"username": "log-ann", "password": "wrong-pass"}))) == 401


@scenario("login")
def login_upgrades_an_old_hash(w: World):
    w.start()
    w.register_user("log-old", "password-1", cost=2**8)
    assert status(w.call("login", w.http({"username": "log-old", "password": "password-1"}))) == 200
    assert w.app.accounts_store.get_user("log-old").password_hash.split("$")[1] == str(passwords.N)


@scenario("login")
def login_refused_past_the_failures_of_a_name_and_slowed_down(w: World):
    w.start(WSCHAT_LOGIN_MAX_FAILURES="2", WSCHAT_LOGIN_SLOWDOWN_AFTER="1")
    w.register_user("log-bob", "password-1")
    answers = [status(w.call("login", w.http({"username": "log-bob", "password": "wrong-pass"}, source_ip=ip)))
               for ip in ("198.51.100.30", "198.51.100.30", "198.51.100.30", "198.51.100.31", "198.51.100.32")]
    assert answers[0] == 401 and 429 in answers, answers


@scenario("logout")
def logout_revokes_the_token_and_closes_its_connections(w: World):
    w.start()
    token = w.token("out-ann")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    w.connect("out-1", "out-ann", room="out-room", jti=jti)
    w.connect("out-2", "out-bob", room="out-room")
    w.connect("out-3", "out-cat", room="out-room")
    w.later(20)
    w.api.gone.add("out-3")  # found gone by the presence
    response = w.call("logout", w.http(headers={"authorization": f"Bearer {token}"}))
    assert status(response) == 200 and json.loads(response["body"])["closed"] == 1
    assert "out-1" in w.api.closed
    assert w.api.frames("out-2", "presence")[-1]["event"] == "left"


@scenario("authorizer")
def authorizer_allows_current_and_previous_secrets_and_denies_a_revoked_token(w: World):
    w.start()
    for secret in (SECRET, PREVIOUS_SECRET):
        policy = w.call("authorizer", w.authorizer_event(w.token("auth-ann", secret=secret)))
        assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    token = w.token("auth-bob")
    assert status(w.call("logout", w.http(headers={"authorization": f"Bearer {token}"}))) == 200
    policy = w.call("authorizer", w.authorizer_event(token))
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Deny"


# -- the WebSocket routes --------------------------------------------------------------------------


@scenario("connect")
def connect_tells_the_room_and_forgets_the_members_found_gone(w: World):
    w.start()
    w.connect("con-1", "con-ann", room="con-room")
    w.later(20)  # past the grace a young connection gets before it counts as gone
    w.api.gone.add("con-1")
    w.connect("con-2", "con-bob", room="con-room")
    assert w.app.connection_store.get_connection("con-1") is None


@scenario("connect")
def connect_tells_even_a_room_bigger_than_a_fanout_batch_itself(w: World):
    # Presence goes only to rooms of at most presenceMaxRoom members, always from here.
    w.start(WSCHAT_FANOUT_BATCH_SIZE="2")
    w.crowd("con-big", 4)
    w.connect("con-3", "con-cat", room="con-big")
    assert w.lambda_.invocations == [] and w.api.frames("m3-con-big", "presence")


@scenario("connect")
def connect_refuses_a_connection_over_the_users_cap_and_forgets_its_row(w: World):
    w.start(WSCHAT_MAX_CONNECTIONS_PER_USER="1")
    w.connect("cap-1", "cap-ann", room="cap-room")
    response = w.call("connect", w.ws("$connect", connection_id="cap-2", username="cap-ann", room="cap-room"))
    assert status(response) == 429 and w.app.connection_store.get_connection("cap-2") is None


@scenario("disconnect")
def disconnect_ends_the_session_and_tells_the_room(w: World):
    w.start(WSCHAT_PRESENCE_GRACE_SECONDS="0")  # `left` at once (the grace's path: below)
    w.connect("dis-1", "dis-ann", room="dis-room")
    w.connect("dis-2", "dis-bob", room="dis-room")
    w.connect("dis-3", "dis-cat", room="dis-room")
    w.later(20)
    w.api.gone.add("dis-3")  # found gone by the presence
    assert status(w.call("disconnect", w.ws("$disconnect", connection_id="dis-1", username="dis-ann"))) == 200
    assert w.api.frames("dis-2", "presence")[-1]["event"] == "left"
    assert w.app.connection_store.get_connection("dis-3") is None


@scenario("sendmessage")
def sendmessage_stores_and_delivers_and_forgets_gone_members(w: World):
    w.start()
    w.connect("snd-1", "snd-ann", room="snd-room")
    w.connect("snd-2", "snd-bob", room="snd-room")
    w.connect("snd-3", "snd-cat", room="snd-room")
    w.later(20)
    w.api.gone.add("snd-3")
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "hi"}, connection_id="snd-1",
                               username="snd-ann"))
    assert w.api.frames("snd-2", "message") and w.app.connection_store.get_connection("snd-3") is None


@scenario("sendmessage")
def sendmessage_hands_a_big_rooms_batches_to_fanout(w: World):
    w.start(WSCHAT_FANOUT_BATCH_SIZE="2")
    w.connect("snd-4", "snd-dan", room="snd-big")
    w.crowd("snd-big", 4)
    before = len(w.lambda_.invocations)
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "hi all"}, connection_id="snd-4",
                               username="snd-dan"))
    assert len(w.lambda_.invocations) > before


@scenario("sendmessage")
def sendmessage_answers_a_repeated_client_msg_id_with_the_original(w: World):
    w.start()
    w.connect("snd-6", "snd-fay", room="snd-once")
    body = {"action": "sendmessage", "message": "only once", "clientMsgId": "c-1"}
    for _ in range(2):
        w.call("sendmessage", w.ws("sendmessage", body, connection_id="snd-6", username="snd-fay"))
    first, repeat = w.api.frames("snd-6", "message")
    assert first["id"] == repeat["id"]


@scenario("sendmessage")
def sendmessage_tells_a_dms_other_user_and_the_mentioned_elsewhere(w: World):
    # `activity` frames: the DM's member rows, mentioned users' member and marker rows, their connections.
    w.start()
    for name in ("act-ann", "act-bob"):
        w.register_user(name, "password-1")
    w.connect("act-1", "act-ann", room="act-lobby")
    w.connect("act-2", "act-bob", room="act-lobby")
    room = _ask(w, "rooms", {"action": "dm", "user": "act-bob"}, "act-1", "act-ann")["room"]
    w.call("join", w.ws("join", {"action": "join", "room": room}, connection_id="act-1", username="act-ann"))
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "room": room, "message": "hi @act-bob"},
                               connection_id="act-1", username="act-ann"))
    assert w.api.frames("act-2", "activity")[-1]["dm"] is True


@scenario("sendmessage")
def sendmessage_refused_over_the_rate_and_after_the_session(w: World):
    w.start(WSCHAT_MESSAGE_BURST="1", WSCHAT_MESSAGE_RATE="0.1")
    w.connect("snd-5", "snd-eve", room="snd-limits", session_limit=30)
    for _ in range(2):
        w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "x"}, connection_id="snd-5",
                                   username="snd-eve", session_limit=30))
    assert w.api.frames("snd-5", "error")[-1]["code"] == "rate_limited"
    w.later(60)
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "x"}, connection_id="snd-5",
                               username="snd-eve", session_limit=30))
    assert "snd-5" in w.api.closed


@scenario("join")
def join_moves_to_another_room_with_its_history(w: World):
    w.start()
    w.connect("joi-1", "joi-ann", room="joi-a")
    w.connect("joi-2", "joi-bob", room="joi-b")
    w.call("join", w.ws("join", {"action": "join", "room": "joi-b"}, connection_id="joi-1", username="joi-ann"))
    assert w.api.frames("joi-1", "welcome")[-1]["room"] == "joi-b"


def _expired_and_gone(w: World, function: str, body: dict, prefix: str, route: str | None = None) -> None:
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


@scenario("join")
def join_after_the_session_or_from_a_gone_connection(w: World):
    _expired_and_gone(w, "join", {"action": "join"}, "joi")


@scenario("history")
def history_pages_and_housekeeping(w: World):
    w.start()
    w.connect("his-0", "his-dan", room="his-room")
    mark = protocol.new_message_id(w.now_ms, "000000")
    for body in ({"action": "history"}, {"action": "history", "before": mark}, {"action": "history", "after": mark}):
        w.call("history", w.ws("history", body, connection_id="his-0", username="his-dan"))
    assert len(w.api.frames("his-0", "history")) == 3
    _expired_and_gone(w, "history", {"action": "history"}, "his")


def _reply_beyond_the_page(w: World, room: str, between: int) -> str:
    """Set-up: a message, `between` others, then a reply quoting the first, which is then deleted;
    returns the first's id."""
    store, at = w.app.message_store, w.now_ms
    quoted = store.append_message(room=room, sender="q-ann", message="soon deleted", client_msg_id=None,
                                  sent_at_ms=at)
    for i in range(between):
        store.append_message(room=room, sender="q-ann", message=f"filler {i}", client_msg_id=None, sent_at_ms=at + 1 + i)
    store.append_message(room=room, sender="q-bob", message="+1", client_msg_id=None, sent_at_ms=at + between + 1,
                         reply_to=protocol.reply_ref(id=quoted.id, sender="q-ann", message=quoted.message))
    assert store.delete_message(room, quoted.id, by="q-ann", at_ms=at + between + 2)
    w.later(1)
    return quoted.id


@scenario("history")
def history_shows_no_text_of_a_deleted_quoted_message(w: World):
    # The quoted message is not in the page: its state is read (BatchGetItem on MessageHistory).
    w.start()
    w.connect("hiq-1", "hiq-ann", room="hiq-room")
    quoted = _reply_beyond_the_page(w, "hiq-room", 0)
    w.call("history", w.ws("history", {"action": "history", "limit": 1}, connection_id="hiq-1", username="hiq-ann"))
    page = w.api.frames("hiq-1", "history")[-1]["messages"]
    assert page[-1]["replyTo"] == {"id": quoted, "sender": "q-ann", "deleted": True}


@scenario("join")
def join_welcome_shows_no_text_of_a_deleted_quoted_message(w: World):
    w.start()
    w.connect("jiq-1", "jiq-ann", room="jiq-lobby")
    _reply_beyond_the_page(w, "jiq-room", protocol.HISTORY_ON_JOIN)
    w.call("join", w.ws("join", {"action": "join", "room": "jiq-room"}, connection_id="jiq-1", username="jiq-ann"))
    assert w.api.frames("jiq-1", "welcome")[-1]["history"][-1]["replyTo"]["deleted"] is True


@scenario("heartbeat")
def heartbeat_answers_in_its_response_and_calls_nothing(w: World):
    # A two-way route: the answer is the response, so the function needs no grant but its logs.
    w.start()
    w.connect("hbt-1", "hbt-ann", room="hbt-room")
    w.call("heartbeat", w.ws("heartbeat", {"action": "heartbeat"}, connection_id="hbt-1", username="hbt-ann"))
    assert w.api.frames("hbt-1", "heartbeat")[-1]["serverTime"].endswith("Z")


@scenario("default")
def default_answers_an_unknown_action_and_forgets_a_gone_sender(w: World):
    w.start()
    w.connect("dfl-1", "dfl-ann", room="dfl-room")
    w.connect("dfl-2", "dfl-bob", room="dfl-room")
    w.connect("dfl-3", "dfl-cat", room="dfl-room")
    w.call("default", w.ws("$default", {"action": "dance"}, connection_id="dfl-1", username="dfl-ann"))
    assert w.api.frames("dfl-1", "error")[-1]["code"] == "unknown_action"
    w.later(20)
    w.api.gone.update({"dfl-1", "dfl-3"})
    w.call("default", w.ws("$default", {"action": "dance"}, connection_id="dfl-1", username="dfl-ann"))
    assert w.app.connection_store.get_connection("dfl-1") is None


# -- rooms and moderation --------------------------------------------------------------------------


def _ask(w: World, function: str, body: dict, connection_id: str, username: str, **identity) -> dict:
    """Send a rooms or moderation frame; return the last frame its sender got."""
    w.call(function, w.ws(body["action"], body, connection_id=connection_id, username=username, **identity))
    return w.api.frames(connection_id)[-1]


@scenario("connect")
def connect_to_a_private_room_needs_a_membership_and_reads_the_admin_role(w: World):
    w.start()
    for name in ("cpr-ann", "cpr-bob"):
        w.register_user(name, "password-1")
    w.app.accounts_store.set_admin("cpr-ann", True)
    w.connect("cpr-1", "cpr-ann", room="cpr-lobby")
    assert _ask(w, "rooms", {"action": "createroom", "room": "cpr-priv", "visibility": "private"}, "cpr-1",
                "cpr-ann")["type"] == "room"
    response = w.call("connect", w.ws("$connect", connection_id="cpr-2", username="cpr-bob", room="cpr-priv"))
    assert status(response) == 403 and w.app.connection_store.get_connection("cpr-2") is None
    w.connect("cpr-3", "cpr-ann", room="cpr-priv")
    assert w.app.connection_store.get_connection("cpr-3").admin


@scenario("join")
def join_refuses_a_private_room_to_a_non_member(w: World):
    w.start()
    w.register_user("jpr-ann", "password-1")
    w.connect("jpr-1", "jpr-ann", room="jpr-lobby")
    _ask(w, "rooms", {"action": "createroom", "room": "jpr-priv", "visibility": "private"}, "jpr-1", "jpr-ann")
    w.connect("jpr-2", "jpr-bob", room="jpr-lobby")
    w.call("join", w.ws("join", {"action": "join", "room": "jpr-priv"}, connection_id="jpr-2", username="jpr-bob"))
    assert w.api.frames("jpr-2", "error")[-1]["code"] == "forbidden"


@scenario("rooms")
def rooms_create_invite_list_members_dm_and_leave(w: World):
    w.start()
    for name in ("rms-ann", "rms-bob", "rms-cat"):
        w.register_user(name, "password-1")
    w.connect("rms-1", "rms-ann", room="rms-lobby")
    w.connect("rms-2", "rms-bob", room="rms-lobby")
    w.connect("rms-3", "rms-cat", room="rms-lobby")
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "hi"}, connection_id="rms-1",
                               username="rms-ann"))
    room = _ask(w, "rooms", {"action": "createroom", "room": "rms-priv", "visibility": "private", "topic": "t"},
                "rms-1", "rms-ann")
    assert room["type"] == "room" and room["role"] == "owner"
    w.later(20)
    w.api.gone.add("rms-3")  # found gone when told of an invitation
    for user in ("rms-bob", "rms-cat"):
        assert _ask(w, "rooms", {"action": "invite", "room": "rms-priv", "user": user}, "rms-1", "rms-ann")["type"] == "done"
    assert w.api.frames("rms-2", "invited") and w.app.connection_store.get_connection("rms-3") is None
    assert _ask(w, "rooms", {"action": "members", "room": "rms-priv"}, "rms-1", "rms-ann")["type"] == "members"
    # Only rooms made with createroom are listed (a typed room's message does not list it).
    _ask(w, "rooms", {"action": "createroom", "room": "rms-pub"}, "rms-1", "rms-ann")
    listed = _ask(w, "rooms", {"action": "rooms"}, "rms-1", "rms-ann")
    assert listed["type"] == "rooms" and listed["directory"][0]["room"] == "rms-pub"
    assert _ask(w, "rooms", {"action": "dm", "user": "rms-bob"}, "rms-1", "rms-ann")["dm"] is True
    w.call("join", w.ws("join", {"action": "join", "room": "rms-priv"}, connection_id="rms-2", username="rms-bob"))
    assert _ask(w, "rooms", {"action": "leave", "room": "rms-priv"}, "rms-2", "rms-bob")["type"] == "done"
    assert w.app.connection_store.get_connection("rms-2").room is None


@scenario("rooms")
def rooms_after_the_session_or_from_a_gone_connection(w: World):
    _expired_and_gone(w, "rooms", {"action": "rooms"}, "rmx")


@scenario("moderation")
def moderation_roles_kick_ban_mute_delete_and_the_log(w: World):
    w.start()
    for name in ("mod-ann", "mod-bob", "mod-cat", "mod-dan"):
        w.register_user(name, "password-1")
    w.connect("mod-1", "mod-ann", room="mod-lobby")
    _ask(w, "rooms", {"action": "createroom", "room": "mod-room", "visibility": "private"}, "mod-1", "mod-ann")
    for user in ("mod-bob", "mod-cat", "mod-dan"):
        _ask(w, "rooms", {"action": "invite", "room": "mod-room", "user": user}, "mod-1", "mod-ann")
    w.connect("mod-2", "mod-bob", room="mod-room")
    w.connect("mod-3", "mod-cat", room="mod-room")
    assert _ask(w, "moderation", {"action": "setrole", "room": "mod-room", "user": "mod-bob", "role": "moderator"},
                "mod-1", "mod-ann")["type"] == "done"
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "spam"}, connection_id="mod-3",
                               username="mod-cat"))
    spam = w.api.frames("mod-3", "message")[-1]["id"]
    assert _ask(w, "moderation", {"action": "mute", "room": "mod-room", "user": "mod-cat", "minutes": 5},
                "mod-2", "mod-bob")["type"] == "done"
    assert _ask(w, "moderation", {"action": "deletemessage", "room": "mod-room", "id": spam},
                "mod-2", "mod-bob")["type"] == "deleted"
    assert _ask(w, "moderation", {"action": "kick", "room": "mod-room", "user": "mod-cat"},
                "mod-2", "mod-bob")["type"] == "done"
    assert w.api.frames("mod-3", "kicked")
    assert _ask(w, "moderation", {"action": "ban", "room": "mod-room", "user": "mod-dan", "minutes": 10},
                "mod-2", "mod-bob")["type"] == "done"
    assert _ask(w, "moderation", {"action": "unban", "room": "mod-room", "user": "mod-dan"},
                "mod-2", "mod-bob")["type"] == "done"
    assert _ask(w, "moderation", {"action": "modlog", "room": "mod-room"}, "mod-2", "mod-bob")["type"] == "modlog"
    assert _ask(w, "moderation", {"action": "setrole", "room": "mod-room", "user": "mod-bob", "role": "owner"},
                "mod-1", "mod-ann")["type"] == "done"


@scenario("moderation")
def moderation_after_the_session_or_from_a_gone_connection(w: World):
    _expired_and_gone(w, "moderation", {"action": "modlog", "room": "modx-room"}, "modx")
# -- issue 13: message features, renewal, refresh tokens, presence grace --------------------------


@scenario("disconnect")
def disconnect_holds_the_left_for_the_presence_grace(w: World):
    w.start()
    w.connect("gra-1", "gra-ann", room="gra-room")
    w.connect("gra-2", "gra-bob", room="gra-room")
    assert status(w.call("disconnect", w.ws("$disconnect", connection_id="gra-1", username="gra-ann"))) == 200
    assert not [f for f in w.api.frames("gra-2", "presence") if f["event"] == "left"]


@scenario("sweep")
def sweep_tells_the_room_who_left_after_the_grace(w: World):
    w.start()
    w.connect("gra-3", "gra-cat", room="gra-late")
    w.connect("gra-4", "gra-dan", room="gra-late")
    w.call("disconnect", w.ws("$disconnect", connection_id="gra-3", username="gra-cat"))
    w.later(10)
    w.call("sweep", {})
    assert w.api.frames("gra-4", "presence")[-1]["event"] == "left"


@scenario("connect")
def connect_within_the_grace_says_nothing(w: World):
    w.start()
    w.connect("gra-5", "gra-eve", room="gra-back")
    w.connect("gra-6", "gra-fay", room="gra-back")
    w.call("disconnect", w.ws("$disconnect", connection_id="gra-5", username="gra-eve"))
    w.connect("gra-7", "gra-eve", room="gra-back")
    assert w.api.frames("gra-6", "presence") == []  # neither `left` nor `joined` for the reload


def _message_in(w: World, connection_id: str, username: str, text: str = "hello") -> str:
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": text},
                               connection_id=connection_id, username=username))
    return w.api.frames(connection_id, "message")[-1]["id"]


@scenario("interact")
def interact_edits_reacts_and_types(w: World):
    w.start()
    w.connect("int-1", "int-ann", room="int-room")
    w.connect("int-2", "int-bob", room="int-room")
    w.connect("int-3", "int-cat", room="int-room")
    mid = _message_in(w, "int-1", "int-ann")
    w.later(20)
    w.api.gone.add("int-3")  # found gone by the edit's broadcast
    w.call("interact", w.ws("editmessage", {"action": "editmessage", "id": mid, "message": "hello!"},
                            connection_id="int-1", username="int-ann"))
    assert w.api.frames("int-2", "edited")[-1]["message"] == "hello!"
    assert w.app.connection_store.get_connection("int-3") is None
    w.call("interact", w.ws("react", {"action": "react", "id": mid, "emoji": "👍"}, connection_id="int-2",
                            username="int-bob"))
    assert w.api.frames("int-1", "reaction")[-1]["count"] == 1
    w.call("interact", w.ws("typing", {"action": "typing"}, connection_id="int-2", username="int-bob"))
    assert w.api.frames("int-1", "typing")
    w.call("interact", w.ws("editmessage", {"action": "editmessage", "id": mid, "message": "mine now"},
                            connection_id="int-2", username="int-bob"))
    assert w.api.frames("int-2", "error")[-1]["code"] == "forbidden"


@scenario("interact")
def interact_after_the_session_or_from_a_gone_connection(w: World):
    # An edit of a message that is not there: its error reply finds the sender gone.
    _expired_and_gone(w, "interact", {"action": "editmessage", "id": protocol.new_message_id(w.now_ms, "abcdef"),
                                      "message": "x"}, "itp", route="editmessage")


@scenario("sendmessage")
def sendmessage_quotes_the_message_it_replies_to(w: World):
    w.start()
    w.connect("rep-1", "rep-ann", room="rep-room")
    mid = _message_in(w, "rep-1", "rep-ann", "the question")
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "the answer", "replyTo": mid},
                               connection_id="rep-1", username="rep-ann"))
    assert w.api.frames("rep-1", "message")[-1]["replyTo"]["excerpt"] == "the question"


def _signed_in(w: World, username: str) -> dict:
    w.register_user(username, "password-1")
    return json.loads(w.call("login", w.http({"username": username, "password": "password-1"}))["body"])


@scenario("refresh")
def refresh_rotates_and_a_reuse_ends_the_sign_in(w: World):
    w.start()
    first = _signed_in(w, "ref-ann")
    w.start()  # a cold start: the refresh reads the signing secret itself
    renewed = w.call("refresh", w.http({"refreshToken": first["refreshToken"]}))
    assert status(renewed) == 200
    claims = jwt.decode(json.loads(renewed["body"])["token"], options={"verify_signature": False})
    w.connect("ref-1", "ref-ann", room="ref-room", jti=claims["jti"], family=claims["fam"])
    w.connect("ref-2", "ref-bob", room="ref-room")
    w.connect("ref-3", "ref-cat", room="ref-room")
    w.later(20)
    w.api.gone.add("ref-3")  # found gone by the `left` of the sign-in's closed connection
    reused = w.call("refresh", w.http({"refreshToken": first["refreshToken"]}))
    assert status(reused) == 401 and "ref-1" in w.api.closed
    assert status(w.call("refresh", w.http({"refreshToken": json.loads(renewed["body"])["refreshToken"]}))) == 401


@scenario("refresh")
def refresh_is_limited_per_address(w: World):
    # Over the per-address limit, the counter is read to say when it ends (GetItem on Limits).
    w.start(WSCHAT_REFRESH_PER_IP="1")
    assert status(w.call("refresh", w.http({"refreshToken": "x" * 10 + "." + "y" * 43}, source_ip="198.51.100.9"))) == 401
    assert status(w.call("refresh", w.http({"refreshToken": "x" * 10 + "." + "y" * 43}, source_ip="198.51.100.9"))) == 429


@scenario("logout")
def logout_with_an_expired_token_ends_its_refresh_family(w: World):
    w.start()
    signed = _signed_in(w, "out-eve")
    claims = jwt.decode(signed["token"], options={"verify_signature": False})
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, SECRET, algorithm="HS256")
    w.connect("out-5", "out-eve", room="out-fam", jti=claims["jti"], family=claims["fam"])
    assert status(w.call("logout", w.http(headers={"authorization": f"Bearer {expired}"}))) == 200
    assert "out-5" in w.api.closed
    assert status(w.call("refresh", w.http({"refreshToken": signed["refreshToken"]}))) == 401


@scenario("logout")
def logout_ends_the_refresh_family(w: World):
    w.start()
    signed = _signed_in(w, "out-dan")
    claims = jwt.decode(signed["token"], options={"verify_signature": False})
    w.connect("out-4", "out-dan", room="out-fam", jti=claims["jti"], family=claims["fam"])
    assert status(w.call("logout", w.http(headers={"authorization": f"Bearer {signed['token']}"}))) == 200
    assert "out-4" in w.api.closed
    assert status(w.call("refresh", w.http({"refreshToken": signed["refreshToken"]}))) == 401


@scenario("renew")
def renew_extends_an_open_connection(w: World):
    w.start()
    signed = _signed_in(w, "ren-ann")
    w.connect("ren-1", "ren-ann", room="ren-room", expires_in=60)
    # (The world's clock stays on the real one here: PyJWT checks `nbf` against the real time.)
    fresh = json.loads(w.call("refresh", w.http({"refreshToken": signed["refreshToken"]}))["body"])
    w.call("renew", w.ws("renew", {"action": "renew", "token": fresh["token"]}, connection_id="ren-1",
                         username="ren-ann"))
    assert w.api.frames("ren-1", "renewed")
    assert w.app.connection_store.get_connection("ren-1").expires_at > w.now_ms // 1000 + 60


@scenario("renew")
def renew_after_the_session_or_from_a_gone_connection(w: World):
    _expired_and_gone(w, "renew", {"action": "renew", "token": "x"}, "rnw")


@scenario("read")
def read_moves_the_marker_and_tells_the_users_other_connections(w: World):
    w.start()
    w.register_user("red-ann", "password-1")
    w.connect("red-1", "red-ann", room="red-room")
    w.connect("red-2", "red-ann", room="red-other")  # another tab, elsewhere
    w.connect("red-3", "red-ann", room="red-room")  # a third, found gone when told
    mid = _message_in(w, "red-1", "red-ann")
    w.later(20)
    w.api.gone.add("red-3")
    read = _ask(w, "read", {"action": "read", "room": "red-room", "id": mid}, "red-1", "red-ann")
    assert read == {"type": "read", "room": "red-room", "id": mid}
    assert w.api.frames("red-2", "read")[-1]["id"] == mid and w.app.connection_store.get_connection("red-3") is None
    # Another room than the connection's: admitted as join admits (a private room: members only).
    _ask(w, "rooms", {"action": "createroom", "room": "red-priv", "visibility": "private"}, "red-1", "red-ann")
    w.connect("red-4", "red-bob", room="red-room")
    refused = _ask(w, "read", {"action": "read", "room": "red-priv", "id": mid}, "red-4", "red-bob")
    assert refused["code"] == "forbidden"
    assert _ask(w, "read", {"action": "read", "room": "red-other", "id": mid}, "red-1", "red-ann")["id"] == mid


@scenario("read")
def read_after_the_session_or_from_a_gone_connection(w: World):
    _expired_and_gone(w, "read", {"action": "read", "room": "rdx-room", "id": protocol.new_message_id(w.now_ms, "abcdef")},
                      "rdx")


@scenario("sendmessage")
def sendmessage_records_the_users_it_mentions(w: World):
    w.start()
    w.connect("men-1", "men-ann", room="men-room")
    w.connect("men-2", "men-bob", room="men-room")
    mid = _message_in(w, "men-1", "men-ann", "hey @men-bob and @Men-Cat")
    assert w.api.frames("men-2", "message")[-1]["mentions"] == ["men-bob", "Men-Cat"]
    assert w.app.marker_store.marker("men-cat", "men-room").mention_id == mid
    welcome = _ask(w, "join", {"action": "join"}, "men-2", "men-bob")
    assert welcome["type"] == "welcome" and welcome["lastRead"] is None


# -- background functions --------------------------------------------------------------------------


@scenario("fanout")
def fanout_delivers_a_batch_and_forgets_its_gone_members(w: World):
    w.start(WSCHAT_FANOUT_BATCH_SIZE="2")
    w.connect("fan-1", "fan-ann", room="fan-room")
    members = w.crowd("fan-room", 4, prefix="fan")
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "to all"}, connection_id="fan-1",
                               username="fan-ann"))
    payloads = [i["payload"] for i in w.lambda_.invocations if i["payload"]["room"] == "fan-room"]
    assert payloads
    w.later(20)
    w.api.gone.update(members)
    for payload in payloads:
        assert status(w.call("fanout", payload)) == 200
    handed = [member[0] for payload in payloads for member in payload["members"]]
    assert handed and all(w.app.connection_store.get_connection(cid) is None for cid in handed)


@scenario("sweep")
def sweep_closes_what_ran_out(w: World):
    w.start()
    w.connect("swp-1", "swp-ann", room="swp-room", session_limit=30)
    w.connect("swp-2", "swp-bob", room="swp-room")
    w.connect("swp-3", "swp-cat", room="swp-room")
    w.later(60)
    w.api.gone.add("swp-3")  # found gone by the presence
    assert w.call("sweep", {})["closed"] == 1
    assert "swp-1" in w.api.closed and w.api.frames("swp-2", "presence")[-1]["event"] == "left"


@scenario("sweep")
def sweep_takes_a_second_look_for_a_logged_out_tokens_connections(w: World):
    w.start()
    token = w.token("swp-dan")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    w.connect("swp-4", "swp-dan", room="swp-late", jti=jti)
    assert status(w.call("logout", w.http(headers={"authorization": f"Bearer {token}"}))) == 200
    w.later(10)  # the logout left a follow-up for the sweep: the token's connections, looked up again
    w.call("sweep", {})


@scenario("sweep")
def sweep_takes_a_second_look_after_a_kick_from_a_private_room(w: World):
    w.start()
    for name in ("swk-ann", "swk-bob"):
        w.register_user(name, "password-1")
    w.connect("swk-1", "swk-ann", room="swk-lobby")
    _ask(w, "rooms", {"action": "createroom", "room": "swk-priv", "visibility": "private"}, "swk-1", "swk-ann")
    _ask(w, "rooms", {"action": "invite", "room": "swk-priv", "user": "swk-bob"}, "swk-1", "swk-ann")
    w.connect("swk-2", "swk-bob", room="swk-priv")
    _ask(w, "moderation", {"action": "kick", "room": "swk-priv", "user": "swk-bob"}, "swk-1", "swk-ann")
    # A connection the kick did not see (the by-user index lagging a join of the same moment).
    w.app.connection_store.move_connection("swk-2", "swk-priv")
    w.later(10)
    w.call("sweep", {})
    assert w.app.connection_store.get_connection("swk-2").room is None and w.api.frames("swk-2", "kicked")[-1]["by"] is None



@scenario("sweep")
def sweep_takes_a_second_look_after_a_mute(w: World):
    w.start()
    for name in ("swm-ann", "swm-bob"):
        w.register_user(name, "password-1")
    w.connect("swm-1", "swm-ann", room="swm-hall")
    _ask(w, "rooms", {"action": "createroom", "room": "swm-hall"}, "swm-1", "swm-ann")
    w.connect("swm-2", "swm-bob", room="swm-lobby")
    _ask(w, "moderation", {"action": "mute", "room": "swm-hall", "user": "swm-bob", "minutes": 60}, "swm-1", "swm-ann")
    # A join at the same moment: it read "not muted" before the mute, and moved its row after it.
    w.app.connection_store.move_connection("swm-2", "swm-hall", 0)
    w.later(10)
    w.call("sweep", {})
    assert w.app.connection_store.get_connection("swm-2").muted_until > w.now_ms

# -- running them ----------------------------------------------------------------------------------


def run(stage: str, policy: iam.Policy, *, enforce: bool, functions: list[str] | None = None) -> iam_harness.Recorder:
    """Run the scenarios of `functions` (all by default) in a fresh moto world; return every checked call.

    Password hashing runs at a low cost here (the cost is not what these scenarios are about).
    """
    iam_harness.wrap_entry_points()
    recorder = iam_harness.Recorder()
    saved_cost, passwords.N = passwords.N, 2**10
    try:
        with iam.observe(recorder):
            for function in functions or sorted(SCENARIOS):
                for each in SCENARIOS[function]:
                    with mock_aws():  # a world of its own for each scenario
                        world = World(stage, iam.Enforcer(policy, region=REGION, enforce=enforce)).create()
                        try:
                            each(world)
                        except AssertionError as exc:
                            raise AssertionError(f"scenario {function}/{each.__name__}: {exc}") from exc
    finally:
        passwords.N = saved_cost
        app_module.install(None)
    return recorder
