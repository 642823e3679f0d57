"""The composition root: every collaborator built from one Settings, once per cold start.

    settings ─┬─ transport ─┬─ dynamodb client ── stores: connections, follow-ups, sessions, messages,
              │             │                      budgets, rooms, read markers, accounts, refresh
              │             └─ Sender (per management endpoint) ─ Broadcaster ─ AsyncInvoker (big rooms)
              └─ SigningKeys (SSM on AWS)

    per endpoint: Chat (handler/chat/: its collaborators) ─┬─ RoomService, ModerationService
                                                            └─ ReadService
    once:         AccountService (its logout closes connections through the chat's housekeeping)

Entry points ask `app()` for what they need; each collaborator is built on first use, so the
authorizer builds only the accounts store and the signing keys, and imports no service: the
services are imported where they are built. Every AWS client can be given (tests pass moto's
DynamoDB and a fake transport); a default is built only when none is.

With IAM enforced (settings.iam, the local stack and the unit tests; local_iam/), every client,
given or built, is wrapped so that each call is checked against the function's role from the stack
files: a call the role does not grant fails as it would on AWS.
"""

from __future__ import annotations

import threading
import time
from functools import cached_property
from typing import TYPE_CHECKING, Callable

from handler import log
from handler.lean_dynamodb import LeanDynamoDBClient
from handler.protocol import Identity
from handler.sender import Sender
from handler.settings import ConfigError, Settings
from handler.signing_keys import SigningKeys
from handler.store.accounts import AccountsStore
from handler.store.budgets import BudgetStore
from handler.store.connections import ConnectionStore
from handler.store.dynamo import ReadCounter
from handler.store.followups import FollowUpStore
from handler.store.messages import MessageStore
from handler.store.read_markers import MarkerStore
from handler.store.refresh import RefreshStore
from handler.store.rooms import RoomsStore
from handler.store.sessions import SessionStore
from handler.transport import Transport

if TYPE_CHECKING:
    from handler.accounts import AccountService
    from handler.broadcast import AsyncInvoker
    from handler.chat.service import Chat
    from handler.moderation import ModerationService
    from handler.read_markers import ReadService
    from handler.rooms import RoomService


def _now_ms() -> int:
    return int(time.time() * 1000)


class App:
    def __init__(
        self, settings: Settings, *, dynamodb=None, transport: Transport | None = None, lambda_client=None,
        ssm_client=None, clock: Callable[[], int] = _now_ms, enforcer: local_iam.Enforcer | None = None,
    ):
        self.settings = settings
        self.clock = clock
        self._dynamodb = dynamodb
        self._transport = transport
        self._lambda_client = lambda_client
        self._ssm_client = ssm_client
        self._enforcer = enforcer
        self._senders: dict[str, Sender] = {}
        # The services of each management endpoint (one, in practice), by kind and endpoint.
        self._services: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self.reads = ReadCounter()
        log.configure(level=settings.log_level, function=settings.function_name, stage=settings.stage)
        log.meter("itemsRead", lambda: self.reads.total)

    def now_ms(self) -> int:
        # Through the attribute, so a test can move the app's clock after it was built.
        return self.clock()

    # -- AWS clients -----------------------------------------------------------------------------

    @cached_property
    def enforcer(self) -> local_iam.Enforcer | None:
        """The IAM check every client goes through, or None (on AWS, IAM itself checks)."""
        if self._enforcer is not None:
            return self._enforcer
        if not self.settings.iam.enforce:
            return None
        # Imported here only: the IAM stand-in is local-only and not in the Lambda package.
        import local_iam

        try:
            policy = local_iam.Policy.from_file(self.settings.iam.policy_file)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot read the IAM policy file {self.settings.iam.policy_file}: {exc}") from None
        return local_iam.Enforcer(policy, region=self.settings.region, function=self.settings.iam.function)

    def _checked(self, service: str, client):
        return self.enforcer.client(service, client) if self.enforcer else client

    @cached_property
    def transport(self) -> Transport:
        return self._transport or Transport(
            self.settings.region, concurrency=self.settings.delivery.concurrency
        )

    @cached_property
    def _sending_transport(self):
        """The transport the senders post through: @connections requests checked against the role."""
        return self.enforcer.transport(self.transport) if self.enforcer else self.transport

    @cached_property
    def dynamodb(self):
        if self._dynamodb is not None:
            client = self._dynamodb
        elif self.settings.ddb_client == "lean":
            client = LeanDynamoDBClient(self.transport, self.settings.ddb_endpoint)
        else:
            client = _boto3_client("dynamodb", self.settings.region, self.settings.ddb_endpoint)
        return self._checked("dynamodb", client)

    @cached_property
    def _lambda(self):
        client = self._lambda_client or _boto3_client("lambda", self.settings.region, self.settings.fanout.lambda_endpoint)
        return self._checked("lambda", client)

    def lambda_client(self):
        return self._lambda

    @cached_property
    def _ssm(self):
        return self._checked("ssm", self._ssm_client or _boto3_client("ssm", self.settings.region, None))

    def ssm_client(self):
        return self._ssm

    # -- stores and services ---------------------------------------------------------------------

    @cached_property
    def connection_store(self) -> ConnectionStore:
        return ConnectionStore(self.dynamodb, self.settings.tables, self.reads)

    @cached_property
    def follow_up_store(self) -> FollowUpStore:
        return FollowUpStore(self.dynamodb, self.settings.tables, self.reads)

    @cached_property
    def session_store(self) -> SessionStore:
        return SessionStore(self.dynamodb, self.settings.tables, self.settings.retention, self.reads)

    @cached_property
    def message_store(self) -> MessageStore:
        return MessageStore(self.dynamodb, self.settings.tables, self.settings.retention, self.reads)

    @cached_property
    def budget_store(self) -> BudgetStore:
        return BudgetStore(self.dynamodb, self.settings.tables, self.reads)

    @cached_property
    def accounts_store(self) -> AccountsStore:
        return AccountsStore(self.dynamodb, self.settings.tables, self.reads)

    @cached_property
    def rooms_store(self) -> RoomsStore:
        return RoomsStore(self.dynamodb, self.settings.tables, self.settings.retention, self.reads)

    @cached_property
    def marker_store(self) -> MarkerStore:
        return MarkerStore(self.dynamodb, self.settings.tables, self.settings.retention, self.reads)

    @cached_property
    def refresh_store(self) -> RefreshStore:
        return RefreshStore(self.dynamodb, self.settings.tables, self.reads)

    def is_revoked(self, identity: Identity) -> bool:
        """Whether a token was logged out, or the refresh family it belongs to has ended."""
        if identity.jti and self.accounts_store.is_revoked(identity.jti):
            return True
        return bool(identity.family) and self.refresh_store.is_revoked(identity.family)

    def verified(self, token: object) -> Identity:
        """The identity in a token, checked as the $connect authorizer checks one: signature,
        claims, expiry, and revocation (TokenRevoked). Raises a TokenError otherwise."""
        from handler.auth.tokens import TokenRevoked, verify_token

        identity = verify_token(token, keys=self.signing_keys.accepted(), audience=self.settings.audience)
        # A token that was logged out stays refused until it would have expired.
        if self.is_revoked(identity):
            raise TokenRevoked("revoked")
        return identity

    @cached_property
    def signing_keys(self) -> SigningKeys:
        return SigningKeys(self.settings.accounts, self.ssm_client)

    @cached_property
    def invoker(self) -> AsyncInvoker | None:
        from handler.broadcast import AsyncInvoker

        name = self.settings.fanout.function_name
        return AsyncInvoker(name, self.lambda_client()) if name else None

    def sender(self, endpoint: str) -> Sender:
        with self._lock:
            sender = self._senders.get(endpoint)
            if sender is None:
                sender = self._senders[endpoint] = Sender(
                    endpoint, self._sending_transport,
                    broadcast_deadline_seconds=self.settings.delivery.broadcast_deadline_seconds,
                )
        return sender

    def _once(self, kind: str, endpoint: str, build: Callable[[], object]):
        """The `kind` service of `endpoint`, built on first use."""
        key = (kind, endpoint)
        service = self._services.get(key)
        if service is None:
            built = build()  # outside the lock: building asks for the sender, which takes it
            with self._lock:
                service = self._services.setdefault(key, built)
        return service

    def chat(self, endpoint: str | None = None) -> Chat:
        """The chat service posting through `endpoint`: the event's API, else this stage's."""
        endpoint = self.settings.delivery.management_endpoint or endpoint or self.settings.delivery.api_url
        if not endpoint:
            raise ConfigError("no management endpoint: set WSCHAT_WS_API_URL or WSCHAT_MANAGEMENT_ENDPOINT")
        return self._once("chat", endpoint, lambda: self._build_chat(endpoint))

    def _build_chat(self, endpoint: str) -> Chat:
        from handler.broadcast import Broadcaster
        from handler.chat.admission import RoomAdmission
        from handler.chat.connections import Connections
        from handler.chat.departures import Departures
        from handler.chat.housekeeping import Housekeeping
        from handler.chat.live_connections import LiveConnections
        from handler.chat.message_actions import MessageActions
        from handler.chat.messaging import Messaging
        from handler.chat.quotes import Quotes
        from handler.chat.rate_limits import RateLimiter
        from handler.chat.replies import Replies
        from handler.chat.service import Chat

        limits, clock = self.settings.limits, self.now_ms
        connections, messages = self.connection_store, self.message_store
        sender = self.sender(endpoint)
        broadcaster = Broadcaster(sender, self.invoker, self.settings.fanout.batch_size)
        limiter = RateLimiter(self.budget_store, clock)
        departures = Departures(connections, self.session_store, self.follow_up_store, self.budget_store,
                                broadcaster, limits, clock)
        replies = Replies(sender, departures.drop_gone)
        admission = RoomAdmission(self.rooms_store, clock)
        housekeeping = Housekeeping(connections, self.session_store, self.follow_up_store, sender=sender,
                                    departures=departures, replies=replies, admission=admission, clock=clock)
        live = LiveConnections(connections, clock, housekeeping.end_connection)
        quotes = Quotes(messages)
        shared = dict(live=live, limiter=limiter, replies=replies, departures=departures, limits=limits, clock=clock)
        return Chat(
            sender=sender, broadcaster=broadcaster, limiter=limiter, replies=replies, live=live,
            admission=admission, departures=departures, housekeeping=housekeeping,
            connections=Connections(connections, self.session_store, messages, self.marker_store, sender=sender,
                                    admission=admission, quotes=quotes, is_revoked=self.is_revoked,
                                    is_admin=self.accounts_store.is_admin, **shared),
            messaging=Messaging(connections, messages, self.budget_store, self.rooms_store, self.marker_store,
                                broadcaster=broadcaster, quotes=quotes, **shared),
            message_actions=MessageActions(connections, messages, self.budget_store, broadcaster=broadcaster,
                                           verify=self.verified, **shared),
        )

    def room_service(self, chat: Chat) -> RoomService:
        """Rooms (createroom, invite, leave, dm, rooms, members) over the chat service of the event."""
        from handler.rooms import RoomService

        return self._once("rooms", chat.sender.endpoint, lambda: RoomService(chat, **self._room_parts()))

    def moderation(self, chat: Chat) -> ModerationService:
        """Moderation (setrole, kick, ban, unban, mute, deletemessage, modlog)."""
        from handler.moderation import ModerationService

        return self._once("moderation", chat.sender.endpoint, lambda: ModerationService(chat, **self._room_parts()))

    def _room_parts(self) -> dict:
        return dict(rooms=self.rooms_store, accounts=self.accounts_store, connections=self.connection_store,
                    messages=self.message_store, follow_ups=self.follow_up_store, markers=self.marker_store,
                    limits=self.settings.limits, clock=self.now_ms)

    def read_service(self, chat: Chat) -> ReadService:
        """Read markers (read) over the chat service of the event."""
        from handler.read_markers import ReadService

        return self._once("read", chat.sender.endpoint, lambda: ReadService(
            chat, self.marker_store, self.connection_store, self.settings.limits, self.now_ms))

    @cached_property
    def account_service(self) -> AccountService:
        from handler.accounts import AccountService

        return AccountService(
            self.accounts_store, self.settings.accounts, self.settings.limits, self.signing_keys,
            audience=self.settings.audience, clock=self.now_ms, close_connections=self._close_token_connections,
            refresh_store=self.refresh_store,
        )

    def _close_token_connections(self, identity: Identity) -> int:
        return self.chat().housekeeping.log_out(identity.username, identity.jti, identity.family)


def _boto3_client(service: str, region: str, endpoint_url: str | None):
    import boto3  # here: only the paths that need boto3 pay for importing it
    from botocore.config import Config

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=Config(
        connect_timeout=2, read_timeout=5,
        # Fail fast when a service is down: the client gets an "unavailable" error in seconds
        # instead of a Lambda timeout.
        retries={"max_attempts": 2, "mode": "standard"},
    ))


_app: App | None = None
_app_lock = threading.Lock()


def app() -> App:
    """The process's App, built from the environment on first use."""
    global _app
    if _app is None:
        with _app_lock:
            if _app is None:
                _app = App(Settings.from_env())
    return _app


def install(instance: App | None) -> None:
    """Use `instance` as the process's App (tests); None builds a fresh one from the environment next time."""
    global _app
    _app = instance
