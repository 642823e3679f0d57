"""BudgetStore: rate budgets (limits.Budget) in the Limits table, one item per subject.

    budget#message#<username>            one message budget per user, shared by all their connections
    budget#join#<username>               joins
    budget#history#<username>            history requests
    budget#presence#<room>#<username>    presence frames about a user in a room; `note` holds the
                                         last event sent ("joined" or "left"), for the sweep

Each item holds `tat` (epoch ms, see limits.Budget) and a `ttl` shortly after it: an item whose
`tat` has passed means the same as no item, so a late TTL deletion changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from handler.limits import Budget
from handler.settings import Tables
from handler.store.dynamo import ConditionFailed, ReadCounter, Table, get_n, get_s, n, s

# An item outlives its `tat` by this much (TTL deletes it some time later still).
TTL_SLACK_SECONDS = 60


def _key(kind: str, subject: str) -> dict:
    return {"key": s(f"budget#{kind}#{subject}")}


@dataclass(frozen=True)
class Spending:
    """One action of a budget read a moment ago: `action`, the transaction Update that spends it
    (written with the action itself), or `wait_ms` when the budget allows none now."""

    action: dict | None = None
    wait_ms: int | None = None


class BudgetStore:
    def __init__(self, client, tables: Tables, reads: ReadCounter | None = None):
        self.reads = reads or ReadCounter()
        self.limits = Table(client, tables.limits, self.reads)

    def spend(self, kind: str, subject: str, budget: Budget, now_ms: int, *, note: str | None = None) -> int | None:
        """Spend one action of the subject's budget: None if it is allowed, else how many
        milliseconds until the next one will be.

        Conditional updates only, no read: the first holds when the budget is full (no `tat`, or one
        in the past), the second when there is room left (Budget.spend in DynamoDB's words). A
        refused action costs both, and writes nothing.
        """
        key = _key(kind, subject)
        names = {"#ttl": "ttl"}
        noted = ""
        values = {":now": n(now_ms)}
        if note is not None:
            noted, values[":note"] = ", note = :note", s(note)
        latest_tat = now_ms + budget.tolerance_ms + budget.interval_ms
        values[":ttl"] = n(latest_tat // 1000 + TTL_SLACK_SECONDS)
        try:
            self.limits.update(
                "spend_budget", key,
                UpdateExpression=f"SET tat = :fresh, #ttl = :ttl{noted}",
                ConditionExpression="attribute_not_exists(tat) OR tat <= :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":fresh": n(now_ms + budget.interval_ms)},
            )
            return None
        except ConditionFailed:
            pass
        try:
            self.limits.update(
                "spend_budget", key,
                UpdateExpression=f"SET tat = tat + :interval, #ttl = :ttl{noted}",
                ConditionExpression="tat <= :limit",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **{k: v for k, v in values.items() if k != ":now"},
                    ":interval": n(budget.interval_ms), ":limit": n(now_ms + budget.tolerance_ms),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return None
        except ConditionFailed as refused:
            tat = get_n(refused.item or {}, "tat")
        # No `tat` here means the item vanished between the two writes: count it as one interval.
        return budget.interval_ms if tat is None else budget.retry_after_ms(tat, now_ms)

    def key(self, kind: str, subject: str) -> dict:
        """The subject's budget item's key in the Limits table (`table`)."""
        return _key(kind, subject)

    @property
    def table(self) -> str:
        return self.limits.name

    def spending(self, kind: str, subject: str, budget: Budget, now_ms: int, seen: dict | None) -> Spending:
        """Spend one action of a budget as read a moment ago (`seen`: its item, or None), in a
        transaction with the action: the Update holds only if the budget is still as it was read,
        so that two actions at once cannot both take its last place (the one whose transaction
        fails reads again). sendmessage spends so: the budget is read with the connection row,
        and a refusal writes nothing."""
        tat = get_n(seen, "tat") if seen else None
        fresh = budget.spend(tat, now_ms)
        if fresh is None:
            return Spending(wait_ms=budget.retry_after_ms(tat, now_ms))
        unchanged = ({"ConditionExpression": "attribute_not_exists(tat)"} if tat is None
                     else {"ConditionExpression": "tat = :seen", "ExpressionAttributeValues": {":seen": seen["tat"]}})
        latest_tat = now_ms + budget.tolerance_ms + budget.interval_ms
        return Spending(action={"Update": {
            "TableName": self.limits.name, "Key": _key(kind, subject),
            "UpdateExpression": "SET tat = :fresh, #ttl = :ttl",
            **unchanged,
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": {**unchanged.get("ExpressionAttributeValues", {}), ":fresh": n(fresh),
                                          ":ttl": n(latest_tat // 1000 + TTL_SLACK_SECONDS)},
        }})

    def note(self, kind: str, subject: str) -> str | None:
        """The `note` written with the subject's last allowed action (None if there is none)."""
        item = self.limits.get("budget_note", _key(kind, subject), consistent=True)
        return get_s(item, "note") if item else None
