"""FollowUpStore: the sweep's work list, in ActiveConnections beside the connection rows.

A follow-up is a row keyed `due#<kind>#...` with a deadline but no room or user, so that only the
by-deadline index holds it: the sweep's one Query per shard finds the connections whose deadline
passed and the follow-ups due, together (see FollowUp).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from handler.settings import Tables
from handler.store.connections import DEADLINE_INDEX, SWEEP_SHARDS, Connection
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_n, get_s, n, s

# Follow-up rows are keyed by this prefix; API Gateway's connection ids never contain "#".
FOLLOW_UP_PREFIX = "due#"
# A follow-up the sweep never got to (the schedule stopped) is removed this long after it was due.
FOLLOW_UP_TTL_SECONDS = 3600


@dataclass(frozen=True)
class FollowUp:
    """Work for the sweep, due at `due` (epoch s): a row `due#<kind>#<subject...>` in ActiveConnections.

    Kinds: "logout" (username, jti): close that token's connections again, for those the by-user
    index did not show yet when the logout ran; "presence" (room, username): tell the room the
    user's presence as it is now, if frames about it were held back, or once the grace after their
    last connection closed is over (a `left` a reload must not send); "evict" and "mute" (room,
    username): look again after a kick, ban or mute for a connection the by-user index did not
    show yet.
    """

    kind: str
    subject: tuple[str, ...]
    due: int

    @property
    def key(self) -> str:
        return FOLLOW_UP_PREFIX + "#".join((self.kind, *self.subject))


class FollowUpStore:
    def __init__(self, client, tables: Tables, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.connections = Table(client, tables.connections, self.reads)

    def due(self, now_s: int) -> tuple[list[Connection], list[FollowUp]]:
        """What the sweep must do by now: connections whose deadline has passed, and follow-ups
        due. One Query per shard of the by-deadline index."""
        connections, follow_ups = [], []
        for shard in range(SWEEP_SHARDS):
            items = self.connections.query(
                "expired_connections", IndexName=DEADLINE_INDEX,
                KeyConditionExpression="sweepShard = :shard AND deadline <= :now",
                ExpressionAttributeValues={":shard": s(str(shard)), ":now": n(now_s)},
            )
            for i in items:
                key = get_s(i, "connectionId")
                if key.startswith(FOLLOW_UP_PREFIX):
                    kind, _, subject = key[len(FOLLOW_UP_PREFIX):].partition("#")
                    # The last part may hold anything (a jti): split only the first off.
                    parts = tuple(subject.split("#", 1)) if subject else ()
                    follow_ups.append(FollowUp(kind, parts, get_n(i, "deadline", 0)))
                    continue
                connections.append(Connection(
                    connection_id=key, username=get_s(i, "username", ""), guest=False,
                    room=get_s(i, "room", ""), connected_at_ms=0, expires_at=get_n(i, "expiresAt", 0),
                    session_ends_at=None,
                ))
        return connections, follow_ups

    def expired_connections(self, now_s: int) -> list[Connection]:
        """Connections whose deadline has passed."""
        return self.due(now_s)[0]

    def schedule(self, follow_up: FollowUp) -> None:
        """Put a follow-up row; one already there for the same work is replaced (one row per key)."""
        if not follow_up.kind.isalpha() or any("#" in part for part in follow_up.subject[:-1]):
            raise ValueError(f"a follow-up's kind and leading parts may not hold '#': {follow_up.key!r}")
        self.connections.put("schedule_follow_up", {
            "connectionId": s(follow_up.key),
            "deadline": n(follow_up.due),
            "sweepShard": s(str(secrets.randbelow(SWEEP_SHARDS))),
            "ttl": n(follow_up.due + FOLLOW_UP_TTL_SECONDS),
        })

    def pending(self, follow_up: FollowUp) -> bool:
        """Whether a follow-up for the same work (its kind and subject; `due` aside) is waiting."""
        return self.connections.get("pending_follow_up", {"connectionId": s(follow_up.key)}, consistent=True) is not None

    def finish(self, follow_up: FollowUp) -> None:
        """Remove a follow-up that was done, unless it was scheduled again (for later) meanwhile."""
        try:
            self.connections.delete(
                "finish_follow_up", {"connectionId": s(follow_up.key)},
                ConditionExpression="deadline = :due", ExpressionAttributeValues={":due": n(follow_up.due)},
            )
        except ConditionFailed:
            pass
