"""SessionStore: the record of each connection's session (SessionHistory), and each token's
session deadline (`session#<jti>` in Limits), which every connection of that token shares.

SessionHistory keeps one row per connection, kept after it closed: who, room, when, from where,
how long, and why it ended.
"""

from __future__ import annotations

from handler import protocol
from handler.settings import Retention, Tables
from handler.store.connections import Connection
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_n, n, s


class SessionStore:
    def __init__(self, client, tables: Tables, retention: Retention, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.sessions = Table(client, tables.sessions, self.reads)
        self.limits = Table(client, tables.limits, self.reads)
        self.retention = retention

    def session_deadline(self, jti: str, ends_at: int, keep_until: int) -> int:
        """The session deadline (epoch s) of the token `jti`: the first one proposed for it.

        One write that keeps what is there (if_not_exists): every connection of the token, and
        every reconnect with it, gets the deadline its first connection got. `keep_until` is when
        the token expires; no one can connect with it after that.
        """
        response = self.limits.update(
            "session_deadline", {"key": s(f"session#{jti}")},
            UpdateExpression="SET endsAt = if_not_exists(endsAt, :ends), #ttl = if_not_exists(#ttl, :keep)",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":ends": n(ends_at), ":keep": n(keep_until)},
            ReturnValues="ALL_NEW",
        )
        return get_n(response["Attributes"], "endsAt")

    def start_session(self, conn: Connection, *, source_ip: str | None, user_agent: str | None) -> None:
        item = {
            "connectionId": s(conn.connection_id),
            "username": s(conn.username),
            "guest": {"BOOL": conn.guest},
            "room": s(conn.room),
            "connectedAt": s(protocol.iso_utc(conn.connected_at_ms)),
            "connectedAtEpoch": n(conn.connected_at_ms // 1000),
            "expiresAt": n(conn.expires_at),
            "ttl": n(conn.connected_at_ms // 1000 + self.retention.session_days * 86400),
        }
        if source_ip:
            item["sourceIp"] = s(source_ip[:64])
        if user_agent:
            item["userAgent"] = s(user_agent[:512])
        self.sessions.put("start_session", item)

    def end_session(self, connection_id: str, *, room: str, ended_at_ms: int, reason: str) -> None:
        """Record when and why the session ended. A second call for the same session is a no-op.

        The duration is computed by DynamoDB from the row's own start, so callers need only the id.
        """
        try:
            self.sessions.update(
                "end_session", {"connectionId": s(connection_id)},
                UpdateExpression=(
                    "SET disconnectedAt = :at, durationSeconds = :end - connectedAtEpoch, reason = :r, lastRoom = :room"
                ),
                ConditionExpression="attribute_exists(connectedAtEpoch) AND attribute_not_exists(disconnectedAt)",
                ExpressionAttributeValues={
                    ":at": s(protocol.iso_utc(ended_at_ms)), ":end": n(ended_at_ms // 1000), ":r": s(reason),
                    ":room": s(room),
                },
            )
        except ConditionFailed:
            pass
