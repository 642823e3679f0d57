"""Cold and warm round-trip latency of the WebSocket routes through the local stack.

    .venv/bin/python -m bench.latency [--rounds 200]

Starts a fresh local stack (in-memory DynamoDB Local + sls offline on free ports), then times, from
the client's side: connect (authorizer + $connect), the first call of each route (cold: sls offline
starts the function's Python process), and warm calls (median, p90, p99). `sendmessage` is timed
with the sender alone in its room, so it includes storing the message and posting it back.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.parse

import requests
from websockets.sync.client import connect

from devstack.local_stage import Ports
from devstack.stack import LocalStack


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def round_trip(ws, frame, expect):
    started = time.perf_counter()
    ws.send(json.dumps(frame))
    while True:
        reply = json.loads(ws.recv(timeout=30))
        if reply["type"] == expect:
            return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with LocalStack(ports=Ports.free()) as stack:
        started = time.perf_counter()
        token = requests.post(f"{stack.http_url}/guest", timeout=60).json()["token"]
        guest_ms = (time.perf_counter() - started) * 1000
        url = f"{stack.ws_url}/?{urllib.parse.urlencode({'token': 'Bearer ' + token, 'room': 'bench-latency'})}"
        started = time.perf_counter()
        ws = connect(url, open_timeout=60)
        connect_ms = (time.perf_counter() - started) * 1000
        routes = [
            ("join", {"action": "join"}, "welcome"),
            ("heartbeat", {"action": "heartbeat"}, "heartbeat"),
            ("sendmessage", {"action": "sendmessage", "message": "bench"}, "message"),
            ("history", {"action": "history", "limit": 10}, "history"),
        ]
        print(f"POST /guest (cold)              {guest_ms:8.1f} ms")
        print(f"connect: authorizer + $connect (cold) {connect_ms:8.1f} ms")
        print(f"{'route':12} {'cold ms':>9} {'warm p50':>9} {'p90':>7} {'p99':>7}   (n={args.rounds})")
        for name, frame, expect in routes:
            cold = round_trip(ws, frame, expect)
            warm = [round_trip(ws, frame, expect) for _ in range(args.rounds)]
            print(f"{name:12} {cold:9.1f} {statistics.median(warm):9.2f} {percentile(warm, 0.9):7.2f} {percentile(warm, 0.99):7.2f}")
        ws.close()


if __name__ == "__main__":
    main()
