"""Running the site's ES modules under Node for the *_js.py tests: a script gets the rendered
config block (the server's real client contract) and a stand-in for the little of `document` that
modules touch when they load, then prints its results as JSON."""

import json
import shutil
import subprocess

import pytest

import build_site

JS = build_site.TEMPLATES / "static/js"
ENDPOINTS = {"wsUrl": "wss://ws.example.com", "httpUrl": "https://api.example.com"}

# What modules read when they load: config.js the config block, menu.js a document listener.
PRELUDE = r"""
const CONFIG = process.argv[1];
globalThis.document = {
  getElementById: (id) => (id === "wschat-config" ? { textContent: CONFIG } : null),
  addEventListener: () => {},
  querySelectorAll: () => [],
};
"""


def site_config() -> dict:
    return build_site.site_config(ENDPOINTS, "dev", 240)


def run_node(script: str, *args: str) -> dict:
    """Runs `script` (an ES module body after PRELUDE; process.argv[2:] are `args`) with the config
    block; returns its JSON output."""
    if shutil.which("node") is None:
        pytest.skip("needs node")
    completed = subprocess.run(
        ["node", "--input-type=module", "-e", PRELUDE + script, "--", json.dumps(site_config()), *args],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def module_url(relative: str) -> str:
    return (JS / relative).as_uri()
