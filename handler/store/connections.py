"""ConnectionStore: the open connections (ActiveConnections), as rows and as room audiences.

ActiveConnections holds one row per open connection, with three indexes: by-room (a message's
audience), by-user (a user's connections) and by-deadline (what the sweep must do; its other
work lives there too: handler/store/followups.py). A kick, a ban or a left private room takes a
connection out of its room (evict); a mute marks it (set_muted), so that sendmessage refuses
without a read of its own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from handler.settings import Tables
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_across, get_bool, get_n, get_s, n, s

ROOM_INDEX = "by-room"
USER_INDEX = "by-user"
DEADLINE_INDEX = "by-deadline"
# The by-deadline index spreads rows over this many partitions ("0".."9") so that none is hot.
SWEEP_SHARDS = 10
# API Gateway closes every connection within 2 hours; a row left behind by a lost $disconnect
# expires an hour after that.
CONNECTION_ROW_TTL_SECONDS = 3 * 3600


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
    # Rooms and moderation: a site admin (read from the user's account at $connect), and until
    # when (epoch ms; 0: not) the user is muted in the connection's room, which join sets and
    # mute updates, so that sendmessage needs no read of its own for either.
    admin: bool = False
    muted_until: int = 0
    family: str | None = None  # the token's refresh family: a logout or a reuse ends them all

    @property
    def deadline(self) -> int:
        """When this connection must end: token expiry or session limit, whichever is first."""
        if self.session_ends_at is None:
            return self.expires_at
        return min(self.expires_at, self.session_ends_at)


@dataclass(frozen=True)
class Member:
    """A connection as a room's audience sees it (what the by-room index projects)."""

    connection_id: str
    username: str
    connected_at_ms: int = 0



class ConnectionStore:
    def __init__(self, client, tables: Tables, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.connections = Table(client, tables.connections, self.reads)
        # The message budget lives in Limits: sendmessage reads it beside the sender's row.
        self.limits = Table(client, tables.limits, self.reads)
        self.client = client

    def put_connection(self, conn: Connection) -> None:
        item = {
            "connectionId": s(conn.connection_id),
            "username": s(conn.username),
            "guest": {"BOOL": conn.guest},
            "room": s(conn.room),
            "connectedAt": n(conn.connected_at_ms),
            "expiresAt": n(conn.expires_at),
            "ttl": n(conn.connected_at_ms // 1000 + CONNECTION_ROW_TTL_SECONDS),
            "deadline": n(conn.deadline),
            "sweepShard": s(str(secrets.randbelow(SWEEP_SHARDS))),
        }
        if conn.session_ends_at is not None:
            item["sessionEndsAt"] = n(conn.session_ends_at)
        if conn.jti:
            item["jti"] = s(conn.jti)
        if conn.admin:
            item["admin"] = {"BOOL": True}
        if conn.muted_until:
            item["mutedUntil"] = n(conn.muted_until)
        if conn.family:
            item["family"] = s(conn.family)
        self.connections.put("put_connection", item)

    def get_connection(self, connection_id: str) -> Connection | None:
        # Strongly consistent: a row just moved to another room must not be read as it was
        # (DynamoDB's default read may be a second behind).
        item = self.connections.get("get_connection", {"connectionId": s(connection_id)}, consistent=True)
        return _connection(item) if item else None

    def get_connection_and_limit(self, connection_id: str, limit_key: dict) -> tuple[Connection | None, dict | None]:
        """The connection's row and one Limits item (a budget) in one strongly consistent read."""
        row, limit = get_across(self.client, "get_connection_and_limit", self.reads,
                                [(self.connections.name, {"connectionId": s(connection_id)}),
                                 (self.limits.name, limit_key)])
        return (_connection(row) if row else None), limit

    def delete_connection(self, connection_id: str, *, connected_before_ms: int | None = None) -> Connection | None:
        """Remove the row and return what it held, or None if it was already gone.

        With `connected_before_ms`, a row that connected at or after that moment is kept (and None
        returned): see Departures.drop_gone.
        """
        condition = {}
        if connected_before_ms is not None:
            condition = {
                "ConditionExpression": "connectedAt < :cutoff",
                "ExpressionAttributeValues": {":cutoff": n(connected_before_ms)},
            }
        try:
            response = self.connections.delete(
                "delete_connection", {"connectionId": s(connection_id)}, ReturnValues="ALL_OLD", **condition
            )
        except ConditionFailed:
            return None
        item = response.get("Attributes")
        return _connection(item) if item else None

    def move_connection(self, connection_id: str, room: str, muted_until: int = 0) -> Connection | None:
        """Put the connection in another room (with the user's mute there); None if the row is gone."""
        try:
            response = self.connections.update(
                "move_connection", {"connectionId": s(connection_id)},
                UpdateExpression="SET room = :room, mutedUntil = :muted",
                ConditionExpression="attribute_exists(connectionId)",
                ExpressionAttributeValues={":room": s(room), ":muted": n(muted_until)},
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        return _connection(response["Attributes"])

    def room_members(self, room: str) -> list[Member]:
        """Every connection in the room: a Query on the by-room index, all pages followed."""
        items = self.connections.query(
            "room_members", IndexName=ROOM_INDEX,
            KeyConditionExpression="room = :room", ExpressionAttributeValues={":room": s(room)},
        )
        return [Member(get_s(i, "connectionId"), get_s(i, "username", ""), get_n(i, "connectedAt", 0)) for i in items]

    def user_connections(self, username: str) -> list[tuple[str, str | None]]:
        """(connectionId, jti) of every open connection of the user (the by-user index)."""
        items = self.connections.query(
            "user_connections", IndexName=USER_INDEX,
            KeyConditionExpression="username = :u", ExpressionAttributeValues={":u": s(username)},
        )
        return [(get_s(i, "connectionId"), get_s(i, "jti")) for i in items]

    def renew_connection(self, connection_id: str, *, expires_at: int, deadline: int, jti: str | None,
                         family: str | None) -> bool:
        """Give an open connection a renewed token's expiry (its deadline with it, for the sweep);
        False if the row is gone."""
        # Every name through a placeholder: some (deadline) are DynamoDB reserved words.
        names = {"#exp": "expiresAt", "#deadline": "deadline", "#id": "connectionId"}
        values = {":exp": n(expires_at), ":deadline": n(deadline)}
        update = "SET #exp = :exp, #deadline = :deadline"
        for attribute, value in (("jti", jti), ("family", family)):
            if value:
                update += f", #{attribute} = :{attribute}"
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = s(value)
        try:
            self.connections.update(
                "renew_connection", {"connectionId": s(connection_id)}, UpdateExpression=update,
                ConditionExpression="attribute_exists(#id)", ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ConditionFailed:
            return False
        return True

    def delete_connections(self, connection_ids: list[str]) -> None:
        """Remove many rows at once (gone members found by a broadcast)."""
        self.connections.delete_many("delete_connections", [{"connectionId": s(cid)} for cid in connection_ids])

    def user_connection_rooms(self, username: str) -> list[tuple[str, str | None]]:
        """(connectionId, room) of every open connection of the user (the by-user index projects
        room; None: in no room). Eventually consistent, like every index read."""
        items = self.connections.query(
            "user_connections", IndexName=USER_INDEX,
            KeyConditionExpression="username = :u", ExpressionAttributeValues={":u": s(username)},
        )
        return [(get_s(i, "connectionId"), get_s(i, "room")) for i in items]

    def online(self, username: str) -> bool:
        """Whether the user has any open connection (the by-user index, one item at most)."""
        items = self.connections.query(
            "user_online", IndexName=USER_INDEX, KeyConditionExpression="username = :u",
            ExpressionAttributeValues={":u": s(username)}, limit=1,
        )
        return bool(list(items))

    def user_connections_in(self, username: str, room: str) -> list[str]:
        """The ids of the user's connections in `room` (the by-user index, which projects room)."""
        items = self.connections.query(
            "user_connections", IndexName=USER_INDEX,
            KeyConditionExpression="username = :u", ExpressionAttributeValues={":u": s(username)},
        )
        return [get_s(i, "connectionId") for i in items if get_s(i, "room") == room]

    def evict(self, connection_id: str, room: str) -> Connection | None:
        """Take the connection out of `room` into no room (a kick, a ban, a left private room);
        None if it is no longer there."""
        try:
            response = self.connections.update(
                "evict_connection", {"connectionId": s(connection_id)},
                UpdateExpression="REMOVE room, mutedUntil", ConditionExpression="room = :room",
                ExpressionAttributeValues={":room": s(room)}, ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        return _connection(response["Attributes"])

    def set_muted(self, connection_id: str, room: str, until_ms: int) -> bool:
        """Mark the connection muted until then, if it is still in `room`."""
        try:
            self.connections.update(
                "mute_connection", {"connectionId": s(connection_id)},
                UpdateExpression="SET mutedUntil = :until", ConditionExpression="room = :room",
                ExpressionAttributeValues={":room": s(room), ":until": n(until_ms)},
            )
        except ConditionFailed:
            return False
        return True

    def count_in_room(self, room: str) -> int:
        """How many connections are in the room: a COUNT Query on the by-room index."""
        return self.connections.count("count_in_room", IndexName=ROOM_INDEX, KeyConditionExpression="room = :room",
                                      ExpressionAttributeValues={":room": s(room)})


def _connection(item: dict) -> Connection:
    return Connection(
        connection_id=get_s(item, "connectionId"),
        username=get_s(item, "username"),
        guest=get_bool(item, "guest"),
        room=get_s(item, "room"),
        connected_at_ms=get_n(item, "connectedAt"),
        expires_at=get_n(item, "expiresAt"),
        session_ends_at=get_n(item, "sessionEndsAt"),
        jti=get_s(item, "jti"),
        admin=get_bool(item, "admin"),
        muted_until=get_n(item, "mutedUntil", 0),
        family=get_s(item, "family"),
    )

