"""Posting frames to WebSocket connections through API Gateway's management API.

A room's posts go out concurrently from one thread pool, each thread keeping its own keep-alive
connection, all built once per process: on AWS each post waits 5-20 ms on the network, so
overlapping them is what makes a big room fast. Each post is a plain HTTPS request (the standard
library's http.client) signed with botocore's SigV4 signer. Measured per post on this project's
machines: a boto3 client 0.84 ms of CPU, urllib3 0.35 ms, http.client 0.22 ms, of which signing is
0.05 ms (bench/, docs/performance.md).
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handler import protocol
from handler.errors import ConnectionGone, SendFailed

FANOUT_WORKERS = max(1, int(os.environ.get("WSCHAT_FANOUT_WORKERS", "32")))
# A broadcast never holds its Lambda longer than this; posts still waiting are counted as failed.
BROADCAST_DEADLINE_SECONDS = float(os.environ.get("WSCHAT_BROADCAST_DEADLINE_SECONDS", "6"))

_clients: dict[str, object] = {}
# Management API clients put in place of the real API by tests (use_client), per endpoint.
_injected: dict[str, object] = {}
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_signer: "_Signer | None" = None
# One keep-alive connection per thread and endpoint: http.client connections are not thread-safe.
_local = threading.local()
_TLS = ssl.create_default_context()


def _management_client(endpoint: str):
    """A boto3 client for the rare calls (closing a connection); built once per endpoint."""
    client = _clients.get(endpoint)
    if client is None:
        with _lock:
            client = _clients.get(endpoint)
            if client is None:
                client = boto3.client(
                    "apigatewaymanagementapi",
                    endpoint_url=endpoint,
                    config=Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"}),
                )
                _clients[endpoint] = client
    return client


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=FANOUT_WORKERS, thread_name_prefix="fanout")
    return _pool


def _connection(endpoint: str) -> http.client.HTTPConnection:
    connections = getattr(_local, "connections", None)
    if connections is None:
        connections = _local.connections = {}
    connection = connections.get(endpoint)
    if connection is None:
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=3, context=_TLS)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=3)
        connections[endpoint] = connection
    return connection


def _drop_connection(endpoint: str) -> None:
    connection = getattr(_local, "connections", {}).pop(endpoint, None)
    if connection is not None:
        connection.close()


class _Signer:
    """SigV4 for execute-api, with the Lambda's credentials (refreshed by botocore when they rotate)."""

    def __init__(self):
        session = botocore.session.get_session()
        self.credentials = session.get_credentials()
        self.region = session.get_config_variable("region") or os.environ.get("AWS_REGION", "us-east-1")

    def headers(self, url: str, data: bytes) -> dict:
        request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
        if self.credentials is not None:
            SigV4Auth(self.credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())


def _signer_instance() -> _Signer:
    global _signer
    if _signer is None:
        with _lock:
            if _signer is None:
                _signer = _Signer()
    return _signer


def use_client(endpoint: str, client) -> None:
    """Send every call for `endpoint` through `client` (a stand-in for tests)."""
    _injected[endpoint.rstrip("/")] = client


@dataclass
class BroadcastResult:
    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Sender:
    def __init__(self, endpoint: str, client=None):
        self.endpoint = endpoint.rstrip("/")
        # A client given (by a test) takes every call; otherwise posts take the fast path.
        self._test_client = client or _injected.get(self.endpoint)

    @property
    def client(self):
        return self._test_client or _management_client(self.endpoint)

    def send(self, connection_id: str, frame: dict) -> None:
        self._post(connection_id, protocol.encode(frame))

    def broadcast(self, connection_ids: list[str], frame: dict) -> BroadcastResult:
        """Post one frame to many connections; report which were gone or failed."""
        data = protocol.encode(frame)  # encoded once, not once per member
        result = BroadcastResult()
        if len(connection_ids) <= 1:
            outcomes = {cid: self._outcome(cid, data) for cid in connection_ids}
        else:
            futures = {_thread_pool().submit(self._outcome, cid, data): cid for cid in connection_ids}
            done, not_done = wait(futures, timeout=BROADCAST_DEADLINE_SECONDS)
            outcomes = {futures[f]: f.result() for f in done}
            for future in not_done:
                future.cancel()
                outcomes[futures[future]] = "failed"
        for connection_id, outcome in outcomes.items():
            if outcome == "ok":
                result.delivered += 1
            elif outcome == "gone":
                result.gone.append(connection_id)
            else:
                result.failed.append(connection_id)
        return result

    def close(self, connection_id: str) -> None:
        """Close a connection from the server side; a connection already gone is fine."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if _is_gone(exc):
                return
            raise SendFailed(f"delete_connection: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise SendFailed(f"delete_connection: {exc.__class__.__name__}") from exc

    def _outcome(self, connection_id: str, data: bytes) -> str:
        try:
            self._post(connection_id, data)
        except ConnectionGone:
            return "gone"
        except SendFailed:
            return "failed"
        return "ok"

    def _post(self, connection_id: str, data: bytes) -> None:
        if self._test_client is not None:
            return self._post_with_client(connection_id, data)
        url = f"{self.endpoint}/@connections/{urllib.parse.quote(connection_id, safe='')}"
        path = urllib.parse.urlsplit(url).path
        for attempt in (1, 2):
            try:
                connection = _connection(self.endpoint)
                connection.request("POST", path, body=data, headers=_signer_instance().headers(url, data))
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                # A keep-alive connection the server closed, or a network error: one fresh try.
                _drop_connection(self.endpoint)
                if attempt == 2:
                    raise SendFailed(f"post_to_connection: {exc.__class__.__name__}") from None
                continue
            if 200 <= response.status < 300:  # AWS answers 200; serverless-offline 204
                return
            if response.status == 410:
                raise ConnectionGone(connection_id)
            # Throttling and server errors get one more try, as botocore's retry mode would.
            if response.status in (429, 500, 502, 503, 504) and attempt == 1:
                time.sleep(0.05)
                continue
            raise SendFailed(f"post_to_connection: HTTP {response.status}")

    def _post_with_client(self, connection_id: str, data: bytes) -> None:
        try:
            self._test_client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if _is_gone(exc):
                raise ConnectionGone(connection_id) from None
            raise SendFailed(f"post_to_connection: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise SendFailed(f"post_to_connection: {exc.__class__.__name__}") from exc


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "Unknown")


def _is_gone(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return _code(exc) in ("GoneException", "410") or status == 410
