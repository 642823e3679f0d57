"""What every store shares: attribute values, error translation, one pager, read counting.

Stores take any client with boto3's low-level DynamoDB interface: boto3's own (moto in unit
tests, tools) or the lean client of the hot path (handler/lean_dynamodb.py), which raises the same
botocore exceptions. Those exceptions stop here: stores raise ConditionFailed (a condition they
asked for did not hold) or StorageUnavailable (anything else).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from handler.errors import StorageUnavailable, WschatError

# BatchWriteItem takes at most 25 requests.
BATCH_WRITE_MAX = 25
# BatchGetItem takes at most 100 keys.
BATCH_GET_MAX = 100


class ConditionFailed(WschatError):
    """Raised when a write's ConditionExpression did not hold: nothing was written.

    `item` is what the item held, when the write asked for it (ReturnValuesOnConditionCheckFailure);
    for a transaction, `reasons` has one entry per action ({"Code": "None" | "ConditionalCheckFailed"
    | "TransactionConflict", "Item": ...}).
    """

    def __init__(self, operation: str, *, item: dict | None = None, reasons: list[dict] | None = None):
        super().__init__(operation)
        self.item = item
        self.reasons = reasons or []

    def failed_at(self, index: int) -> bool:
        """Whether the transaction's action at `index` is one whose condition did not hold."""
        return len(self.reasons) > index and self.reasons[index].get("Code") == "ConditionalCheckFailed"

    def stopped_at(self, index: int) -> bool:
        """Whether the action at `index` failed its condition or met another transaction on its item."""
        return self.failed_at(index) or (len(self.reasons) > index
                                         and self.reasons[index].get("Code") == "TransactionConflict")


# What a cancelled transaction may report per action and still count as "a condition did not hold"
# (a conflict with another transaction on the same item is worth trying again, as a condition is).
_CANCELLED_BY_CONDITION = {"None", "ConditionalCheckFailed", "TransactionConflict"}


def s(value: str) -> dict:
    return {"S": value}


def n(value: int | float) -> dict:
    return {"N": str(value)}


def get_s(item: dict, name: str, default: str | None = None) -> str | None:
    return item.get(name, {}).get("S", default)


def get_n(item: dict, name: str, default: int | None = None) -> int | None:
    value = item.get(name, {}).get("N")
    return default if value is None else int(float(value))


def get_bool(item: dict, name: str, default: bool = False) -> bool:
    return item.get(name, {}).get("BOOL", default)


@contextlib.contextmanager
def call(operation: str):
    """Translate what a DynamoDB call raises into the domain's errors."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed(operation, item=exc.response.get("Item")) from None
        reasons = exc.response.get("CancellationReasons") or []
        if code == "TransactionCanceledException" and all(r.get("Code") in _CANCELLED_BY_CONDITION for r in reasons):
            raise ConditionFailed(operation, reasons=reasons) from None
        raise StorageUnavailable(f"{operation}: {code}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"{operation}: {exc.__class__.__name__}") from exc


class Table:
    """One table through one client, counting the items this process read (logs and the bench)."""

    def __init__(self, client, name: str, reads: "ReadCounter"):
        self.client = client
        self.name = name
        self.reads = reads

    def get(self, operation: str, key: dict, *, consistent: bool = False) -> dict | None:
        with call(operation):
            item = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=consistent).get("Item")
        self.reads.add(1 if item else 0)
        return item

    def put(self, operation: str, item: dict, **condition) -> None:
        with call(operation):
            self.client.put_item(TableName=self.name, Item=item, **condition)

    def update(self, operation: str, key: dict, **request) -> dict:
        with call(operation):
            return self.client.update_item(TableName=self.name, Key=key, **request)

    def delete(self, operation: str, key: dict, **request) -> dict:
        with call(operation):
            return self.client.delete_item(TableName=self.name, Key=key, **request)

    def query(self, operation: str, *, limit: int | None = None, **request) -> Iterator[dict]:
        """Every item of a Query, following LastEvaluatedKey; with `limit`, one page of that many."""
        request = {"TableName": self.name, **request}
        if limit is not None:
            request["Limit"] = limit
        while True:
            with call(operation):
                response = self.client.query(**request)
            items = response.get("Items", [])
            self.reads.add(len(items))
            yield from items
            last = response.get("LastEvaluatedKey")
            if limit is not None or not last:
                return
            request["ExclusiveStartKey"] = last

    def count(self, operation: str, *, at_most: int | None = None, **request) -> int:
        """How many items a Query matches (Select COUNT: no items come back), every page followed;
        with `at_most`, no more than that many are looked at (the answer is then at most it)."""
        request = {"TableName": self.name, "Select": "COUNT", **request}
        total = 0
        while True:
            if at_most is not None:
                request["Limit"] = at_most - total
            with call(operation):
                response = self.client.query(**request)
            total += response.get("Count", 0)
            if not response.get("LastEvaluatedKey") or (at_most is not None and total >= at_most):
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_many(self, operation: str, keys: list[dict], *, consistent: bool = False, **projection) -> list[dict]:
        """BatchGetItem of at most 100 keys (in any order), retrying what DynamoDB left unprocessed.
        `projection`: ProjectionExpression and ExpressionAttributeNames, to read only those."""
        if len(keys) > BATCH_GET_MAX:
            raise ValueError(f"{operation}: at most {BATCH_GET_MAX} keys in one BatchGetItem")
        found: list[dict] = []
        request = {self.name: {"Keys": keys, "ConsistentRead": consistent, **projection}}
        for _ in range(3):
            if not keys:
                break
            with call(operation):
                response = self.client.batch_get_item(RequestItems=request)
            items = response.get("Responses", {}).get(self.name, [])
            self.reads.add(len(items))
            found.extend(items)
            request = response.get("UnprocessedKeys") or {}
            if not request.get(self.name, {}).get("Keys"):
                return found
        if request.get(self.name, {}).get("Keys"):
            raise StorageUnavailable(f"{operation}: keys left unprocessed")
        return found

    def delete_many(self, operation: str, keys: list[dict]) -> None:
        """Delete in BatchWriteItem requests of 25, retrying what DynamoDB left unprocessed."""
        for start in range(0, len(keys), BATCH_WRITE_MAX):
            requests = [{"DeleteRequest": {"Key": key}} for key in keys[start:start + BATCH_WRITE_MAX]]
            with call(operation):
                for _ in range(3):
                    response = self.client.batch_write_item(RequestItems={self.name: requests})
                    requests = response.get("UnprocessedItems", {}).get(self.name, [])
                    if not requests:
                        break


def get_across(client, operation: str, reads: "ReadCounter", wanted: list[tuple[str, dict]]) -> list[dict | None]:
    """One strongly consistent BatchGetItem of items in several tables, (table name, key) each:
    the items in that order, None for one that is not there. One request where a GetItem each
    would be as many (the hot path reads the connection row and the sender's budget so)."""
    found: dict[str, list[dict]] = {}
    request = {}
    for table, key in wanted:
        request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
    for attempt in range(3):
        if attempt:
            time.sleep(0.02 * 2 ** attempt)  # keys left unprocessed (throttling): back off a little
        with call(operation):
            response = client.batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
            reads.add(len(items))
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
    else:
        raise StorageUnavailable(f"{operation}: keys left unprocessed")
    return [next((item for item in found.get(table, []) if all(item.get(a) == v for a, v in key.items())), None)
            for table, key in wanted]


# A retried request whose first copy DynamoDB is still carrying out: wait this long, up to this often.
IN_PROGRESS_PAUSE_SECONDS = 0.1
IN_PROGRESS_ATTEMPTS = 3


def transact_write(client, operation: str, actions: list[dict], *, token: str | None = None) -> None:
    """TransactWriteItems: every action (Put, Update, Delete, ConditionCheck, each naming its
    table) or none. A condition that did not hold raises ConditionFailed with the `reasons`.

    `token` (ClientRequestToken, at most 36 characters, new for each write): for 10 minutes,
    DynamoDB answers a second copy of the request (a retry after a lost answer) with the first
    one's success instead of running it again, where its conditions would fail on its own
    writes. A copy that arrives while the first still runs is TransactionInProgressException:
    asked again a moment later."""
    request = {"TransactItems": actions, **({"ClientRequestToken": token} if token else {})}
    for attempt in range(1, IN_PROGRESS_ATTEMPTS + 1):
        try:
            with call(operation):
                client.transact_write_items(**request)
            return
        except StorageUnavailable as exc:
            cause = exc.__cause__
            in_progress = isinstance(cause, ClientError) and \
                cause.response.get("Error", {}).get("Code") == "TransactionInProgressException"
            if not (token and in_progress and attempt < IN_PROGRESS_ATTEMPTS):
                raise
            time.sleep(IN_PROGRESS_PAUSE_SECONDS)


class ReadCounter:
    """Items read by this process, shared by its tables: each invocation's log line reports its share."""

    def __init__(self):
        self.total = 0
        self._lock = threading.Lock()

    def add(self, items: int) -> None:
        with self._lock:
            self.total += items
