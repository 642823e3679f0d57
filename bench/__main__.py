"""`make bench` (python -m bench): fan-out figures through the local stack, against two references.

For N clients (100, 500, 1000) in one room and spread over 10 rooms, it sends messages one after
another and prints, per configuration: median and p99 time from send to the last member's receipt,
messages per second (sequential sends: 1 / mean delivery time), and DynamoDB items read per
message. Every configuration runs twice: as is, and with 10 ms added to every management-API post
by a delaying proxy (bench/proxy.py), which is what a post costs on AWS. In the same run, with the
same clients, it measures (a) the seed's algorithm (bench/seed.py: Scan, sequential posts) and
(b) a bare asyncio websockets broadcast server (bench/bare.py), and prints wschat's ratios to both,
the deployment zip size, and the cold and warm latency of sendmessage with no other receivers.

It runs its own local stack from serverless.bench.yml (serverless.yml with bench/strategy.py as
sendmessage), with the per-connection message limit raised out of reach (docs/performance.md).

    python -m bench [--sizes 100,500,1000] [--messages 20] [--solo-rounds 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import jwt
import websockets

from bench.strategy import write_mode
from devstack.local_stage import Ports, jwt_secret
from devstack.stack import LocalStack
from stackfiles.config import ROOT

PY = sys.executable
BENCH_CONFIG = "serverless.bench.yml"
SOLO_ROOM = "bench-solo"
SOLO_WARMUP = 10
CONNECTIONS_TABLE = "wschat-local-ActiveConnections"
# The per-connection message limit (a burst of 10, then 2 a second) would refuse the bench's
# sender, which sends the next message as soon as the last one has reached everyone, and the
# 1,000 solo round trips: set it out of reach. wschat still checks and stores the bucket for every
# message, so its cost stays in the figures.
BENCH_ENV = {"WSCHAT_MESSAGE_BURST": "1000000", "WSCHAT_MESSAGE_RATE": "100000"}


def token(username: str, ttl: int = 3600) -> str:
    now = int(time.time())
    claims = {"sub": username, "iat": now, "nbf": now, "exp": now + ttl, "iss": "wschat", "aud": "wschat-local",
              "guest": False}
    return jwt.encode(claims, jwt_secret(), algorithm="HS256")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Clients:
    """N WebSocket clients in one asyncio loop, recording when each message reached each of them."""

    def __init__(self):
        self.members: dict[str, list] = {}  # room -> connections
        self.arrivals: dict[str, dict] = {}  # clientMsgId -> {connection index: perf_counter}
        self.tasks = []

    async def connect(self, url_for, n: int, rooms: int, prefix: str, concurrency: int = 8):
        gate = asyncio.Semaphore(concurrency)

        async def one(i):
            room = f"{prefix}-{i % rooms}"
            async with gate:
                for attempt in range(5):
                    try:
                        ws = await websockets.connect(url_for(f"bench{i:04d}", room), open_timeout=60,
                                                      max_queue=None, ping_interval=None)
                        break
                    except (OSError, websockets.InvalidStatus, asyncio.TimeoutError):
                        await asyncio.sleep(0.5 * (attempt + 1))
                else:
                    raise RuntimeError(f"client {i} could not connect")
            self.members.setdefault(room, []).append(ws)
            self.tasks.append(asyncio.create_task(self._listen(ws, i)))

        await asyncio.gather(*(one(i) for i in range(n)))

    async def _listen(self, ws, index):
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "message" and frame.get("clientMsgId"):
                    self.arrivals.setdefault(frame["clientMsgId"], {})[index] = (time.perf_counter(), frame.get("id"))
        except websockets.ConnectionClosed:
            pass

    async def send_and_wait(self, room: str, timeout: float = 60) -> tuple[float, str | None]:
        """Send one message from the room's first member; seconds until every member has it."""
        members = self.members[room]
        msg_id = uuid.uuid4().hex
        started = time.perf_counter()
        await members[0].send(json.dumps({"action": "sendmessage", "message": "bench " + msg_id, "clientMsgId": msg_id}))
        deadline = started + timeout
        while len(self.arrivals.get(msg_id, {})) < len(members):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"message reached {len(self.arrivals.get(msg_id, {}))} of {len(members)} members")
            await asyncio.sleep(0.0005)
        arrivals = self.arrivals.pop(msg_id)
        last = max(t for t, _ in arrivals.values())
        server_id = next(iter(arrivals.values()))[1]
        return last - started, server_id

    async def close(self, concurrency: int = 8, rows=None, timeout: float = 45, stall: float = 3):
        """Close every client, a few at a time.

        sls offline starts a Python process for every $disconnect that arrives while the others
        are busy, and closing a connection only queues its $disconnect: with `rows` (counting the
        rows in ActiveConnections) each batch waits for its own $disconnects to be done. Without
        that, a few hundred pile up on the 2 cores and run past the function timeout, and their
        rows stay behind for the next configuration's seed Scan to read."""
        everyone = [ws for members in self.members.values() for ws in members]
        before = rows() if rows is not None else 0
        for start in range(0, len(everyone), concurrency):
            batch = everyone[start:start + concurrency]
            await asyncio.gather(*(ws.close() for ws in batch), return_exceptions=True)
            if rows is not None:
                # Until the batch's rows are gone, or none went for `stall` seconds (a call stuck
                # in a broken sls offline instance: see restart_if_timed_out), or the timeout.
                left, deadline = before - start - len(batch), time.monotonic() + timeout
                last, progress = rows(), time.monotonic()
                while last > left and time.monotonic() < min(deadline, progress + stall):
                    await asyncio.sleep(0.1)
                    now_rows = rows()
                    if now_rows < last:
                        last, progress = now_rows, time.monotonic()
        for task in self.tasks:
            task.cancel()
        self.members.clear()


def items_read_by_message(log_path: Path) -> dict[str, int]:
    found = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if '"itemsRead"' in line and '"messageId"' in line:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            found[entry["messageId"]] = entry["itemsRead"]
    return found


def server_latencies(log_path: Path, function: str, room: str | None = None) -> list[float]:
    out = []
    for line in log_path.read_text(errors="replace").splitlines():
        if f'"function": "{function}"' in line and '"latencyMs"' in line and '"message": "ok"' in line:
            entry = json.loads(line)
            if room is None or entry.get("room") == room:
                out.append(entry["latencyMs"])
    return out


async def from_log(read, ready, timeout: float = 30.0):
    """What `read()` finds in the function log once `ready` accepts it (or at the timeout).

    A function's log line reaches sls offline's log after the client already has its answer, and
    later still when the 2 cores are busy: reading the log at once can miss the last lines."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ready(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


def connection_rows(ddb) -> int:
    """Rows in ActiveConnections: the harness's own bookkeeping, between measurements."""
    count, kwargs = 0, {"TableName": CONNECTIONS_TABLE, "Select": "COUNT"}
    while True:
        page = ddb.scan(**kwargs)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def wait_for_empty_table(stack: LocalStack, timeout: float = 120) -> None:
    ddb = stack.dynamodb()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if connection_rows(ddb) == 0:
            return
        time.sleep(0.5)
    # A $disconnect that ran past the function timeout left its row: remove it (and say so), so
    # that the seed's Scan in the next configuration reads only that configuration's clients.
    keys = [item["connectionId"] for page in ddb.get_paginator("scan").paginate(
        TableName=CONNECTIONS_TABLE, ProjectionExpression="connectionId") for item in page["Items"]]
    for key in keys:
        ddb.delete_item(TableName=CONNECTIONS_TABLE, Key={"connectionId": key})
    print(f"# {len(keys)} connection rows outlived their $disconnect (timed out?); removed", flush=True)


def timed_out_calls(log_path: Path) -> int:
    return log_path.read_text(errors="replace").count("LambdaTimeoutError")


def restart_if_timed_out(stack: LocalStack, log_path: Path, seen: int) -> int:
    """Restart sls offline if a function call timed out since `seen`; return the count now.

    serverless-offline 13 kills a timed-out call's Python process but keeps its instance in the
    pool: every later call routed to that instance hangs until the timeout. A call runs past 30 s
    here only when the 2 cores are overloaded (other work on the machine, a pile of $disconnects),
    but from then on the stack is broken for the configurations that follow."""
    now = timed_out_calls(log_path)
    if now > seen:
        print(f"# {now - seen} function call(s) timed out in sls offline: restarting it", flush=True)
        stack.stop_offline()
        stack.start_offline()
    return now


def start_process(module: str, *args: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([PY, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


def zip_size() -> int:
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1")
        env.pop("WSCHAT_JWT_SECRET", None)
        subprocess.run([str(ROOT / "node_modules/.bin/sls"), "package", "--stage", "prod", "--package", out],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        return (Path(out) / "wschat.zip").stat().st_size


async def solo_latency(stack: LocalStack, rounds: int) -> list[float]:
    """sendmessage with nobody else in the room, `rounds` times: client round trips in ms."""
    url = f"{stack.ws_url}/?{urllib.parse.urlencode({'token': 'Bearer ' + token('solo'), 'room': SOLO_ROOM})}"
    async with websockets.connect(url, open_timeout=60) as ws:
        times = []
        for i in range(rounds):
            started = time.perf_counter()
            await ws.send(json.dumps({"action": "sendmessage", "message": f"solo {i}", "clientMsgId": f"s{i}"}))
            while json.loads(await ws.recv()).get("clientMsgId") != f"s{i}":
                pass
            times.append((time.perf_counter() - started) * 1000)
    return times


async def run(args) -> None:
    sizes = [int(n) for n in args.sizes.split(",")]
    results = []
    ws_port = None
    write_mode(strategy="wschat")
    # serverless.bench.yml: the local stage with bench/strategy.py as sendmessage (see there). No
    # gateway (aws_limits=None): the figures in docs/performance.md were measured straight against
    # sls offline, and the delay proxy below stands in front of its @connections port.
    with LocalStack(ports=Ports.free(), env=BENCH_ENV, config=BENCH_CONFIG, aws_limits=None) as stack:
        ws_port = stack.ports.ws
        ddb = stack.dynamodb()
        log_path = stack.log_dir / f"offline-{ws_port}.log"
        direct = f"http://127.0.0.1:{ws_port}"
        write_mode(strategy="wschat", endpoint=direct)
        # Cold: the first call starts the function's process. Warm: measured at the end, once
        # DynamoDB Local's JVM has compiled its hot paths (it slows every call early in a run).
        cold = (await solo_latency(stack, 1))[0]
        def solo_log():
            return server_latencies(log_path, "wschat-local-sendmessage", SOLO_ROOM)

        cold_server = (await from_log(solo_log, bool))[0]
        timeouts = timed_out_calls(log_path)
        helpers = []
        try:
            proxy, proxy_port = start_process("bench.proxy", "--upstream", str(ws_port), "--delay-ms", "10")
            helpers.append(proxy)
            bare, bare_port = start_process("bench.bare")
            helpers.append(bare)
            for n in sizes:
                for rooms in (1, 10):
                    prefix = f"r{n}x{rooms}-{uuid.uuid4().hex[:6]}"
                    clients = Clients()
                    t0 = time.perf_counter()
                    await clients.connect(
                        lambda user, room: f"{stack.ws_url}/?{urllib.parse.urlencode({'token': 'Bearer ' + token(user), 'room': room})}",
                        n, rooms, prefix)
                    print(f"# {n} clients in {rooms} room(s) connected in {time.perf_counter() - t0:.1f} s", flush=True)
                    room = f"{prefix}-0"
                    for strategy in ("wschat", "seed"):
                        for delay, endpoint in ((0, direct), (10, f"http://127.0.0.1:{proxy_port}")):
                            write_mode(strategy=strategy, endpoint=endpoint)
                            await asyncio.sleep(0.3)
                            count = args.messages if strategy == "wschat" else max(3, args.messages // 4)
                            await clients.send_and_wait(room)  # warm-up, not counted
                            latencies, ids = [], []
                            for _ in range(count):
                                seconds, server_id = await clients.send_and_wait(room)
                                latencies.append(seconds * 1000)
                                ids.append(server_id)
                            reads = await from_log(lambda: items_read_by_message(log_path),
                                                   lambda found: all(i in found for i in ids))
                            read_counts = [reads[i] for i in ids if i in reads]
                            results.append({
                                "strategy": strategy, "delay": delay, "n": n, "rooms": rooms,
                                "audience": len(clients.members[room]), "median": statistics.median(latencies),
                                "p99": percentile(latencies, 0.99), "mps": 1000 / statistics.mean(latencies),
                                "reads": statistics.median(read_counts) if read_counts else float("nan"),
                            })
                            print(format_row(results[-1]), flush=True)
                    await clients.close(rows=lambda: connection_rows(ddb))
                    wait_for_empty_table(stack)
                    timeouts = restart_if_timed_out(stack, log_path, timeouts)
                    bare_clients = Clients()
                    await bare_clients.connect(lambda user, room: f"ws://127.0.0.1:{bare_port}/?room={room}", n, rooms, prefix)
                    await bare_clients.send_and_wait(room)
                    latencies = [(await bare_clients.send_and_wait(room))[0] * 1000 for _ in range(args.messages)]
                    results.append({"strategy": "bare", "delay": 0, "n": n, "rooms": rooms,
                                    "audience": len(bare_clients.members[room]), "median": statistics.median(latencies),
                                    "p99": percentile(latencies, 0.99), "mps": 1000 / statistics.mean(latencies),
                                    "reads": 0})
                    print(format_row(results[-1]), flush=True)
                    await bare_clients.close()
            write_mode(strategy="wschat", endpoint=direct)
            await asyncio.sleep(0.3)
            await solo_latency(stack, SOLO_WARMUP)  # a restarted sls offline starts cold again
            warm = await solo_latency(stack, args.solo_rounds)
            # The solo room's log lines: the cold call, the warm-up, then these.
            skip = 1 + SOLO_WARMUP
            warm_server = (await from_log(solo_log, lambda found: len(found) >= skip + args.solo_rounds))[skip:]
            solo = {"cold": cold, "warm": warm, "cold_server": cold_server, "warm_server": warm_server}
        finally:
            for process in helpers:
                process.terminate()
                process.wait(10)
    report(results, solo, zip_size())


def format_row(r: dict) -> str:
    label = {"wschat": "wschat", "seed": "(a) seed", "bare": "(b) bare ws"}[r["strategy"]]
    delay = f"+{r['delay']}ms" if r["delay"] else "as is"
    reads = "-" if r["strategy"] == "bare" else f"{r['reads']:.0f}"
    return (f"{label:12} {delay:6} N={r['n']:<5} rooms={r['rooms']:<3} audience={r['audience']:<5} "
            f"median={r['median']:8.1f} ms  p99={r['p99']:8.1f} ms  {r['mps']:7.1f} msg/s  items read/msg={reads}")


def report(results, solo, zip_bytes) -> None:
    print("\n## Fan-out: send to the last member's receipt (sequential sends)\n")
    print("| config | strategy | post latency | median ms | p99 ms | msg/s | items read/msg |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| N={r['n']} rooms={r['rooms']} (audience {r['audience']}) | {r['strategy']} | "
              f"{'+' + str(r['delay']) + ' ms' if r['delay'] else 'as is'} | {r['median']:.1f} | {r['p99']:.1f} | "
              f"{r['mps']:.1f} | {'-' if r['strategy'] == 'bare' else format(r['reads'], '.0f')} |")
    print("\n## Ratios (median delivery time; < 1 means wschat is faster)\n")
    print("| config | post latency | wschat / (a) seed | (a) / wschat | wschat / (b) bare |")
    print("|---|---|---|---|---|")
    index = {(r["strategy"], r["delay"], r["n"], r["rooms"]): r for r in results}
    for r in results:
        if r["strategy"] != "wschat":
            continue
        seed = index.get(("seed", r["delay"], r["n"], r["rooms"]))
        bare = index.get(("bare", 0, r["n"], r["rooms"]))
        print(f"| N={r['n']} rooms={r['rooms']} | {'+' + str(r['delay']) + ' ms' if r['delay'] else 'as is'} | "
              f"{r['median'] / seed['median']:.3f} | {seed['median'] / r['median']:.1f}x | {r['median'] / bare['median']:.1f} |")
    warm = solo["warm"]
    print("\n## sendmessage with no other receivers\n")
    print(f"- client round trip: cold {solo['cold']:.1f} ms; warm median {statistics.median(warm):.2f} ms, "
          f"p99 {percentile(warm, 0.99):.2f} ms (n={len(warm)})")
    print(f"- inside the function (its log's latencyMs): cold {solo['cold_server']:.2f} ms; warm median "
          f"{statistics.median(solo['warm_server']):.2f} ms, p99 {percentile(solo['warm_server'], 0.99):.2f} ms")
    print(f"\n## Deployment zip: {zip_bytes / 1024:.0f} KiB ({zip_bytes} bytes)")
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,500,1000")
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--solo-rounds", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
