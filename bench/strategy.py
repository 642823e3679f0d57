"""The sendmessage handler the benchmark runs (serverless.bench.yml puts it in place of wschat's):
it reads the mode the benchmark sets in .wschat/bench-mode.json (strategy, management endpoint)
and hands the event to wschat's handler or to the seed's baseline, so that one running stack and
one set of connected clients serve every configuration."""

from __future__ import annotations

import json
import os

from bench import seed
from devstack.local_stage import STATE_DIR
from handler import app, messages

MODE_FILE = STATE_DIR / "bench-mode.json"
_seen: tuple[float, dict] = (0.0, {})


def current_mode() -> dict:
    global _seen
    try:
        mtime = MODE_FILE.stat().st_mtime
    except FileNotFoundError:
        return {}
    if mtime != _seen[0]:
        _seen = (mtime, json.loads(MODE_FILE.read_text()))
        endpoint = _seen[1].get("endpoint")
        if endpoint and os.environ.get("WSCHAT_MANAGEMENT_ENDPOINT") != endpoint:
            os.environ["WSCHAT_MANAGEMENT_ENDPOINT"] = endpoint
            app.install(None)  # built again from the environment on the next call
    return _seen[1]


def write_mode(**mode) -> None:
    MODE_FILE.parent.mkdir(exist_ok=True)
    tmp = MODE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(mode))
    tmp.replace(MODE_FILE)


def send_message(event, context=None):
    mode = current_mode()
    if mode.get("strategy") == "seed":
        return seed.send_message(event, app.app().settings.delivery.management_endpoint)
    return messages.send_message(event, context)
