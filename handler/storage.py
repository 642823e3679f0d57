"""The data layer: the only module that talks to DynamoDB.

Four tables (defined in serverless.yml): ActiveConnections (one row per open connection, with a
by-room index), SessionHistory (one row per connection, kept), MessageHistory (messages by room and
id, plus one counter item per room) and Users. Every call that runs per message or per connection
is a GetItem, PutItem, UpdateItem, DeleteItem or a Query on one partition; nothing scans.

botocore's exceptions stop here: callers see StorageUnavailable.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handler import protocol
from handler.config import Settings
from handler.errors import StorageUnavailable

ROOM_INDEX = "by-room"
USER_CONNECTIONS_INDEX = "by-user"
DEADLINE_INDEX = "by-deadline"
# The by-deadline index spreads rows over this many partitions ("0".."9").
SWEEP_SHARDS = 10
# BatchWriteItem takes at most 25 requests.
BATCH_WRITE_MAX = 25

# API Gateway closes every connection within 2 hours; a row left behind by a lost $disconnect
# expires an hour after that.
CONNECTION_ROW_TTL_SECONDS = 3 * 3600

_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    # Fail fast when DynamoDB is down: the client gets an "unavailable" error in seconds
    # instead of a Lambda timeout.
    retries={"max_attempts": 2, "mode": "standard"},
    # Every request is built by this module and covered by its tests; botocore's validation of
    # them again costs about a third of a call's CPU (docs/performance.md).
    parameter_validation=False,
)


@dataclass(frozen=True)
class Connection:
    connection_id: str
    username: str
    guest: bool
    room: str
    connected_at_ms: int
    expires_at: int  # epoch seconds: the token's exp
    session_ends_at: int | None  # epoch seconds, for session-limited users
    jti: str | None = None  # the token's id: logout revokes it
    bucket_tokens: float | None = None  # the message rate limit's state (limits.MessageLimit)
    bucket_at_ms: int | None = None

    @property
    def deadline(self) -> int:
        """When this connection must end: token expiry or session limit, whichever is first."""
        if self.session_ends_at is None:
            return self.expires_at
        return min(self.expires_at, self.session_ends_at)


@dataclass(frozen=True)
class Member:
    connection_id: str
    username: str
    connected_at_ms: int = 0


@dataclass(frozen=True)
class StoredMessage:
    id: str
    room: str
    sender: str
    message: str
    sent_at: str
    client_msg_id: str | None

    def frame(self) -> dict:
        return protocol.message_frame(
            id=self.id, room=self.room, sender=self.sender, message=self.message,
            sent_at=self.sent_at, client_msg_id=self.client_msg_id,
        )


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str | None
    guest: bool


@contextlib.contextmanager
def _dynamodb_errors(operation: str):
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        raise StorageUnavailable(f"{operation}: {code}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"{operation}: {exc.__class__.__name__}") from exc


def _s(value: str) -> dict:
    return {"S": value}


def _n(value: int) -> dict:
    return {"N": str(value)}


class Storage:
    def __init__(self, settings: Settings, client=None):
        self.settings = settings
        self.client = client or _default_client(settings)
        self.connections_table = settings.connections_table
        self.sessions_table = settings.sessions_table
        self.messages_table = settings.messages_table
        self.users_table = settings.users_table
        self.limits_table = settings.limits_table
        # Items read so far by this process: the logs report it per request, the benchmark per message.
        self.items_read = 0
        self._count_lock = threading.Lock()
        self._last_id_ms = 0

    def _read(self, items: int) -> None:
        with self._count_lock:
            self.items_read += items

    # -- connections ---------------------------------------------------------------------------

    def put_connection(self, conn: Connection) -> None:
        item = {
            "connectionId": _s(conn.connection_id),
            "username": _s(conn.username),
            "guest": {"BOOL": conn.guest},
            "room": _s(conn.room),
            "connectedAt": _n(conn.connected_at_ms),
            "expiresAt": _n(conn.expires_at),
            "ttl": _n(conn.connected_at_ms // 1000 + CONNECTION_ROW_TTL_SECONDS),
            "deadline": _n(conn.deadline),
            "sweepShard": _s(str(secrets.randbelow(SWEEP_SHARDS))),
        }
        if conn.session_ends_at is not None:
            item["sessionEndsAt"] = _n(conn.session_ends_at)
        if conn.jti:
            item["jti"] = _s(conn.jti)
        with _dynamodb_errors("put_connection"):
            self.client.put_item(TableName=self.connections_table, Item=item)

    def get_connection(self, connection_id: str) -> Connection | None:
        with _dynamodb_errors("get_connection"):
            response = self.client.get_item(
                TableName=self.connections_table, Key={"connectionId": _s(connection_id)}
            )
        item = response.get("Item")
        self._read(1 if item else 0)
        return _connection_from_item(item) if item else None

    def delete_connection(self, connection_id: str, *, connected_before_ms: int | None = None) -> Connection | None:
        """Remove the row and return what it held, or None if it was already gone.

        With `connected_before_ms`, a row that connected at or after that moment is kept (and None
        returned): see Chat.drop_gone.
        """
        kwargs = {}
        if connected_before_ms is not None:
            kwargs = {
                "ConditionExpression": "connectedAt < :cutoff",
                "ExpressionAttributeValues": {":cutoff": _n(connected_before_ms)},
            }
        try:
            with _dynamodb_errors("delete_connection"):
                response = self.client.delete_item(
                    TableName=self.connections_table,
                    Key={"connectionId": _s(connection_id)},
                    ReturnValues="ALL_OLD",
                    **kwargs,
                )
        except StorageUnavailable as exc:
            if _is_condition_failure(exc):
                return None
            raise
        item = response.get("Attributes")
        return _connection_from_item(item) if item else None

    def move_connection(self, connection_id: str, room: str) -> Connection | None:
        """Put the connection in another room; None if the connection's row is gone."""
        try:
            with _dynamodb_errors("move_connection"):
                response = self.client.update_item(
                    TableName=self.connections_table,
                    Key={"connectionId": _s(connection_id)},
                    UpdateExpression="SET room = :room",
                    ConditionExpression="attribute_exists(connectionId)",
                    ExpressionAttributeValues={":room": _s(room)},
                    ReturnValues="ALL_NEW",
                )
        except StorageUnavailable as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return _connection_from_item(response["Attributes"])

    def room_members(self, room: str) -> list[Member]:
        """Every connection in the room: a Query on the by-room index, all pages followed."""
        members: list[Member] = []
        kwargs = {
            "TableName": self.connections_table,
            "IndexName": ROOM_INDEX,
            "KeyConditionExpression": "room = :room",
            "ExpressionAttributeValues": {":room": _s(room)},
        }
        with _dynamodb_errors("room_members"):
            while True:
                response = self.client.query(**kwargs)
                items = response.get("Items", ())
                self._read(len(items))
                members.extend(
                    Member(
                        item["connectionId"]["S"],
                        item.get("username", {}).get("S", ""),
                        int(item.get("connectedAt", {}).get("N", 0)),
                    )
                    for item in items
                )
                last = response.get("LastEvaluatedKey")
                if not last:
                    return members
                kwargs["ExclusiveStartKey"] = last

    def take_message_token(self, conn: Connection, tokens_left: float, now_ms: int) -> bool:
        """Store the rate bucket after one message; False if another message changed it first."""
        if conn.bucket_at_ms is None:
            condition, values = "attribute_not_exists(bucketAt)", {}
        else:
            condition, values = "bucketAt = :seen", {":seen": _n(conn.bucket_at_ms)}
        try:
            with _dynamodb_errors("take_message_token"):
                self.client.update_item(
                    TableName=self.connections_table,
                    Key={"connectionId": _s(conn.connection_id)},
                    UpdateExpression="SET bucketTokens = :tokens, bucketAt = :now",
                    ConditionExpression=f"attribute_exists(connectionId) AND {condition}",
                    ExpressionAttributeValues={":tokens": {"N": f"{tokens_left:.3f}"}, ":now": _n(now_ms), **values},
                )
        except StorageUnavailable as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def user_connections(self, username: str) -> list[tuple[str, str | None]]:
        """(connectionId, jti) of every open connection of the user (the by-user index)."""
        found, kwargs = [], {
            "TableName": self.connections_table, "IndexName": USER_CONNECTIONS_INDEX,
            "KeyConditionExpression": "username = :u", "ExpressionAttributeValues": {":u": _s(username)},
        }
        with _dynamodb_errors("user_connections"):
            while True:
                response = self.client.query(**kwargs)
                self._read(len(response.get("Items", ())))
                found += [(i["connectionId"]["S"], i.get("jti", {}).get("S")) for i in response.get("Items", ())]
                if not response.get("LastEvaluatedKey"):
                    return found
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def expired_connections(self, now_s: int) -> list[Connection]:
        """Connections whose deadline has passed: one Query per shard of the by-deadline index."""
        found = []
        with _dynamodb_errors("expired_connections"):
            for shard in range(SWEEP_SHARDS):
                kwargs = {
                    "TableName": self.connections_table, "IndexName": DEADLINE_INDEX,
                    "KeyConditionExpression": "sweepShard = :shard AND deadline <= :now",
                    "ExpressionAttributeValues": {":shard": _s(str(shard)), ":now": _n(now_s)},
                }
                while True:
                    response = self.client.query(**kwargs)
                    items = response.get("Items", ())
                    self._read(len(items))
                    found += [
                        Connection(
                            connection_id=i["connectionId"]["S"], username=i.get("username", {}).get("S", ""),
                            guest=False, room=i.get("room", {}).get("S", ""), connected_at_ms=0,
                            expires_at=int(i.get("expiresAt", {}).get("N", 0)), session_ends_at=None,
                        )
                        for i in items
                    ]
                    if not response.get("LastEvaluatedKey"):
                        break
                    kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    def delete_connections(self, connection_ids: list[str]) -> None:
        """Remove many rows in BatchWriteItem requests of 25 (gone members found by a broadcast)."""
        for start in range(0, len(connection_ids), BATCH_WRITE_MAX):
            requests = [
                {"DeleteRequest": {"Key": {"connectionId": _s(cid)}}}
                for cid in connection_ids[start:start + BATCH_WRITE_MAX]
            ]
            with _dynamodb_errors("delete_connections"):
                for _ in range(3):
                    response = self.client.batch_write_item(RequestItems={self.connections_table: requests})
                    requests = response.get("UnprocessedItems", {}).get(self.connections_table, [])
                    if not requests:
                        break

    # -- session history -----------------------------------------------------------------------

    def start_session(self, conn: Connection, *, source_ip: str | None, user_agent: str | None) -> None:
        item = {
            "connectionId": _s(conn.connection_id),
            "username": _s(conn.username),
            "guest": {"BOOL": conn.guest},
            "room": _s(conn.room),
            "connectedAt": _s(protocol.iso_utc(conn.connected_at_ms)),
            "connectedAtEpoch": _n(conn.connected_at_ms // 1000),
            "expiresAt": _n(conn.expires_at),
            "ttl": _n(conn.connected_at_ms // 1000 + self.settings.session_retention_days * 86400),
        }
        if source_ip:
            item["sourceIp"] = _s(source_ip[:64])
        if user_agent:
            item["userAgent"] = _s(user_agent[:512])
        with _dynamodb_errors("start_session"):
            self.client.put_item(TableName=self.sessions_table, Item=item)

    def end_session(self, connection_id: str, *, room: str, ended_at_ms: int, reason: str) -> None:
        """Record when and why the session ended. A second call for the same session is a no-op.

        The duration is computed by DynamoDB from the row's own start, so callers need only the id.
        """
        try:
            with _dynamodb_errors("end_session"):
                self.client.update_item(
                    TableName=self.sessions_table,
                    Key={"connectionId": _s(connection_id)},
                    UpdateExpression=(
                        "SET disconnectedAt = :at, durationSeconds = :end - connectedAtEpoch, "
                        "reason = :r, lastRoom = :room"
                    ),
                    ConditionExpression="attribute_exists(connectedAtEpoch) AND attribute_not_exists(disconnectedAt)",
                    ExpressionAttributeValues={
                        ":at": _s(protocol.iso_utc(ended_at_ms)),
                        ":end": _n(ended_at_ms // 1000),
                        ":r": _s(reason),
                        ":room": _s(room),
                    },
                )
        except StorageUnavailable as exc:
            if not _is_condition_failure(exc):
                raise

    def get_session(self, connection_id: str) -> dict | None:
        with _dynamodb_errors("get_session"):
            response = self.client.get_item(TableName=self.sessions_table, Key={"connectionId": _s(connection_id)})
        item = response.get("Item")
        return _plain(item) if item else None

    # -- messages ------------------------------------------------------------------------------

    def append_message(
        self, *, room: str, sender: str, message: str, client_msg_id: str | None, sent_at_ms: int
    ) -> StoredMessage:
        """Store a message under a new time-ordered id and return it: one write, no counter.

        The condition makes a clash of two messages in the same millisecond with the same random
        suffix (one in 16 million) a retry instead of an overwrite.
        """
        with self._count_lock:
            # Strictly increasing within this process, so that two messages of one millisecond
            # keep their order; the random suffix keeps processes apart.
            id_ms = self._last_id_ms = max(sent_at_ms, self._last_id_ms + 1)
        for _ in range(3):
            stored = StoredMessage(
                id=protocol.new_message_id(id_ms, secrets.token_hex(3)),
                room=room,
                sender=sender,
                message=message,
                sent_at=protocol.iso_utc(sent_at_ms),
                client_msg_id=client_msg_id,
            )
            item = {
                "room": _s(room),
                "id": _s(stored.id),
                "sender": _s(sender),
                "message": _s(message),
                "sentAt": _s(stored.sent_at),
                "ttl": _n(sent_at_ms // 1000 + self.settings.message_retention_days * 86400),
            }
            if client_msg_id is not None:
                item["clientMsgId"] = _s(client_msg_id)
            try:
                with _dynamodb_errors("append_message"):
                    self.client.put_item(
                        TableName=self.messages_table, Item=item, ConditionExpression="attribute_not_exists(id)"
                    )
                return stored
            except StorageUnavailable as exc:
                if not _is_condition_failure(exc):
                    raise
        raise StorageUnavailable("append_message: no free id")

    def recent_messages(self, room: str, limit: int) -> tuple[list[StoredMessage], bool]:
        """The last `limit` messages, oldest first, and whether older ones exist."""
        return self._page(room, None, {}, limit, newest_first=True)

    def messages_before(self, room: str, before: str, limit: int) -> tuple[list[StoredMessage], bool]:
        return self._page(room, "id < :before", {":before": _s(before)}, limit, newest_first=True)

    def messages_after(self, room: str, after: str, limit: int) -> tuple[list[StoredMessage], bool]:
        return self._page(room, "id > :after", {":after": _s(after)}, limit, newest_first=False)

    def _page(self, room, condition, values, limit, *, newest_first) -> tuple[list[StoredMessage], bool]:
        with _dynamodb_errors("messages"):
            response = self.client.query(
                TableName=self.messages_table,
                KeyConditionExpression="room = :room" + (f" AND {condition}" if condition else ""),
                ExpressionAttributeValues={":room": _s(room), **values},
                ScanIndexForward=not newest_first,
                # One extra item tells whether there is more without a second request.
                Limit=limit + 1,
            )
        items = response.get("Items", [])
        self._read(len(items))
        has_more = len(items) > limit
        messages = [_message_from_item(item) for item in items[:limit]]
        if newest_first:
            messages.reverse()
        return messages, has_more

    # -- users ---------------------------------------------------------------------------------

    def create_user(
        self, *, username: str, password_hash: str | None, guest: bool, created_at_ms: int, ttl: int | None = None
    ) -> bool:
        """Create the account; False if the name (in any letter case) is taken."""
        item = {
            "usernameKey": _s(username.lower()),
            "username": _s(username),
            "guest": {"BOOL": guest},
            "createdAt": _s(protocol.iso_utc(created_at_ms)),
        }
        if password_hash is not None:
            item["passwordHash"] = _s(password_hash)
        if ttl is not None:
            item["ttl"] = _n(ttl)
        try:
            with _dynamodb_errors("create_user"):
                self.client.put_item(
                    TableName=self.users_table,
                    Item=item,
                    # A guest whose time ran out frees the name even before TTL deletes the row
                    # (DynamoDB deletes expired items only within a day or two).
                    ConditionExpression="attribute_not_exists(usernameKey) OR (guest = :true AND #ttl < :now)",
                    ExpressionAttributeNames={"#ttl": "ttl"},
                    ExpressionAttributeValues={":true": {"BOOL": True}, ":now": _n(created_at_ms // 1000)},
                )
        except StorageUnavailable as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def get_user(self, username: str) -> User | None:
        with _dynamodb_errors("get_user"):
            response = self.client.get_item(
                TableName=self.users_table, Key={"usernameKey": _s(username.lower())}, ConsistentRead=True
            )
        item = response.get("Item")
        if not item:
            return None
        return User(
            username=item["username"]["S"],
            password_hash=item.get("passwordHash", {}).get("S"),
            guest=item.get("guest", {}).get("BOOL", False),
        )


    # -- limits and revoked tokens -------------------------------------------------------------

    def counter(self, key: str, now_s: int) -> int:
        """A limit counter's value; 0 once its window has ended."""
        with _dynamodb_errors("counter"):
            item = self.client.get_item(TableName=self.limits_table, Key={"key": _s(key)}, ConsistentRead=True).get("Item")
        if not item or int(item.get("ttl", {}).get("N", 0)) <= now_s:
            return 0
        return int(item.get("count", {}).get("N", 0))

    def bump_counter(self, key: str, now_s: int, window_seconds: int) -> int:
        """Add one to a counter whose window starts with its first count; return the new value."""
        for _ in range(2):
            try:
                with _dynamodb_errors("bump_counter"):
                    response = self.client.update_item(
                        TableName=self.limits_table,
                        Key={"key": _s(key)},
                        UpdateExpression="ADD #count :one SET #ttl = if_not_exists(#ttl, :end)",
                        ConditionExpression="attribute_not_exists(#ttl) OR #ttl > :now",
                        ExpressionAttributeNames={"#count": "count", "#ttl": "ttl"},
                        ExpressionAttributeValues={":one": _n(1), ":end": _n(now_s + window_seconds), ":now": _n(now_s)},
                        ReturnValues="UPDATED_NEW",
                    )
                return int(response["Attributes"]["count"]["N"])
            except StorageUnavailable as exc:
                if not _is_condition_failure(exc):
                    raise
                self.clear_counter(key)  # the old window ended: start a new one
        raise StorageUnavailable("bump_counter: contention")

    def clear_counter(self, key: str) -> None:
        with _dynamodb_errors("clear_counter"):
            self.client.delete_item(TableName=self.limits_table, Key={"key": _s(key)})

    def revoke_token(self, jti: str, until_s: int) -> None:
        with _dynamodb_errors("revoke_token"):
            self.client.put_item(
                TableName=self.limits_table, Item={"key": _s(f"revoked#{jti}"), "ttl": _n(until_s)}
            )

    def is_revoked(self, jti: str) -> bool:
        with _dynamodb_errors("is_revoked"):
            item = self.client.get_item(
                TableName=self.limits_table, Key={"key": _s(f"revoked#{jti}")}, ConsistentRead=True
            ).get("Item")
        return item is not None


def _default_client(settings: Settings):
    if os.environ.get("WSCHAT_DDB_CLIENT") == "lean":
        from handler.dynamodb import LeanDynamoDBClient

        return LeanDynamoDBClient(settings.ddb_endpoint)
    return boto3.client("dynamodb", endpoint_url=settings.ddb_endpoint, config=_CLIENT_CONFIG)


def _is_condition_failure(exc: StorageUnavailable) -> bool:
    cause = exc.__cause__
    return isinstance(cause, ClientError) and cause.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _connection_from_item(item: dict) -> Connection:
    ends = item.get("sessionEndsAt")
    bucket = item.get("bucketTokens")
    bucket_at = item.get("bucketAt")
    return Connection(
        connection_id=item["connectionId"]["S"],
        username=item["username"]["S"],
        guest=item.get("guest", {}).get("BOOL", False),
        room=item["room"]["S"],
        connected_at_ms=int(item["connectedAt"]["N"]),
        expires_at=int(item["expiresAt"]["N"]),
        session_ends_at=int(ends["N"]) if ends else None,
        jti=item.get("jti", {}).get("S"),
        bucket_tokens=float(bucket["N"]) if bucket else None,
        bucket_at_ms=int(bucket_at["N"]) if bucket_at else None,
    )


def _message_from_item(item: dict) -> StoredMessage:
    return StoredMessage(
        id=item["id"]["S"],
        room=item["room"]["S"],
        sender=item["sender"]["S"],
        message=item["message"]["S"],
        sent_at=item["sentAt"]["S"],
        client_msg_id=item.get("clientMsgId", {}).get("S"),
    )


def _plain(item: dict) -> dict:
    """A DynamoDB item as plain Python values (for tests and tools, not hot paths)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}
