"""A delaying HTTP proxy for the management API: every request waits `delay` seconds, then goes to
serverless-offline's @connections endpoint. It makes the local stack look like AWS, where a post
waits 5-20 ms on the network, while costing almost no CPU (asyncio, one upstream connection per
client connection, keep-alive on both sides)."""

from __future__ import annotations

import asyncio

from bench.background import BackgroundServer


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """One HTTP/1.1 message: (head, body); None at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head, body


class DelayProxy(BackgroundServer):
    def __init__(self, upstream_port: int, delay_seconds: float):
        super().__init__()
        self.upstream_port = upstream_port
        self.delay = delay_seconds
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self):
        return await asyncio.start_server(self._relay, "127.0.0.1", 0, backlog=1024)

    async def before_forward(self, head: bytes, body: bytes) -> None:
        """What happens to each request before it goes upstream: here, the delay."""
        if self.delay:
            await asyncio.sleep(self.delay)

    async def _relay(self, reader, writer):
        upstream = None
        try:
            while True:
                request = await _read_message(reader)
                if request is None:
                    return
                self.requests += 1
                await self.before_forward(*request)
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                up_reader, up_writer = upstream
                up_writer.write(request[0] + request[1])
                await up_writer.drain()
                response = await _read_message(up_reader)
                if response is None:
                    return
                writer.write(response[0] + response[1])
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            if upstream is not None:
                upstream[1].close()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="delaying proxy in front of sls offline's @connections API")
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    args = parser.parse_args()
    proxy = DelayProxy(args.upstream, args.delay_ms / 1000).start()
    print(proxy.port, flush=True)
    proxy.thread.join()


if __name__ == "__main__":
    main()
