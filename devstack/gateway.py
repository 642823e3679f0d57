"""The local API Gateway: the limits of a WebSocket API that a client or a function can observe
and serverless-offline does not enforce, in front of serverless-offline.

    clients ──ws──▶ gateway (ports.ws) ──ws──▶ sls offline (ports.offline_ws)
    functions ──HTTP @connections──▶ gateway (ports.management) ──▶ sls offline

What it enforces, from the AWS page "Quotas for configuring and running a WebSocket in API Gateway":
- a client frame over 32 KB, or a message over 128 KB, closes the connection with 1009 ("if a
  larger message (or larger frame size) is received, the connection is closed with code 1009");
  sls offline then runs $disconnect, as API Gateway does;
- an @connections post over 128 KB is answered 413 PayloadTooLargeException and not delivered;
- a message to the client over 32 KB reaches it in frames of at most 32 KB ("a message larger
  than 32 KB must be split into multiple frames ... this applies to @connections commands").
The idle and hard timeouts are serverless-offline's own options (devstack/stack.py passes them);
the gateway passes on how sls offline closed a connection (code and reason), or drops the client
without a close frame when sls offline went away without one, as a direct client would see it.

Everything else goes through unchanged: the opening handshake (sls offline answers it, after the
authorizer and $connect: a refusal keeps its status), the query string, the client's headers
(plus X-Forwarded-For with its address, which API Gateway adds too), frames both ways, and the
management API's answers. It logs one line per refusal and never a URL (the query holds a token).

Run by LocalStack as `python -m devstack.gateway`; a process of its own, so that relaying never
waits on the test process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
from dataclasses import dataclass

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode
from websockets.protocol import State
from websockets.server import ServerProtocol

log = logging.getLogger("wschat.gateway")

# What API Gateway allows (the quota page's "32 KB" and "128 KB").
FRAME_MAX_BYTES = 32 * 1024
MESSAGE_MAX_BYTES = 128 * 1024
POST_MAX_BYTES = 128 * 1024
# $connect (authorizer and function) must answer within this; API Gateway's integration timeout is 29 s.
CONNECT_TIMEOUT_SECONDS = 30
# Headers of the client's handshake that belong to its own hop, not to the one to sls offline.
_HOP_HEADERS = frozenset({
    "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
    "sec-websocket-protocol", "sec-websocket-accept", "content-length", "transfer-encoding",
})
# A request body the relay reads to answer 413 on a kept-alive connection; beyond this it hangs up.
_DISCARD_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    frame_max_bytes: int = FRAME_MAX_BYTES
    message_max_bytes: int = MESSAGE_MAX_BYTES
    post_max_bytes: int = POST_MAX_BYTES


# -- the WebSocket side ------------------------------------------------------------------------------


class _GatewayProtocol(ServerProtocol):
    """API Gateway's two limits on what a client sends: 32 KB a frame, 128 KB a message.

    websockets knows one limit, `max_size`, which its parser reads before each frame and grants
    the frame what is left of it (`max_size` less what the message holds so far). Answering
    "what has arrived of this message plus one frame, but no more than a message" therefore
    refuses both a frame over 32 KB and a message over 128 KB, each with 1009 as API Gateway does.
    """

    limits = Limits()

    @property
    def max_size(self) -> int:
        received = self.cur_size or 0
        return min(self.limits.message_max_bytes, received + self.limits.frame_max_bytes)

    @max_size.setter
    def max_size(self, value) -> None:
        pass  # serve()'s single limit gives way to the two above


def fragments(message: str | bytes, frame_max: int) -> list:
    """`message` cut into pieces of at most `frame_max` bytes (text on character boundaries)."""
    if isinstance(message, bytes):
        return [message[i:i + frame_max] for i in range(0, len(message), frame_max)] or [b""]
    data = message.encode("utf-8")
    pieces, start = [], 0
    while start < len(data):
        end = min(start + frame_max, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never split a character
            end -= 1
        if end == start:
            raise ValueError(f"a frame of {frame_max} bytes cannot hold a character")
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces or [""]


class Gateway:
    def __init__(self, upstream_port: int, limits: Limits = Limits()):
        self.upstream_port = upstream_port
        self.limits = limits
        self._protocol = type("GatewayProtocol", (_GatewayProtocol,), {"limits": limits})
        self._upstreams: dict[ServerConnection, object] = {}

    def _connection(self, protocol: ServerProtocol, *args, **kwargs) -> ServerConnection:
        # serve() builds a plain ServerProtocol and offers no hook for its class: swap it here,
        # before the connection reads a frame.
        protocol.__class__ = self._protocol
        return ServerConnection(protocol, *args, **kwargs)

    async def _open_upstream(self, connection: ServerConnection, request):
        """Before answering the client's handshake, make the same one to sls offline (which runs the
        authorizer and $connect) and answer as it did."""
        headers = [(name, value) for name, value in request.headers.raw_items() if name.lower() not in _HOP_HEADERS]
        headers.append(("X-Forwarded-For", str(connection.remote_address[0])))
        try:
            upstream = await connect(
                f"ws://127.0.0.1:{self.upstream_port}{request.path}", additional_headers=headers,
                user_agent_header=None, compression=None, max_size=None, ping_interval=None,
                open_timeout=CONNECT_TIMEOUT_SECONDS,
            )
        except InvalidStatus as refused:
            response = refused.response
            log.info("connect refused upstream: HTTP %s", response.status_code)
            return connection.respond(response.status_code, response.body.decode("utf-8", "replace"))
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            log.warning("sls offline unreachable: %s", exc.__class__.__name__)
            return connection.respond(502, "Bad Gateway\n")
        self._upstreams[connection] = upstream
        # Whatever becomes of the client's handshake, the upstream connection ends with it.
        asyncio.get_running_loop().create_task(self._close_with(connection, upstream))
        return None

    async def _close_with(self, connection: ServerConnection, upstream) -> None:
        await connection.wait_closed()
        self._upstreams.pop(connection, None)
        await upstream.close()

    async def _relay(self, client: ServerConnection) -> None:
        upstream = self._upstreams[client]
        await asyncio.gather(self._client_to_upstream(client, upstream), self._upstream_to_client(upstream, client))

    async def _client_to_upstream(self, client: ServerConnection, upstream) -> None:
        try:
            async for message in client:
                await upstream.send(message)
        except ConnectionClosed:
            pass
        sent = client.protocol.close_sent
        if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG:
            log.info("closed a client with 1009: %s", sent.reason)
        # The client left, or was closed for a frame too large: sls offline runs $disconnect.
        await upstream.close()

    async def _upstream_to_client(self, upstream, client: ServerConnection) -> None:
        try:
            async for message in upstream:
                pieces = fragments(message, self.limits.frame_max_bytes)
                try:
                    # websockets ends a fragmented message with an empty final frame: harmless.
                    await client.send(pieces[0] if len(pieces) == 1 else pieces)
                except ConnectionClosed:
                    return  # the client left: _client_to_upstream closes the upstream side
        except ConnectionClosed:
            pass
        if client.state is not State.OPEN:
            return
        closed = upstream.protocol.close_rcvd
        if closed is None:
            # sls offline went away without a close frame: so does the client's connection.
            client.transport.abort()
        elif closed.code == CloseCode.NO_STATUS_RCVD:
            await client.close(None)  # an empty close frame, as sls offline sent
        else:
            await client.close(closed.code, closed.reason)

    # -- the @connections side ---------------------------------------------------------------------

    async def _management(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        try:
            while True:
                head = await _read_head(reader)
                if head is None:
                    return
                method, length, chunked = _request_line(head)
                if method == "POST" and not chunked and length > self.limits.post_max_bytes:
                    if length > _DISCARD_MAX_BYTES:
                        writer.write(_too_large(length, self.limits.post_max_bytes, keep_alive=False))
                        await writer.drain()
                        return
                    await reader.readexactly(length)
                    log.info("refused a %s-byte post with 413", length)
                    writer.write(_too_large(length, self.limits.post_max_bytes))
                    await writer.drain()
                    continue
                body = await _read_body(reader, length, chunked)
                if method == "POST" and len(body) > self.limits.post_max_bytes:
                    log.info("refused a %s-byte post with 413", len(body))
                    writer.write(_too_large(len(body), self.limits.post_max_bytes))
                    await writer.drain()
                    continue
                if chunked:
                    head = _with_length(head, len(body))
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                up_reader, up_writer = upstream
                up_writer.write(head + body)
                await up_writer.drain()
                response = await _read_response(up_reader, method)
                if response is None:
                    return
                writer.write(response)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()
            if upstream is not None:
                upstream[1].close()

    # -- running -----------------------------------------------------------------------------------

    async def run(self, host: str, ws_port: int, management_port: int, stop: asyncio.Event) -> None:
        async with serve(
            self._relay, host, ws_port, create_connection=self._connection, process_request=self._open_upstream,
            compression=None, ping_interval=None, max_size=self.limits.message_max_bytes,
            open_timeout=CONNECT_TIMEOUT_SECONDS + 5, logger=logging.getLogger("wschat.gateway.websockets"),
        ):
            management = await asyncio.start_server(self._management, host, management_port, backlog=1024)
            async with management:
                log.info("listening: WebSocket on %s, @connections on %s, sls offline on %s",
                         ws_port, management_port, self.upstream_port)
                await stop.wait()


# -- HTTP/1.1, as much as the management API needs ---------------------------------------------------


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def _headers(head: bytes) -> dict[str, str]:
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers


def _request_line(head: bytes) -> tuple[str, int, bool]:
    """(method, Content-Length, chunked) of a request."""
    method = head.split(b" ", 1)[0].decode("latin-1")
    headers = _headers(head)
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    return method.upper(), int(headers.get("content-length") or 0), chunked


async def _read_body(reader: asyncio.StreamReader, length: int, chunked: bool) -> bytes:
    if not chunked:
        return await reader.readexactly(length) if length else b""
    chunks = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunks.append((await reader.readexactly(size + 2))[:-2])
        if size == 0:  # the last chunk (no trailers: neither side sends any)
            return b"".join(chunks)


def _with_length(head: bytes, length: int) -> bytes:
    lines = [line for line in head.split(b"\r\n")[:-2] if not line.lower().startswith(b"transfer-encoding:")]
    return b"\r\n".join(lines + [b"Content-Length: %d" % length]) + b"\r\n\r\n"


async def _read_response(reader: asyncio.StreamReader, method: str) -> bytes | None:
    head = await _read_head(reader)
    if head is None:
        return None
    status = int(head.split(b" ", 2)[1])
    headers = _headers(head)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return head
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_body(reader, 0, True)
        return _with_length(head, len(body)) + body
    length = int(headers.get("content-length") or 0)
    return head + (await reader.readexactly(length) if length else b"")


def _too_large(size: int, limit: int, *, keep_alive: bool = True) -> bytes:
    """API Gateway's answer to a post over its limit: what boto3 raises as PayloadTooLargeException."""
    body = json.dumps({"message": f"Message too long: {size} bytes; the limit is {limit} bytes"}).encode()
    head = [
        "HTTP/1.1 413 Payload Too Large",
        "Content-Type: application/json",
        "x-amzn-ErrorType: PayloadTooLargeException",
        f"Content-Length: {len(body)}",
        "Connection: " + ("keep-alive" if keep_alive else "close"),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.gateway", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ws-port", type=int, required=True, help="where clients connect")
    parser.add_argument("--management-port", type=int, required=True, help="where functions post to @connections")
    parser.add_argument("--upstream-port", type=int, required=True, help="sls offline's WebSocket port")
    parser.add_argument("--frame-max-bytes", type=int, default=FRAME_MAX_BYTES)
    parser.add_argument("--message-max-bytes", type=int, default=MESSAGE_MAX_BYTES)
    parser.add_argument("--post-max-bytes", type=int, default=POST_MAX_BYTES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway %(levelname)s %(message)s")
    # The library's own lines would add little, and some name the request.
    logging.getLogger("wschat.gateway.websockets").setLevel(logging.ERROR)
    limits = Limits(args.frame_max_bytes, args.message_max_bytes, args.post_max_bytes)

    async def run():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await Gateway(args.upstream_port, limits).run(args.host, args.ws_port, args.management_port, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
