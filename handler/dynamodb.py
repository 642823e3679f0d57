"""A lean DynamoDB client for the hot path: the same calls and shapes as boto3's low-level client
(get_item, put_item, update_item, delete_item, query, batch_write_item), sent as DynamoDB's JSON
protocol over a keep-alive connection per thread and signed with botocore's SigV4 signer.

Why: a boto3 call costs about 1 ms of CPU before and after the network (user-agent building,
parameter handling, event hooks, response parsing); this costs about a quarter of that, and
sendmessage makes three calls per message (docs/performance.md). Errors are raised as botocore's
ClientError / EndpointConnectionError, so callers handle both clients alike. Storage uses it when
WSCHAT_DDB_CLIENT=lean (serverless.yml sets it); unit tests run boto3 under moto.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import time
import urllib.parse
import zlib

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError, EndpointConnectionError

_RETRYABLE = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
              "InternalServerError", "ServiceUnavailable", "TransactionConflictException"}
_TLS = ssl.create_default_context()


class LeanDynamoDBClient:
    def __init__(self, endpoint_url: str | None = None, region: str | None = None, timeout: float = 5.0):
        session = botocore.session.get_session()
        self.region = region or session.get_config_variable("region") or os.environ.get("AWS_REGION", "us-east-1")
        self.url = (endpoint_url or f"https://dynamodb.{self.region}.amazonaws.com").rstrip("/") + "/"
        self.parts = urllib.parse.urlsplit(self.url)
        self.credentials = session.get_credentials()
        self.timeout = timeout
        self._local = threading.local()

    # The operations storage.py uses; their keyword arguments are the wire format as they are.
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

    def batch_write_item(self, **request):
        return self._call("BatchWriteItem", request)

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            host, port = self.parts.hostname, self.parts.port
            if self.parts.scheme == "https":
                connection = http.client.HTTPSConnection(host, port or 443, timeout=self.timeout, context=_TLS)
            else:
                connection = http.client.HTTPConnection(host, port or 80, timeout=self.timeout)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def _call(self, operation: str, request: dict) -> dict:
        body = json.dumps(request, separators=(",", ":")).encode("utf-8")
        for attempt in (1, 2):
            try:
                status, headers, payload = self._send(operation, body)
            except (OSError, http.client.HTTPException):
                self._drop_connection()
                if attempt == 2:
                    raise EndpointConnectionError(endpoint_url=self.url) from None
                continue
            crc = headers.get("x-amz-crc32")
            if crc is not None and int(crc) != zlib.crc32(payload):
                if attempt == 2:
                    raise EndpointConnectionError(endpoint_url=self.url)
                continue  # a damaged response: ask again
            data = json.loads(payload) if payload else {}
            if status == 200:
                return data
            code = str(data.get("__type", "Unknown")).rsplit("#", 1)[-1]
            if attempt == 1 and (status >= 500 or code in _RETRYABLE):
                time.sleep(0.05)
                continue
            raise ClientError(
                {"Error": {"Code": code, "Message": data.get("message") or data.get("Message", "")},
                 "ResponseMetadata": {"HTTPStatusCode": status}},
                operation,
            )
        raise AssertionError("unreachable")

    def _send(self, operation: str, body: bytes) -> tuple[int, dict, bytes]:
        request = AWSRequest(method="POST", url=self.url, data=body, headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
        })
        if self.credentials is not None:
            SigV4Auth(self.credentials.get_frozen_credentials(), "dynamodb", self.region).add_auth(request)
        connection = self._connection()
        connection.request("POST", self.parts.path or "/", body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        payload = response.read()
        if response.getheader("connection", "").lower() == "close":
            self._drop_connection()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
