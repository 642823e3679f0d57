"""`python -m devstack dev`: run the whole chat locally until Ctrl-C (what `make dev` runs)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from devstack.secret import add_arguments as add_secret_arguments
from devstack.secret import run_args as run_secret
from devstack.site import SiteServer, build_local_site
from devstack.stack import ROOT, STATE_DIR, AwsLimits, LocalStack, Ports, StackError, port_in_use

DEMO_USERS = ("alice", "bob")
DEMO_PASSWORDS = STATE_DIR / "demo-passwords.json"


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def demo_passwords() -> dict[str, str]:
    if DEMO_PASSWORDS.exists():
        return json.loads(DEMO_PASSWORDS.read_text())
    passwords = {name: f"{name}-{secrets.token_hex(4)}" for name in DEMO_USERS}
    DEMO_PASSWORDS.write_text(json.dumps(passwords))
    DEMO_PASSWORDS.chmod(0o600)
    return passwords


def ensure_demo_users(stack: LocalStack) -> dict[str, str]:
    """Register alice and bob (once per data folder) and return {name: token}."""
    tokens = {}
    for name, password in demo_passwords().items():
        status, body = post_json(f"{stack.http_url}/login", {"username": name, "password": password})
        if status != 200:
            status, body = post_json(f"{stack.http_url}/register", {"username": name, "password": password})
        if status not in (200, 201):
            raise StackError(f"could not create demo user {name}: HTTP {status} {body.get('error')}")
        tokens[name] = body["token"]
    return tokens


def dev(args) -> int:
    stack = LocalStack(
        ports=Ports.from_env(), data_dir=STATE_DIR / "dynamodb",
        sweep_seconds=float(os.environ.get("WSCHAT_SWEEP_SECONDS", 60)), aws_limits=AwsLimits.from_env(),
    )
    site_port = int(os.environ.get("WSCHAT_SITE_PORT", 8080))
    site = None
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if port_in_use(site_port):
            raise StackError(f"port {site_port} (for the site) is already in use: stop what holds it or set WSCHAT_SITE_PORT")
        print("Starting DynamoDB Local and sls offline ...", flush=True)
        stack.start()
        tokens = ensure_demo_users(stack)
        site = SiteServer(build_local_site(stack, ROOT / "site"), site_port).start()
    except StackError as exc:
        print(f"make dev: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    passwords = demo_passwords()
    token = urllib.parse.quote(f"Bearer {tokens['alice']}")
    print(f"""
wschat is running (stage local).
  Open          {site.url}/   <- the chat in your browser
  HTTP API      {stack.http_url}   (POST /register, /login, /guest)
  WebSocket     {stack.ws_url}   (API Gateway's frame, message and time limits enforced)
  @connections  {stack.management_url}   (posts over 128 KB refused with 413, as on AWS)
  DynamoDB      {stack.ddb_url}    (data in {STATE_DIR / 'dynamodb'})
  Logs          {stack.log_dir}

Demo users:   alice / {passwords['alice']}    bob / {passwords['bob']}

Chat as alice with wscat (npx wscat), then type: {{"action":"join"}}
  npx wscat -c '{stack.ws_url}?token={token}&room=general'

Press Ctrl-C to stop everything.""", flush=True)
    try:
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"make dev: {name} exited with code {process.returncode}; see {stack.log_dir}", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("\nStopping ...", flush=True)
        site.stop()
        stack.stop()
    return 0


def secret(args, ssm=None) -> int:
    """The stage's JWT secret in SSM Parameter Store (devstack/secret.py; `make secret` runs that directly)."""
    return run_secret(args, ssm=ssm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", help="run the chat locally until Ctrl-C")
    secret_parser = commands.add_parser("secret", help="create or rotate a deployed stage's JWT secret in SSM")
    add_secret_arguments(secret_parser)
    args = parser.parse_args(argv)
    return {"dev": dev, "secret": secret}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
