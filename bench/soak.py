"""`make soak`: load through the local stack, with every safeguard on.

100 clients in 10 rooms each send 100 messages (10,000 in all), one after another as the web client
does (the next after the echo of the previous), paced under the per-user rate limit. A message
whose echo has not come within 30 s is sent again with the same clientMsgId, as the web client's
outbox does after a reconnect: the server stores and broadcasts a repeated clientMsgId once and
answers the repeat with the original. A refused message waits its `retryAfterMs`. Then it checks
that every message reached every member of its room exactly once (by id, as clients keep them),
in send order per sender, and is stored in MessageHistory; and prints throughput and delivery
latency percentiles.

    python -m bench.soak [--clients 100] [--rooms 10] [--messages 100] [--rate 1.8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.parse
import uuid

import websockets

from bench.__main__ import percentile, token
from devstack.local_stage import Ports
from devstack.stack import LocalStack


async def run(args) -> int:
    with LocalStack(ports=Ports.free(), sweep_seconds=5) as stack:
        prefix = f"soak-{uuid.uuid4().hex[:6]}"
        sent_at: dict[str, float] = {}
        received: dict[int, list[tuple[str, str, str, str]]] = {}  # client -> [(clientMsgId, sender, room, id)]
        latencies: list[float] = []
        clients = []
        gate = asyncio.Semaphore(8)

        async def open_client(i):
            room = f"{prefix}-{i % args.rooms}"
            query = urllib.parse.urlencode({"token": "Bearer " + token(f"soak{i:03d}"), "room": room})
            async with gate:
                ws = await websockets.connect(f"{stack.ws_url}/?{query}", open_timeout=60, max_queue=None)
            received[i] = []
            clients.append((i, room, ws))

        await asyncio.gather(*(open_client(i) for i in range(args.clients)))
        await asyncio.sleep(3)  # let the connects' presence broadcasts settle
        members = {}
        for i, room, _ in clients:
            members.setdefault(room, set()).add(i)
        echoes: dict[int, asyncio.Queue] = {i: asyncio.Queue() for i, _, _ in clients}
        refused = 0
        resent = 0
        repeats = 0  # answers to a resend that carried a message the client had (same id)

        async def listen(i, ws):
            nonlocal repeats
            ids = set()
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "message" and frame.get("clientMsgId"):
                    mine = frame["sender"] == f"soak{i:03d}"
                    if frame["id"] in ids:  # a client keeps messages by id, as the web client does
                        repeats += 1
                    else:
                        ids.add(frame["id"])
                        received[i].append((frame["clientMsgId"], frame["sender"], frame["room"], frame["id"]))
                        if mine:
                            latencies.append((time.perf_counter() - sent_at[frame["clientMsgId"]]) * 1000)
                    if mine:
                        echoes[i].put_nowait(frame["clientMsgId"])
                elif frame.get("type") == "error":
                    echoes[i].put_nowait(frame)

        listeners = [asyncio.create_task(listen(i, ws)) for i, _, ws in clients]

        lost_echoes = []
        other_errors = []

        async def answer_to(i, msg_id):
            """The echo of msg_id or an error; echoes of earlier messages (late, or a repeat's) are skipped."""
            while True:
                answer = await asyncio.wait_for(echoes[i].get(), 30)
                if isinstance(answer, dict) or answer == msg_id:
                    return answer

        async def sender(i, ws):
            nonlocal refused, resent
            await asyncio.sleep(i * 0.05)  # start staggered, as people do
            n = 0
            while n < args.messages:
                msg_id = f"{i}:{n}"
                sent_at.setdefault(msg_id, time.perf_counter())
                frame = json.dumps({"action": "sendmessage", "message": f"soak {i} {n}", "clientMsgId": msg_id})
                for attempt in range(3):
                    await ws.send(frame)
                    try:
                        answer = await answer_to(i, msg_id)
                        break
                    except asyncio.TimeoutError:
                        resent += attempt < 2  # the same clientMsgId again: stored and broadcast once
                else:
                    lost_echoes.append(msg_id)
                    n += 1
                    continue
                if isinstance(answer, dict):
                    if answer.get("code") == "rate_limited":  # refused: wait as told, then send it again
                        refused += 1
                        await asyncio.sleep(answer.get("retryAfterMs", 1000) / 1000)
                        continue
                    other_errors.append(answer)
                n += 1
                await asyncio.sleep(1 / args.rate)

        started = time.perf_counter()
        await asyncio.gather(*(sender(i, ws) for i, _, ws in clients))
        elapsed = time.perf_counter() - started
        await asyncio.sleep(2)  # the last deliveries
        for task in listeners:
            task.cancel()

        # Exactly once, to exactly the room, in send order per sender.
        problems = 0
        overtaken = 0
        for i, room, _ in clients:
            got = received[i]
            ids = [m for m, _, _, _ in got]
            if len(ids) != len(set(ids)):
                problems += 1
                print(f"client {i}: duplicates", file=sys.stderr)
            expected = {f"{s}:{n}" for s in members[room] for n in range(args.messages)}
            if set(ids) != expected:
                problems += 1
                print(f"client {i}: {len(expected - set(ids))} missing, {len(set(ids) - expected)} foreign", file=sys.stderr)
            # Clients show messages in id order (ids are the storing time): that order must be each
            # sender's send order. Arrival order may differ when one post overtakes another.
            by_id = [m for m, _, _, _ in sorted(got, key=lambda entry: entry[3])]
            for s in members[room]:
                shown = [int(m.split(":")[1]) for m in by_id if m.split(":")[0] == str(s)]
                arrived = [int(m.split(":")[1]) for m in ids if m.split(":")[0] == str(s)]
                if shown != sorted(shown):
                    problems += 1
                    print(f"client {i}: sender {s} out of order by id", file=sys.stderr)
                overtaken += sum(1 for a, b in zip(arrived, arrived[1:]) if b < a)
        stored = 0
        ddb = stack.dynamodb()
        for room in members:
            kwargs = {"TableName": "wschat-local-MessageHistory", "KeyConditionExpression": "room = :r",
                      "ExpressionAttributeValues": {":r": {"S": room}}, "Select": "COUNT"}
            while True:
                page = ddb.query(**kwargs)
                stored += page["Count"]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        total = args.clients * args.messages
        deliveries = sum(len(v) for v in received.values())
        print(f"\nsoak: {args.clients} clients in {args.rooms} rooms, {total} messages in {elapsed:.1f} s")
        print(f"  throughput: {total / elapsed:.1f} messages/s sent, {deliveries / elapsed:.1f} deliveries/s")
        print(f"  echo latency (send to own receipt): p50 {statistics.median(latencies):.1f} ms, "
              f"p90 {percentile(latencies, 0.9):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
              f"max {max(latencies):.1f} ms")
        print(f"  deliveries: {deliveries} (expected {total * args.clients // args.rooms}); stored: {stored} "
              f"(expected {total}); refused by the rate limit and resent: {refused}")
        print(f"  sent again after 30 s without an echo (same clientMsgId): {resent}; repeats answered with a "
              f"message already received: {repeats}; echoes never received (3 tries): {len(lost_echoes)}; "
              f"other errors: {len(other_errors)} {sorted({e.get('code') for e in other_errors})}")
        print(f"  exactly once, in send order per sender (by id, as clients show them), to the right room: "
              f"{'yes' if problems == 0 else f'NO ({problems} problems)'}; frames that arrived before an "
              f"earlier one of the same sender: {overtaken}")
        for _, _, ws in clients:
            await ws.close()
        ok = problems == 0 and stored == total and deliveries == total * args.clients // args.rooms
        return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description="load test through the local stack")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.3, help="messages per second per client")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
