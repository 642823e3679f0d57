"""The lean DynamoDB client of the hot path: the calls and shapes of boto3's low-level client
(get_item, put_item, update_item, delete_item, query, batch_get_item, batch_write_item,
transact_write_items), sent as DynamoDB's JSON
protocol through the shared transport (handler/transport.py).

Why: sendmessage makes four DynamoDB calls per message (its user's budget, the connection, the
write, the audience), and a boto3 call costs about four times the CPU of this one
(docs/performance.md). Errors are raised as botocore's ClientError and EndpointConnectionError,
so the stores handle both clients alike. Settings.ddb_client picks it ("lean", which
serverless.yml sets); unit tests run boto3's client under moto.
"""

from __future__ import annotations

import json
import zlib

from handler.transport import Response, Transport, TransportError

_RETRYABLE_CODES = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                    "InternalServerError", "ServiceUnavailable", "TransactionConflictException"}


def _error_code(response: Response) -> str:
    try:
        data = json.loads(response.body or b"{}")
    except ValueError:
        return "Unknown"
    return str(data.get("__type", "Unknown")).rsplit("#", 1)[-1]


def _retryable(response: Response) -> bool:
    # A damaged body (checksum mismatch) is asked again too.
    return (response.status != 200 and _error_code(response) in _RETRYABLE_CODES) or not _intact(response)


def _intact(response: Response) -> bool:
    crc = response.headers.get("x-amz-crc32")
    return crc is None or int(crc) == zlib.crc32(response.body)


class LeanDynamoDBClient:
    def __init__(self, transport: Transport, endpoint_url: str | None = None):
        self.transport = transport
        self.url = (endpoint_url or f"https://dynamodb.{transport.region}.amazonaws.com").rstrip("/") + "/"

    # The operations the stores use; their keyword arguments are the wire format as they are.
    def get_item(self, **request):
        return self._call("GetItem", request)

    def put_item(self, **request):
        return self._call("PutItem", request)

    def update_item(self, **request):
        return self._call("UpdateItem", request)

    def delete_item(self, **request):
        return self._call("DeleteItem", request)

    def query(self, **request):
        return self._call("Query", request)

    def batch_get_item(self, **request):
        return self._call("BatchGetItem", request)

    def batch_write_item(self, **request):
        return self._call("BatchWriteItem", request)

    def transact_write_items(self, **request):
        return self._call("TransactWriteItems", request)

    def _call(self, operation: str, request: dict) -> dict:
        from botocore.exceptions import ClientError, EndpointConnectionError

        body = json.dumps(request, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{operation}"}
        try:
            response = self.transport.request("dynamodb", "POST", self.url, body, headers, retryable=_retryable)
        except TransportError:
            raise EndpointConnectionError(endpoint_url=self.url) from None
        if not _intact(response):
            raise EndpointConnectionError(endpoint_url=self.url)
        data = json.loads(response.body) if response.body else {}
        if response.status == 200:
            return data
        error = {"Error": {"Code": _error_code(response), "Message": data.get("message") or data.get("Message", "")},
                 "ResponseMetadata": {"HTTPStatusCode": response.status}}
        # As boto3 does: the item a failed condition saw, and why each action of a transaction failed.
        for extra in ("Item", "CancellationReasons"):
            if extra in data:
                error[extra] = data[extra]
        raise ClientError(error, operation)
