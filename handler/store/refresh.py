"""RefreshStore: refresh-token families, one item per sign-in in the Limits table.

    refresh#<family>   username, hash (SHA-256 of the current refresh token's secret), endsAt
                       (no refresh after it; also the ttl), jti of the latest access token,
                       `used` (a string set: the first 16 hex digits of the SHA-256 of every
                       secret rotated away), `prevUsed` and `rotatedAt` (the last secret rotated
                       away and when: see REPLAY_SECONDS) and `revoked` once a logout or a reused
                       token ended it

A refresh token is `<family>.<secret>`; only the secret's hash is stored. Each use rotates it: one
conditional update replaces the hash if the presented one is the current one, so of two uses of
the same token only one can win, and a token that was already rotated away (a copy someone kept)
is seen as reuse. Only a secret the family really issued and rotated away (its hash is in
`used`) counts as reuse: anyone can read a family id (claim `fam` of every access token), so a
made-up secret under it is merely wrong, and ends nothing. Access tokens name their family (claim `fam`); a revoked family's tokens are
refused wherever a revoked token is (`revoked#fam#<family>` beside `revoked#<jti>`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from handler.settings import Tables
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_bool, get_n, get_s, n, s


def secret_hash(secret: str) -> str:
    # A refresh secret is 256 random bits, so a plain hash is enough (no guessing to slow down).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# What `used` keeps of each rotated-away secret: 64 bits of its hash, so that a family renewed every
# 45 minutes for 30 days (960 rotations) holds about 16 KB. Forging a match would take a preimage
# of 64 bits, at the per-address limit of POST /refresh.
USED_HASH_CHARS = 16
# A family rotates at most this often; then it must sign in again. Bounds the item's size (34 KB,
# under DynamoDB's 400 KB) and is twice what a 30-day sign-in renewing every 45 minutes needs.
MAX_ROTATIONS = 2000
# The secret rotated away last may be presented again this long after its rotation, once, and
# rotates again: the answer of a rotation can be lost (a request that timed out on a slow network
# while the server went on, a tab closed mid-request), and the page then asks again with the secret
# it still holds. Taken for reuse, that would end the sign-in everywhere. The secret the lost answer
# carried is rotated away with it (into `used`), so a thief replaying a stolen secret in this window
# makes the owner's next renewal a reuse that ends the sign-in, as before.
REPLAY_SECONDS = 60


# A refresh token is `<family>.<secret>`, each URL-safe base64 (accounts.py makes them).
REFRESH_TOKEN_MAX_CHARS = 200
_URLSAFE = re.compile(r"[A-Za-z0-9_\-]{8,64}")


def split_refresh_token(token: object) -> tuple[str, str] | None:
    """(family, secret) of a well-formed refresh token, else None."""
    if not isinstance(token, str) or not 0 < len(token) <= REFRESH_TOKEN_MAX_CHARS:
        return None
    family, dot, secret = token.partition(".")
    if not dot or not _URLSAFE.fullmatch(family) or not _URLSAFE.fullmatch(secret):
        return None
    return family, secret


def used_hash(secret: str) -> str:
    return secret_hash(secret)[:USED_HASH_CHARS]


@dataclass(frozen=True)
class Family:
    family: str
    username: str
    ends_at: int
    revoked: bool
    used: frozenset = frozenset()  # USED_HASH_CHARS-digit hashes of the secrets rotated away
    current_hash: str = ""  # the current secret's hash
    prev_used: str = ""  # used_hash of the secret rotated away last
    rotated_at: int = 0  # when (epoch seconds)
    jti: str = ""  # the id of the latest access token issued with a rotation

    def replayable(self, secret: str, now_s: int) -> bool:
        """Whether `secret` is the one rotated away last, within REPLAY_SECONDS (a lost answer)."""
        return bool(self.prev_used) and used_hash(secret) == self.prev_used and now_s - self.rotated_at <= REPLAY_SECONDS

    def issued(self, secret: str) -> bool:
        """Whether `secret` is one this family issued and then rotated away (a reuse)."""
        return used_hash(secret) in self.used

    @property
    def exhausted(self) -> bool:
        return len(self.used) >= MAX_ROTATIONS


@dataclass(frozen=True)
class Rotation:
    """What rotate() found: `family` (None: no such family), and whether the token was current."""

    rotated: bool
    family: Family | None


class RefreshStore:
    def __init__(self, client, tables: Tables, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.limits = Table(client, tables.limits, self.reads)

    def create(self, *, family: str, username: str, secret: str, ends_at: int, jti: str) -> None:
        """A new family (a login): an UpdateItem, so that roles which may only update Limits can."""
        self.limits.update(
            "refresh_create", {"key": s(f"refresh#{family}")},
            UpdateExpression="SET username = :u, #hash = :h, endsAt = :end, #ttl = :end, jti = :jti",
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#hash": "hash", "#ttl": "ttl", "#key": "key"},
            ExpressionAttributeValues={":u": s(username), ":h": s(secret_hash(secret)), ":end": n(ends_at),
                                       ":jti": s(jti)},
        )

    def rotate(self, *, family: str, secret: str, new_secret: str, jti: str, now_s: int) -> Rotation:
        """Replace the family's token by `new_secret` if `secret` is its current one and the family
        is neither revoked nor over; else say what is there (the caller tells reuse from the rest)."""
        try:
            response = self.limits.update(
                "refresh_rotate", {"key": s(f"refresh#{family}")},
                UpdateExpression="SET #hash = :new, jti = :jti, prevUsed = :prev, rotatedAt = :now ADD used :was",
                ConditionExpression=("#hash = :old AND attribute_not_exists(revoked) AND endsAt > :now "
                                     "AND (attribute_not_exists(used) OR size(used) < :max)"),
                ExpressionAttributeNames={"#hash": "hash"},
                ExpressionAttributeValues={":new": s(secret_hash(new_secret)), ":old": s(secret_hash(secret)),
                                           ":jti": s(jti), ":now": n(now_s), ":was": {"SS": [used_hash(secret)]},
                                           ":prev": s(used_hash(secret)), ":max": n(MAX_ROTATIONS)},
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as refused:
            return Rotation(False, _family(family, refused.item))
        return Rotation(True, _family(family, response["Attributes"]))

    def rotate_replayed(self, found: Family, *, new_secret: str, jti: str, now_s: int) -> Rotation:
        """Rotate again for the secret rotated away last (found.replayable): the current secret, which
        its owner may never have received, is rotated away too. Only if nothing changed since
        `found` was read, so that two replays cannot both win."""
        try:
            response = self.limits.update(
                "refresh_rotate", {"key": s(f"refresh#{found.family}")},
                UpdateExpression="SET #hash = :new, jti = :jti ADD used :current REMOVE prevUsed",
                ConditionExpression=("#hash = :seen AND prevUsed = :prev AND rotatedAt = :at "
                                     "AND attribute_not_exists(revoked) AND endsAt > :now AND size(used) < :max"),
                ExpressionAttributeNames={"#hash": "hash"},
                ExpressionAttributeValues={":new": s(secret_hash(new_secret)), ":jti": s(jti),
                                           ":current": {"SS": [found.current_hash[:USED_HASH_CHARS]]},
                                           ":seen": s(found.current_hash), ":prev": s(found.prev_used),
                                           ":at": n(found.rotated_at), ":now": n(now_s), ":max": n(MAX_ROTATIONS)},
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as refused:
            return Rotation(False, _family(found.family, refused.item))
        return Rotation(True, _family(found.family, response["Attributes"]))

    def revoke(self, family: str, until_s: int) -> Family | None:
        """End the family: no refresh, and its access tokens refused (until `until_s`, when the
        last of them has expired). None if there is no such family."""
        self.limits.put("refresh_revoke_tokens", {"key": s(f"revoked#fam#{family}"), "ttl": n(until_s)})
        try:
            response = self.limits.update(
                "refresh_revoke", {"key": s(f"refresh#{family}")}, UpdateExpression="SET revoked = :yes",
                ConditionExpression="attribute_exists(#key)", ExpressionAttributeNames={"#key": "key"},
                ExpressionAttributeValues={":yes": {"BOOL": True}}, ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        return _family(family, response["Attributes"])

    def is_revoked(self, family: str) -> bool:
        return self.limits.get("is_family_revoked", {"key": s(f"revoked#fam#{family}")}, consistent=True) is not None


def _family(family: str, item: dict | None) -> Family | None:
    if not item or "username" not in item:
        return None
    return Family(family=family, username=get_s(item, "username"), ends_at=get_n(item, "endsAt", 0),
                  revoked=get_bool(item, "revoked"), used=frozenset(item.get("used", {}).get("SS", ())),
                  current_hash=get_s(item, "hash") or "", prev_used=get_s(item, "prevUsed") or "",
                  rotated_at=get_n(item, "rotatedAt", 0), jti=get_s(item, "jti") or "")
