"""One signed-HTTP transport for the AWS calls on the hot path: DynamoDB's JSON protocol
(handler/lean_dynamodb.py) and API Gateway's management API (handler/sender.py).

Why not boto3 there: a boto3 call costs about 1 ms of CPU around the network (user agent,
parameter handling, event hooks, parsing), a post through this about 0.15-0.2 ms, of which SigV4
signing with botocore's signer is 0.05 ms (docs/performance.md).

Two ways to send, one policy (signing, region, TLS, timeouts, retries):
- `request`: one call, on a keep-alive connection per thread (http.client).
- `request_many`: the same request to many URLs at once from one asyncio loop in a daemon thread,
  over a small pool of keep-alive connections: on AWS each post waits 5-20 ms on the network, so
  overlapping them is what makes a big room fast, and one loop overlaps them without the thread
  switches that made a 32-thread pool 2.4 times slower than sequential posts on a busy 2-core box.

Retries: once, after a connection failure before any answer, or an answer of 429 or 5xx (and
whatever else the caller's `retryable` says). Never after a timeout: the request may have been
carried out, and a second copy (a duplicate frame, a second message) is worse than an error.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable

from handler.errors import WschatError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_PAUSE_SECONDS = 0.05


@functools.lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    # Built on first use: loading the CA bundle costs about 20 ms, which local runs never need.
    return ssl.create_default_context()


class TransportError(WschatError):
    """Raised when a request got no HTTP answer: connection refused or reset, or a timeout."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict = field(default_factory=dict)  # lower-cased names
    body: bytes = b""


class Signer:
    """SigV4 with the function's credentials (botocore refreshes them as they rotate)."""

    def __init__(self, region: str, credentials=None):
        import botocore.session

        self.region = region
        self.credentials = credentials or botocore.session.get_session().get_credentials()

    def headers(self, service: str, method: str, url: str, body: bytes, headers: dict) -> dict:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        if self.credentials is not None:
            SigV4Auth(self.credentials.get_frozen_credentials(), service, self.region).add_auth(request)
        return dict(request.headers.items())


class Transport:
    def __init__(self, region: str, *, timeout: float = 5.0, concurrency: int = 32, signer: Signer | None = None):
        self.region = region
        self.timeout = timeout
        self.concurrency = concurrency
        self._signer = signer
        self._local = threading.local()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gate: asyncio.Semaphore | None = None
        self._idle: dict[str, list] = {}
        self._lock = threading.Lock()

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            self._signer = Signer(self.region)
        return self._signer

    # -- one request -----------------------------------------------------------------------------

    def request(
        self, service: str, method: str, url: str, body: bytes = b"", headers: dict | None = None,
        retryable: Callable[[Response], bool] | None = None,
    ) -> Response:
        parts = urllib.parse.urlsplit(url)
        for attempt in (1, 2):
            signed = self.signer.headers(service, method, url, body, dict(headers or {}))
            try:
                response = self._send(parts, method, body, signed)
            except TimeoutError:
                self._drop(parts)
                raise TransportError(f"{method} {parts.netloc}: timeout", timed_out=True) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop(parts)
                if attempt == 2:
                    raise TransportError(f"{method} {parts.netloc}: {exc.__class__.__name__}") from None
                continue
            if attempt == 1 and _should_retry(response, retryable):
                time.sleep(RETRY_PAUSE_SECONDS)
                continue
            return response
        raise AssertionError("unreachable")

    def _send(self, parts, method: str, body: bytes, headers: dict) -> Response:
        connection = self._connection(parts)
        path = parts.path or "/"
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        payload = answer.read()
        response = Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, payload)
        if response.headers.get("connection", "").lower() == "close":
            self._drop(parts)
        return response

    def _connection(self, parts) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("connections", {})
        connection = pool.get(parts.netloc)
        if connection is None:
            if parts.scheme == "https":
                connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=self.timeout, context=_tls())
            else:
                connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=self.timeout)
            pool[parts.netloc] = connection
        return connection

    def _drop(self, parts) -> None:
        connection = self._local.__dict__.get("connections", {}).pop(parts.netloc, None)
        if connection is not None:
            connection.close()

    # -- the same request to many URLs -------------------------------------------------------------

    def request_many(
        self, service: str, method: str, urls: list[str], body: bytes, headers: dict | None, deadline: float
    ) -> list[Response | TransportError]:
        """One answer per URL, in order; a TransportError for any that got none within `deadline` seconds."""
        if not urls:
            return []
        future = asyncio.run_coroutine_threadsafe(
            self._many(service, method, urls, body, dict(headers or {}), deadline), self._event_loop()
        )
        return future.result(deadline + 2)

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="transport", daemon=True).start()
        return self._loop

    async def _many(self, service, method, urls, body, headers, deadline):
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.concurrency)
        tasks = [asyncio.ensure_future(self._one(service, method, url, body, headers)) for url in urls]
        done, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        return [task.result() if task in done else TransportError("deadline passed", timed_out=True) for task in tasks]

    async def _one(self, service, method, url, body, headers) -> Response | TransportError:
        parts = urllib.parse.urlsplit(url)
        async with self._gate:
            for attempt in (1, 2):
                signed = self.signer.headers(service, method, url, body, headers)
                try:
                    response = await asyncio.wait_for(self._exchange(parts, method, body, signed), self.timeout)
                except asyncio.TimeoutError:
                    return TransportError(f"{method} {parts.netloc}: timeout", timed_out=True)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    if attempt == 2:
                        return TransportError(f"{method} {parts.netloc}: {exc.__class__.__name__}")
                    continue
                if attempt == 1 and _should_retry(response, None):
                    await asyncio.sleep(RETRY_PAUSE_SECONDS)
                    continue
                return response
        raise AssertionError("unreachable")

    async def _exchange(self, parts, method: str, body: bytes, headers: dict) -> Response:
        path = parts.path or "/"
        head = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items() if name.lower() not in ("host", "content-length")]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        idle = self._idle.setdefault(parts.netloc, [])
        reused = bool(idle)
        reader, writer = idle.pop() if idle else await self._open(parts)
        try:
            writer.write(request)
            response, keep_alive = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            writer.close()
            # The server closed an idle keep-alive connection before reading the request (it
            # answers nothing): try again on a fresh one. Any other failure is the caller's.
            if reused and isinstance(exc, asyncio.IncompleteReadError) and not exc.partial:
                return await self._exchange(parts, method, body, headers)
            raise
        except BaseException:
            writer.close()
            raise
        if keep_alive:
            idle.append((reader, writer))
        else:
            writer.close()
        return response

    async def _open(self, parts):
        if parts.scheme == "https":
            return await asyncio.open_connection(parts.hostname, parts.port or 443, ssl=_tls(), server_hostname=parts.hostname)
        return await asyncio.open_connection(parts.hostname, parts.port or 80)


def _should_retry(response: Response, retryable: Callable[[Response], bool] | None) -> bool:
    return response.status in RETRY_STATUSES or (retryable is not None and retryable(response))


async def _read_response(reader: asyncio.StreamReader) -> tuple[Response, bool]:
    """Read one HTTP/1.1 response; return it and whether the connection can be reused."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append((await reader.readexactly(size + 2))[:-2])
            if size == 0:
                break
        body = b"".join(chunks)
    elif headers.get("content-length"):
        body = await reader.readexactly(int(headers["content-length"]))
    return Response(status, headers, body), headers.get("connection", "").lower() != "close"
