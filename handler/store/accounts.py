"""AccountsStore: users (Users), limit counters and revoked tokens (Limits).

Users are keyed by the lower-cased username so that "Alice" and "alice" are one name. Limits
holds short-lived counters (failed logins, sign-ups per address) and revoked token ids; every
item there carries a ttl. Expired items stay readable until DynamoDB's TTL process removes them
(up to about two days), so every read here checks the ttl itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from handler import protocol
from handler.errors import StorageUnavailable
from handler.settings import Tables
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_bool, get_n, get_s, n, s


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str | None
    guest: bool


class AccountsStore:
    def __init__(self, client, tables: Tables, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.users = Table(client, tables.users, self.reads)
        self.limits = Table(client, tables.limits, self.reads)

    # -- users ---------------------------------------------------------------------------------

    def create_user(
        self, *, username: str, password_hash: str | None, guest: bool, created_at_ms: int, ttl: int | None = None
    ) -> bool:
        """Create the account; False if the name (in any letter case) is taken."""
        item = {
            "usernameKey": s(username.lower()),
            "username": s(username),
            "guest": {"BOOL": guest},
            "createdAt": s(protocol.iso_utc(created_at_ms)),
        }
        if password_hash is not None:
            item["passwordHash"] = s(password_hash)
        if ttl is not None:
            item["ttl"] = n(ttl)
        try:
            self.users.put(
                "create_user", item,
                # A guest whose time ran out frees the name even before TTL deletes the row.
                ConditionExpression="attribute_not_exists(usernameKey) OR (guest = :true AND #ttl < :now)",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":true": {"BOOL": True}, ":now": n(created_at_ms // 1000)},
            )
        except ConditionFailed:
            return False
        return True

    def get_user(self, username: str) -> User | None:
        item = self.users.get("get_user", {"usernameKey": s(username.lower())}, consistent=True)
        if not item:
            return None
        return User(username=get_s(item, "username"), password_hash=get_s(item, "passwordHash"), guest=get_bool(item, "guest"))

    # -- limit counters ------------------------------------------------------------------------

    def counter(self, key: str, now_s: int) -> int:
        """A limit counter's value; 0 once its window has ended."""
        item = self.limits.get("counter", {"key": s(key)}, consistent=True)
        if not item or get_n(item, "ttl", 0) <= now_s:
            return 0
        return get_n(item, "count", 0)

    def bump_counter(self, key: str, now_s: int, window_seconds: int) -> int:
        """Add one to a counter whose window starts with its first count; return the new value."""
        for _ in range(2):
            try:
                response = self.limits.update(
                    "bump_counter", {"key": s(key)},
                    UpdateExpression="ADD #count :one SET #ttl = if_not_exists(#ttl, :end)",
                    ConditionExpression="attribute_not_exists(#ttl) OR #ttl > :now",
                    ExpressionAttributeNames={"#count": "count", "#ttl": "ttl"},
                    ExpressionAttributeValues={":one": n(1), ":end": n(now_s + window_seconds), ":now": n(now_s)},
                    ReturnValues="UPDATED_NEW",
                )
                return get_n(response["Attributes"], "count")
            except ConditionFailed:
                self.clear_counter(key)  # the old window ended: start a new one
        raise StorageUnavailable("bump_counter: contention")

    def clear_counter(self, key: str) -> None:
        self.limits.delete("clear_counter", {"key": s(key)})

    # -- revoked tokens ------------------------------------------------------------------------

    def revoke_token(self, jti: str, until_s: int) -> None:
        self.limits.put("revoke_token", {"key": s(f"revoked#{jti}"), "ttl": n(until_s)})

    def is_revoked(self, jti: str) -> bool:
        return self.limits.get("is_revoked", {"key": s(f"revoked#{jti}")}, consistent=True) is not None
