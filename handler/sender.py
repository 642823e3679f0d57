"""Posting frames to WebSocket connections through API Gateway's management API.

One delivery path: every post, broadcast and close goes through the shared transport
(handler/transport.py); tests pass a fake transport. API Gateway's answers become domain errors
here: 410 is ConnectionGone (the client left without a $disconnect we saw yet), 413 is
FrameTooLarge (over API Gateway's 128 KB per message), anything else that is not 2xx is SendFailed.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field

from handler import log, protocol
from handler.errors import ConnectionGone, FrameTooLarge, SendFailed
from handler.transport import Response, Transport, TransportError

SERVICE = "execute-api"
# API Gateway's message payload quota (128 KB): a larger post gets HTTP 413.
POST_MAX_BYTES = 128 * 1024
_JSON = {"Content-Type": "application/json"}


@dataclass
class BroadcastResult:
    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    throttled: int = 0  # of the failed: API Gateway answered 429 (its account or stage throttle), twice


class Sender:
    def __init__(self, endpoint: str, transport: Transport, *, broadcast_deadline_seconds: float = 8.0):
        self.endpoint = endpoint.rstrip("/")
        self.transport = transport
        self.broadcast_deadline_seconds = broadcast_deadline_seconds

    def url(self, connection_id: str) -> str:
        return f"{self.endpoint}/@connections/{urllib.parse.quote(connection_id, safe='')}"

    def send(self, connection_id: str, frame: dict) -> None:
        data = protocol.encode(frame)
        try:
            response = self.transport.request(SERVICE, "POST", self.url(connection_id), data, _JSON)
        except TransportError as exc:
            log.count("PostsFailed")
            raise SendFailed(f"post_to_connection: {exc}") from None
        _tally([response])
        _check(connection_id, response, "post_to_connection", len(data))

    def broadcast(self, connection_ids: list[str], frame: dict) -> BroadcastResult:
        """Post one frame to many connections at once; report which were gone or failed."""
        data = protocol.encode(frame)  # encoded once, not once per member
        started = time.perf_counter()
        answers = self.transport.request_many(
            SERVICE, "POST", [self.url(cid) for cid in connection_ids], data, _JSON, self.broadcast_deadline_seconds
        )
        if connection_ids:
            # The time to the last member's answer: what a room's slowest member waits for a message.
            log.timing("FanoutTime", (time.perf_counter() - started) * 1000)
        _tally(answers)
        result = BroadcastResult()
        too_large = 0
        for connection_id, answer in zip(connection_ids, answers):
            try:
                if isinstance(answer, TransportError):
                    raise SendFailed(str(answer))
                _check(connection_id, answer, "post_to_connection", len(data))
                result.delivered += 1
            except ConnectionGone:
                result.gone.append(connection_id)
            except FrameTooLarge:
                too_large += 1
                result.failed.append(connection_id)
            except SendFailed:
                result.failed.append(connection_id)
                result.throttled += isinstance(answer, Response) and answer.status == 429
        if too_large:
            # A bug, never a member's fault: every frame a room gets is built to fit.
            log.error("broadcast frame too large for API Gateway", frameType=frame.get("type"), bytes=len(data),
                      refused=too_large)
        if result.failed:
            # Members who did not get the frame: never an "ok" invocation (the metrics count them;
            # the line says how many of how many, and of them how many API Gateway throttled).
            log.warning("broadcast failed for some members", frameType=frame.get("type"), members=len(connection_ids),
                        delivered=result.delivered, failed=len(result.failed), throttled=result.throttled,
                        gone=len(result.gone))
            log.fail("delivery failed")
        return result

    def close(self, connection_id: str) -> None:
        """Close a connection from the server side; a connection already gone is fine."""
        try:
            response = self.transport.request(SERVICE, "DELETE", self.url(connection_id))
            _check(connection_id, response, "delete_connection")
        except ConnectionGone:
            return
        except TransportError as exc:
            raise SendFailed(f"delete_connection: {exc}") from None


def _tally(answers: list[Response | TransportError]) -> None:
    """Count the posts' outcomes in this invocation's metrics (handler/log.py): delivered, failed
    (throttled ones too: API Gateway's 429, after the transport's one retry), stale connections."""
    delivered = gone = failed = throttled = 0
    for answer in answers:
        if isinstance(answer, TransportError):
            failed += 1
        elif 200 <= answer.status < 300:
            delivered += 1
        elif answer.status == 410:
            gone += 1
        else:
            failed += 1
            throttled += answer.status == 429
    for name, value in (("Deliveries", delivered), ("StaleConnections", gone), ("PostsFailed", failed),
                        ("PostsThrottled", throttled)):
        if value:
            log.count(name, value)


def _check(connection_id: str, response: Response, operation: str, size: int = 0) -> None:
    if 200 <= response.status < 300:  # AWS answers 200; serverless-offline 204
        return
    if response.status == 410:
        raise ConnectionGone(connection_id)
    if response.status == 413:
        raise FrameTooLarge(
            f"{operation}: HTTP 413 PayloadTooLargeException: the frame is {size} bytes; API Gateway takes at most "
            f"{POST_MAX_BYTES} bytes per message", size,
        )
    raise SendFailed(f"{operation}: HTTP {response.status}")
