"""Posting frames to WebSocket connections through API Gateway's management API.

One client per endpoint, built once per process and shared by a thread pool: botocore clients are
thread-safe, and building one costs milliseconds that a hot path cannot spare. On AWS a post waits
on the network, so a room's posts go out concurrently.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handler import protocol
from handler.errors import ConnectionGone, SendFailed

FANOUT_WORKERS = max(1, int(os.environ.get("WSCHAT_FANOUT_WORKERS", "16")))

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _management_client(endpoint: str):
    client = _clients.get(endpoint)
    if client is None:
        with _clients_lock:
            client = _clients.get(endpoint)
            if client is None:
                client = boto3.client(
                    "apigatewaymanagementapi",
                    endpoint_url=endpoint,
                    config=Config(
                        max_pool_connections=FANOUT_WORKERS,
                        connect_timeout=2,
                        read_timeout=3,
                        retries={"max_attempts": 2, "mode": "standard"},
                    ),
                )
                _clients[endpoint] = client
    return client


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=FANOUT_WORKERS, thread_name_prefix="fanout")
    return _pool


@dataclass
class BroadcastResult:
    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Sender:
    def __init__(self, endpoint: str, client=None):
        self.endpoint = endpoint
        self.client = client or _management_client(endpoint)

    def send(self, connection_id: str, frame: dict) -> None:
        self._post(connection_id, protocol.encode(frame))

    def broadcast(self, connection_ids: list[str], frame: dict) -> BroadcastResult:
        """Post one frame to many connections; report which were gone or failed."""
        data = protocol.encode(frame)  # encoded once, not once per member
        result = BroadcastResult()
        if not connection_ids:
            return result
        if len(connection_ids) == 1:
            outcomes = [self._outcome(connection_ids[0], data)]
        else:
            outcomes = list(_thread_pool().map(lambda cid: self._outcome(cid, data), connection_ids))
        for connection_id, outcome in zip(connection_ids, outcomes):
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
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
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
