"""Warm `sendmessage` latency of the checkout in the current folder: inside the function (its log
line's latencyMs) and the client's round trip, median of the last rounds, limits lifted.

    .venv/bin/python bench/warm_send.py [rounds]

Run it from another checkout to compare with an older commit in the same session (the machine's
load moves absolute figures a lot; a ratio of two runs back to back does not):
    git worktree add ../old <rev> && cp -a node_modules ../old/ && cd ../old && ../main/.venv/bin/python ../main/bench/warm_send.py
"""
import inspect
import json
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, ".")  # the checkout in the current folder, not this file's

import requests  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from devstack.local_stage import Ports  # noqa: E402
from devstack.stack import LocalStack  # noqa: E402

kwargs = {}
if "aws_limits" in inspect.signature(LocalStack).parameters:
    kwargs["aws_limits"] = None
env = {"WSCHAT_MESSAGE_BURST": "1000000", "WSCHAT_MESSAGE_RATE": "100000", "WSCHAT_USER_MESSAGE_BURST": "1000000",
       "WSCHAT_USER_MESSAGE_RATE": "100000"}
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
with LocalStack(ports=Ports.free(), env=env, **kwargs) as stack:
    token = requests.post(f"{stack.http_url}/guest", timeout=60).json()["token"]
    ws = connect(f"{stack.ws_url}/?" + urllib.parse.urlencode({"token": "Bearer " + token, "room": "lat"}), open_timeout=60)
    ws.send(json.dumps({"action": "join"}))
    while json.loads(ws.recv(timeout=60))["type"] != "welcome":
        pass
    trips = []
    for n in range(rounds):
        t = time.perf_counter()
        ws.send(json.dumps({"action": "sendmessage", "message": f"m{n}"}))
        while True:
            f = json.loads(ws.recv(timeout=60))
            if f["type"] in ("message", "error"):
                break
        assert f["type"] == "message", f
        trips.append((time.perf_counter() - t) * 1000)
    ws.close()
    time.sleep(1)
    log = stack.log_dir / f"offline-{stack.ports.ws if not kwargs else getattr(stack, 'offline_ws_port', stack.ports.ws)}.log"
    lines = [json.loads(l) for l in open(log) if l.startswith("{") and '"sendmessage"' in l]
    inside = [l["latencyMs"] for l in lines if l.get("message") == "ok"][-(rounds - 50):]
    warm = trips[50:]
    print(json.dumps({"rounds": len(warm), "inside_p50": statistics.median(inside), "trip_p50": statistics.median(warm),
                      "trip_p90": sorted(warm)[int(0.9 * len(warm))]}))
