"""Settings: the only code that reads the environment (which serverless.yml sets per stage).

Read once per cold start by the composition root (handler/app.py) and handed to whatever needs
a value; grouped by concern so each collaborator takes only its own group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from handler.limits import Budget

TOKEN_ISSUER = "wschat"


class ConfigError(Exception):
    """Raised when a required setting is missing or malformed."""


class _Env:
    """Typed reads of one environment mapping; every malformed value is named in the error."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def str(self, name: str, default: str = "") -> str:
        return self.environ.get(name, "").strip() or default

    def optional(self, name: str) -> str | None:
        return self.str(name) or None

    def flag(self, name: str, default: bool) -> bool:
        value = self.str(name).lower()
        return default if not value else value in ("1", "true", "yes", "on")

    def int(self, name: str, default: int, minimum: int | None = None) -> int:
        value = self._number(name, default, int)
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def float(self, name: str, default: float, minimum: float | None = None) -> float:
        value = self._number(name, default, float)
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def budget(self, name: str, default: Budget, minimum_rate: float) -> Budget:
        """A rate budget from NAME_BURST (at least 1) and NAME_RATE (a second), each defaulting alone."""
        return Budget(burst=self.float(f"{name}_BURST", default.burst, minimum=1),
                      rate=self.float(f"{name}_RATE", default.rate, minimum=minimum_rate))

    def _number(self, name, default, kind):
        value = self.str(name)
        if not value:
            return default
        try:
            return kind(value)
        except ValueError:
            raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None


@dataclass(frozen=True)
class Tables:
    connections: str
    sessions: str
    messages: str
    users: str
    limits: str
    # Rooms, memberships, bans, mutes and the moderation log (handler/store/rooms.py).
    rooms: str = ""


@dataclass(frozen=True)
class Retention:
    message_days: int
    session_days: int


@dataclass(frozen=True)
class Limits:
    """Server-side limits (docs/reliability.md says what each one stops)."""

    # Per user, across all their connections: a burst of messages, then a steady rate per second.
    message: Budget
    # Per user too: joins (each may tell two rooms) and history requests (each reads up to 101 items).
    join: Budget
    history: Budget
    # Presence frames about one user in one room: a burst, then a rate per second. Changes in
    # between are held back and the room is told the user's state as it then is, by the sweep.
    presence: Budget
    # Live connections per user; one more is refused at $connect (429) once the others were found alive.
    max_connections_per_user: int
    # A clientMsgId a user sends again within this many seconds gets the original message back.
    client_msg_id_seconds: int
    # Failed logins per (username, address) within a window (limits.LoginPolicy says the rest).
    login_max_failures: int
    login_window_seconds: int
    # New accounts (members and guests) per address per hour.
    registrations_per_ip: int
    # Rooms bigger than this get no joined/left frames: each would cost a post to every member,
    # so a room of N filling up would cost N²/2 posts. Their members see who is online in `welcome`.
    presence_max_room: int
    # Failed logins per address over all names, within login_window_seconds (a NAT's users share
    # it, hence far above login_max_failures; names that logged in from the address skip it).
    login_address_max_failures: int = 100
    # Past this many failures of one username within the slowdown window (over all addresses),
    # addresses it has not logged in from take turns: base, 2 x base, ... up to max seconds apart.
    login_slowdown_after: int = 10
    login_slowdown_window_seconds: int = 86400
    login_slowdown_base_seconds: int = 1
    login_slowdown_max_seconds: int = 900
    # How long a successful login (or sign-up) makes its address "known" for that user.
    login_known_address_days: int = 30
    # Rooms and moderation, per user: every room action (invite, kick, rooms, modlog, ...) spends
    # one of the first budget; creating a room (createroom, or a new direct conversation) one of
    # the second, much slower one; and a user owns at most max_owned_rooms rooms.
    room_action: Budget = Budget(20, 1)
    room_create: Budget = Budget(3, 1 / 60)
    max_owned_rooms: int = 10
    # Invitations one user may receive (from everyone): a burst, then a rate per second. Only a
    # new membership counts; an invitation is a frame on every connection of its target, unasked.
    invite_target: Budget = Budget(10, 10 / 3600)
    # How long a "minute" of a ban or mute is, in seconds: 60, except in tests that watch one end.
    moderation_minute_seconds: int = 60
    # Per user: edits and reactions, a burst then a rate per second. Typing has its
    # fixed interval per user per room (protocol.TYPING_INTERVAL_SECONDS).
    edit: Budget = Budget(5, 0.5)
    react: Budget = Budget(10, 2)
    # `read` markers (a client sends one as it shows new messages, debounced): a burst for
    # switching rooms, then one a second.
    read: Budget = Budget(10, 1)
    # A user whose last connection in a room closed is announced `left` only if they are not back
    # this many seconds later (a reload reconnects within it); the sweep sends it, so it arrives
    # between this and this plus the sweep's period (a minute on AWS).
    presence_grace_seconds: int = 5
    # `activity` frames (handler/chat/activity.py): the members of a room of at most this many
    # are told of its messages wherever they are, at most once per room per this many seconds
    # and process; a bigger room's members hear only of DMs and mentions (a 5,000-member room
    # would cost 5,000 by-user Queries and posts per message otherwise).
    activity_max_room: int = 50
    activity_coalesce_seconds: int = 3
    # POST /refresh per address per hour (counted before the token is looked at): a legitimate
    # sign-in renews about once an hour per browser, so a NAT of many users stays far below.
    refresh_per_ip: int = 600


@dataclass(frozen=True)
class Accounts:
    """Who may get a token, and for how long."""

    allow_registration: bool
    allow_guests: bool
    token_ttl_seconds: int
    guest_token_ttl_seconds: int
    guest_session_limit_seconds: int
    member_session_limit_seconds: int  # 0: no limit
    # The signing secret: inline on the local stage only; on AWS the SSM parameter's name.
    jwt_secret: str
    jwt_secret_param: str
    # How long a process trusts the secret it read from SSM: a rotation takes effect within this.
    jwt_secret_cache_seconds: int
    # A guest's name is held this long after its token expires, so that no later guest gets a
    # name that SessionHistory or MessageHistory may still show (their longest retention, plus
    # the up to two days DynamoDB takes to delete expired items).
    guest_name_hold_days: int = 92
    # How long one sign-in can be kept alive by POST /refresh (members only; guests get no refresh
    # token). A member session limit, when set, ends it sooner.
    refresh_ttl_seconds: int = 30 * 86400


@dataclass(frozen=True)
class Fanout:
    # Above this many members a broadcast is split: the sending function delivers the first batch
    # and hands each further batch to an asynchronous `fanout` invocation.
    batch_size: int
    function_name: str | None
    lambda_endpoint: str | None  # the local Lambda API; None on AWS


@dataclass(frozen=True)
class Delivery:
    """Posting frames through API Gateway's management API."""

    # The @connections endpoint when it is not derived from the event (the local stack).
    management_endpoint: str | None
    # The endpoint of this stage's WebSocket API, for functions that have no WebSocket event
    # (sweep, logout): https://{apiId}.execute-api.{region}.amazonaws.com/{stage}
    api_url: str | None
    # Posts in flight at once, per process: many processes each opening many connections at once
    # overflowed the local server's accept backlog (SYN retries of 1-3 s), so the pool stays modest
    # and big rooms are split across processes instead.
    concurrency: int
    # A broadcast never holds its Lambda longer than this; posts still waiting count as failed.
    broadcast_deadline_seconds: float

    @property
    def endpoint(self) -> str | None:
        return self.management_endpoint or self.api_url


@dataclass(frozen=True)
class Iam:
    """The local stand-in for IAM (local_iam/). Off on AWS, where IAM itself checks every call;
    devstack switches it on for the local stage, the unit tests for theirs."""

    enforce: bool
    # The grants stackfiles/grants.py resolved from the stack files (a JSON policy document).
    policy_file: str | None
    # Whose role applies to this process's calls: the Lambda function's name (sls offline sets it).
    function: str | None


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    tables: Tables
    retention: Retention
    limits: Limits
    accounts: Accounts
    fanout: Fanout
    delivery: Delivery
    ddb_endpoint: str | None
    # "lean": the hot path's own DynamoDB client (handler/lean_dynamodb.py); "boto3": boto3's.
    ddb_client: str
    log_level: str
    function_name: str  # the Lambda function's name, in every log line
    iam: Iam = Iam(enforce=False, policy_file=None, function=None)

    @property
    def audience(self) -> str:
        # Tokens of one stage are useless on another.
        return f"wschat-{self.stage}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = _Env(os.environ if environ is None else environ)
        stage = env.str("WSCHAT_STAGE", "local")
        prefix = f"wschat-{stage}-"
        message_days = env.int("WSCHAT_MESSAGE_RETENTION_DAYS", 30, minimum=1)
        enforce_iam = env.flag("WSCHAT_ENFORCE_IAM", False)
        if enforce_iam and not env.optional("WSCHAT_IAM_POLICY_FILE"):
            raise ConfigError("WSCHAT_ENFORCE_IAM is on but WSCHAT_IAM_POLICY_FILE names no policy file")
        session_days = env.int("WSCHAT_SESSION_RETENTION_DAYS", 90, minimum=1)
        return cls(
            stage=stage,
            region=env.str("AWS_REGION") or env.str("AWS_DEFAULT_REGION", "us-east-1"),
            tables=Tables(
                connections=env.str("WSCHAT_CONNECTIONS_TABLE", prefix + "ActiveConnections"),
                sessions=env.str("WSCHAT_SESSIONS_TABLE", prefix + "SessionHistory"),
                messages=env.str("WSCHAT_MESSAGES_TABLE", prefix + "MessageHistory"),
                users=env.str("WSCHAT_USERS_TABLE", prefix + "Users"),
                limits=env.str("WSCHAT_LIMITS_TABLE", prefix + "Limits"),
                rooms=env.str("WSCHAT_ROOMS_TABLE", prefix + "Rooms"),
            ),
            retention=Retention(
                message_days=message_days,
                session_days=session_days,
            ),
            limits=Limits(
                message=env.budget("WSCHAT_MESSAGE", Budget(10, 2), minimum_rate=0.001),
                join=env.budget("WSCHAT_JOIN", Budget(5, 0.5), minimum_rate=0.001),
                history=env.budget("WSCHAT_HISTORY", Budget(10, 1), minimum_rate=0.001),
                presence=env.budget("WSCHAT_PRESENCE", Budget(4, 0.2), minimum_rate=0.001),
                max_connections_per_user=env.int("WSCHAT_MAX_CONNECTIONS_PER_USER", 5, minimum=1),
                client_msg_id_seconds=env.int("WSCHAT_CLIENT_MSG_ID_SECONDS", 600, minimum=1),
                login_max_failures=env.int("WSCHAT_LOGIN_MAX_FAILURES", 5, minimum=1),
                login_window_seconds=env.int("WSCHAT_LOGIN_WINDOW_SECONDS", 900, minimum=1),
                registrations_per_ip=env.int("WSCHAT_REGISTRATIONS_PER_IP", 20, minimum=0),
                presence_max_room=env.int("WSCHAT_PRESENCE_MAX_ROOM", 100, minimum=0),
                login_address_max_failures=env.int("WSCHAT_LOGIN_ADDRESS_MAX_FAILURES", 100, minimum=1),
                login_slowdown_after=env.int("WSCHAT_LOGIN_SLOWDOWN_AFTER", 10, minimum=1),
                login_slowdown_window_seconds=env.int("WSCHAT_LOGIN_SLOWDOWN_WINDOW_SECONDS", 86400, minimum=1),
                login_slowdown_base_seconds=env.int("WSCHAT_LOGIN_SLOWDOWN_BASE_SECONDS", 1, minimum=1),
                login_slowdown_max_seconds=env.int("WSCHAT_LOGIN_SLOWDOWN_MAX_SECONDS", 900, minimum=1),
                login_known_address_days=env.int("WSCHAT_LOGIN_KNOWN_ADDRESS_DAYS", 30, minimum=0),
                room_action=env.budget("WSCHAT_ROOM_ACTION", Limits.room_action, minimum_rate=0.001),
                room_create=env.budget("WSCHAT_ROOM_CREATE", Limits.room_create, minimum_rate=0.0001),
                max_owned_rooms=env.int("WSCHAT_MAX_OWNED_ROOMS", 10, minimum=0),
                invite_target=env.budget("WSCHAT_INVITE_TARGET", Limits.invite_target, minimum_rate=0.0001),
                moderation_minute_seconds=env.int("WSCHAT_MODERATION_MINUTE_SECONDS", 60, minimum=1),
                edit=env.budget("WSCHAT_EDIT", Limits.edit, minimum_rate=0.001),
                react=env.budget("WSCHAT_REACT", Limits.react, minimum_rate=0.001),
                read=env.budget("WSCHAT_READ", Limits.read, minimum_rate=0.001),
                presence_grace_seconds=env.int("WSCHAT_PRESENCE_GRACE_SECONDS", 5, minimum=0),
                refresh_per_ip=env.int("WSCHAT_REFRESH_PER_IP", 600, minimum=1),
                activity_max_room=env.int("WSCHAT_ACTIVITY_MAX_ROOM", 50, minimum=0),
                activity_coalesce_seconds=env.int("WSCHAT_ACTIVITY_COALESCE_SECONDS", 3, minimum=0),
            ),
            accounts=Accounts(
                allow_registration=env.flag("WSCHAT_ALLOW_REGISTRATION", True),
                allow_guests=env.flag("WSCHAT_ALLOW_GUESTS", True),
                token_ttl_seconds=env.int("WSCHAT_TOKEN_TTL_SECONDS", 3600, minimum=1),
                guest_token_ttl_seconds=env.int("WSCHAT_GUEST_TOKEN_TTL_SECONDS", 900, minimum=1),
                guest_session_limit_seconds=env.int("WSCHAT_GUEST_SESSION_LIMIT_SECONDS", 900, minimum=0),
                member_session_limit_seconds=env.int("WSCHAT_MEMBER_SESSION_LIMIT_SECONDS", 0, minimum=0),
                jwt_secret=env.str("WSCHAT_JWT_SECRET"),
                jwt_secret_param=env.str("WSCHAT_JWT_SECRET_PARAM", f"/wschat/{stage}/jwt-secret"),
                jwt_secret_cache_seconds=env.int("WSCHAT_JWT_SECRET_CACHE_SECONDS", 300, minimum=0),
                guest_name_hold_days=env.int(
                    "WSCHAT_GUEST_NAME_HOLD_DAYS", max(message_days, session_days) + 2, minimum=0
                ),
                refresh_ttl_seconds=env.int("WSCHAT_REFRESH_TTL_SECONDS", 30 * 86400, minimum=60),
            ),
            fanout=Fanout(
                batch_size=env.int("WSCHAT_FANOUT_BATCH_SIZE", 250, minimum=1),
                function_name=env.optional("WSCHAT_FANOUT_FUNCTION"),
                lambda_endpoint=env.optional("WSCHAT_LAMBDA_ENDPOINT"),
            ),
            delivery=Delivery(
                management_endpoint=env.optional("WSCHAT_MANAGEMENT_ENDPOINT"),
                api_url=env.optional("WSCHAT_WS_API_URL"),
                concurrency=env.int("WSCHAT_FANOUT_CONCURRENCY", 32, minimum=1),
                broadcast_deadline_seconds=env.float("WSCHAT_BROADCAST_DEADLINE_SECONDS", 8.0),
            ),
            ddb_endpoint=env.optional("WSCHAT_DDB_ENDPOINT"),
            ddb_client=env.str("WSCHAT_DDB_CLIENT", "boto3"),
            log_level=env.str("WSCHAT_LOG_LEVEL", "INFO").upper(),
            function_name=env.str("AWS_LAMBDA_FUNCTION_NAME", "local"),
            iam=Iam(
                enforce=enforce_iam,
                policy_file=env.optional("WSCHAT_IAM_POLICY_FILE"),
                function=env.optional("AWS_LAMBDA_FUNCTION_NAME"),
            ),
        )
