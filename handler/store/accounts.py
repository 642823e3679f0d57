"""AccountsStore: users (Users), limit counters, known addresses and revoked tokens (Limits).

Users are keyed by username_key(): the name in Unicode's NFKC form, case-folded, so that "Alice",
"alice" and "ａｌｉｃｅ" are one name. Limits holds short-lived counters (failed logins, sign-ups
per address), the addresses users logged in from, and revoked token ids; every item there carries
a ttl. Expired items stay readable until DynamoDB's TTL process removes them (up to about two
days), so every read here checks the ttl itself.

A counter counts within a window that its first count starts. take() is one conditional
UpdateItem that adds one only inside the window and under the limit, so concurrent callers can
never take more than the limit between them; a window that has ended is restarted by another
conditional UpdateItem that only one caller can win (no read-then-write, no delete).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from handler import protocol
from handler.errors import StorageUnavailable
from handler.settings import Tables
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_bool, get_n, get_s, n, s


# The `role` of a site admin's Users row: they moderate every room (handler/rooms.py).
ADMIN_ROLE = "admin"


def username_key(username: str) -> str:
    """The one key of a name in any letter case or compatibility form (full-width, ligatures, ...)."""
    return unicodedata.normalize("NFKC", username).casefold()


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str | None
    guest: bool


@dataclass(frozen=True)
class Taken:
    """What take() did: `granted` one more (count is then the count with it), or not (the limit
    was reached: count is the current count). The window ends at `ends_at` (epoch seconds)."""

    granted: bool
    count: int
    ends_at: int


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
            "usernameKey": s(username_key(username)),
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
        item = self.users.get("get_user", {"usernameKey": s(username_key(username))}, consistent=True)
        if not item:
            return None
        return User(username=get_s(item, "username"), password_hash=get_s(item, "passwordHash"), guest=get_bool(item, "guest"))

    def set_password_hash(self, username: str, new_hash: str, *, replacing: str | None = None) -> bool:
        """Store a member's new hash; with `replacing`, only if that is still the stored one (a
        rehash must not undo a password change that happened meanwhile). False if it was not."""
        condition = {"ConditionExpression": "attribute_exists(usernameKey)"}
        if replacing is not None:
            condition = {"ConditionExpression": "passwordHash = :old",
                         "ExpressionAttributeValues": {":old": s(replacing), ":new": s(new_hash)}}
        else:
            condition["ExpressionAttributeValues"] = {":new": s(new_hash)}
        try:
            self.users.update("set_password_hash", {"usernameKey": s(username_key(username))},
                              UpdateExpression="SET passwordHash = :new", **condition)
        except ConditionFailed:
            return False
        return True

    # -- limit counters ------------------------------------------------------------------------

    def counter(self, key: str, now_s: int) -> int:
        """A limit counter's value; 0 once its window has ended."""
        item = self.limits.get("counter", {"key": s(key)}, consistent=True)
        if not item or get_n(item, "ttl", 0) <= now_s:
            return 0
        return get_n(item, "count", 0)

    def take(self, key: str, now_s: int, window_seconds: int, limit: int | None = None) -> Taken:
        """Count one more in the key's window, if the count stays within `limit` (None: no limit).
        A window starts with its first count and lasts `window_seconds`."""
        if limit is not None and limit < 1:
            return Taken(False, 0, now_s + window_seconds)
        names = {"#count": "count", "#ttl": "ttl"}
        for _ in range(3):
            condition, values = "#ttl > :now", {":one": n(1), ":now": n(now_s)}
            if limit is not None:
                condition, values = condition + " AND #count < :limit", values | {":limit": n(limit)}
            try:
                item = self.limits.update(
                    "take", {"key": s(key)}, UpdateExpression="ADD #count :one", ConditionExpression=condition,
                    ExpressionAttributeNames=names, ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
                )["Attributes"]
                return Taken(True, get_n(item, "count"), get_n(item, "ttl"))
            except ConditionFailed:
                pass  # the window has ended (or never started), or it is full
            try:
                # Only one caller can restart an ended window: the first one's ttl is in the future.
                self.limits.update(
                    "take", {"key": s(key)}, UpdateExpression="SET #count = :one, #ttl = :end",
                    ConditionExpression="attribute_not_exists(#ttl) OR #ttl <= :now", ExpressionAttributeNames=names,
                    ExpressionAttributeValues={":one": n(1), ":now": n(now_s), ":end": n(now_s + window_seconds)},
                )
                return Taken(True, 1, now_s + window_seconds)
            except ConditionFailed:
                pass  # a window is running: full, or another caller has just started it
            item = self.limits.get("take", {"key": s(key)}, consistent=True) or {}
            count, ends_at = get_n(item, "count", 0), get_n(item, "ttl", 0)
            if limit is not None and ends_at > now_s and count >= limit:
                return Taken(False, count, ends_at)
        raise StorageUnavailable("take: contention")

    def give_back(self, key: str, taken: Taken) -> None:
        """Undo a granted take(), if its window is still the current one."""
        if not taken.granted:
            return
        try:
            self.limits.update(
                "give_back", {"key": s(key)}, UpdateExpression="ADD #count :minus",
                ConditionExpression="#ttl = :end AND #count > :zero",
                ExpressionAttributeNames={"#count": "count", "#ttl": "ttl"},
                ExpressionAttributeValues={":minus": n(-1), ":end": n(taken.ends_at), ":zero": n(0)},
            )
        except ConditionFailed:
            pass  # a new window has started since: the taken one went with the old

    def take_turn(self, key: str, now_s: int, next_s: int, keep_until_s: int) -> int | None:
        """Hold the key's turn until `next_s`, if no turn is held past now; None if it was taken,
        else when the current turn ends. `keep_until_s` is the item's ttl if it has none yet."""
        try:
            self.limits.update(
                "take_turn", {"key": s(key)}, UpdateExpression="SET #next = :next, #ttl = if_not_exists(#ttl, :keep)",
                ConditionExpression="attribute_not_exists(#next) OR #next <= :now",
                ExpressionAttributeNames={"#next": "nextAt", "#ttl": "ttl"},
                ExpressionAttributeValues={":next": n(next_s), ":now": n(now_s), ":keep": n(keep_until_s)},
            )
            return None
        except ConditionFailed:
            item = self.limits.get("take_turn", {"key": s(key)}, consistent=True) or {}
            return max(get_n(item, "nextAt", now_s), now_s + 1)

    def bump_counter(self, key: str, now_s: int, window_seconds: int) -> int:
        """Add one to a counter whose window starts with its first count; return the new value."""
        return self.take(key, now_s, window_seconds).count

    def clear_counter(self, key: str) -> None:
        self.limits.delete("clear_counter", {"key": s(key)})

    # -- known addresses -----------------------------------------------------------------------

    def remember(self, key: str, until_s: int) -> None:
        """Mark `key` (a user's address) until `until_s`. An UpdateItem, so a role that may only
        update Limits (sign-up) can do it."""
        self.limits.update("remember", {"key": s(key)}, UpdateExpression="SET #ttl = :until",
                           ExpressionAttributeNames={"#ttl": "ttl"}, ExpressionAttributeValues={":until": n(until_s)})

    def remembered(self, key: str, now_s: int) -> bool:
        item = self.limits.get("remembered", {"key": s(key)}, consistent=True)
        return item is not None and get_n(item, "ttl", 0) > now_s

    # -- revoked tokens ------------------------------------------------------------------------

    def revoke_token(self, jti: str, until_s: int) -> None:
        self.limits.put("revoke_token", {"key": s(f"revoked#{jti}"), "ttl": n(until_s)})

    def is_revoked(self, jti: str) -> bool:
        return self.limits.get("is_revoked", {"key": s(f"revoked#{jti}")}, consistent=True) is not None

    # -- site roles (rooms and moderation) -------------------------------------------------------

    def account(self, username: str) -> tuple[str, bool] | None:
        """(the name as registered, whether a site admin) of a member or guest; None if unknown.
        A guest whose time ran out is unknown."""
        item = self.users.get("account", {"usernameKey": s(username_key(username))}, consistent=True)
        if not item:
            return None
        return get_s(item, "username"), get_s(item, "role") == ADMIN_ROLE

    def is_admin(self, username: str) -> bool:
        found = self.account(username)
        return bool(found and found[1])

    def set_admin(self, username: str, admin: bool) -> bool:
        """Give or take the site admin role (`make admin`); False if there is no such member."""
        update = "SET #role = :admin" if admin else "REMOVE #role"
        values = {":admin": s(ADMIN_ROLE)} if admin else {}
        try:
            self.users.update(
                "set_role", {"usernameKey": s(username_key(username))}, UpdateExpression=update,
                ConditionExpression="attribute_exists(usernameKey) AND guest = :false",
                ExpressionAttributeNames={"#role": "role"},
                ExpressionAttributeValues={":false": {"BOOL": False}, **values},
            )
        except ConditionFailed:
            return False
        return True
