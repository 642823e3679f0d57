"""`python -m devstack dev`: run the whole chat locally until Ctrl-C (what `make dev` runs)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
import urllib.parse

from devstack.local_stage import STAGE, STATE_DIR, AwsLimits, Ports
from devstack.site import SiteServer, build_local_site
from devstack.stack import LocalStack, StackError, port_in_use
from handler.auth.passwords import hash_password, verify_password
from handler.auth.tokens import issue_token
from handler.errors import StorageUnavailable
from handler.settings import Settings
from handler.signing_keys import SigningKeys
from handler.store.accounts import AccountsStore
from ops.secret import add_arguments as add_secret_arguments
from ops.secret import run_args as run_secret
from stackfiles.config import ROOT

DEMO_USERS = ("alice", "bob")
# Site admins among them: they moderate every room (`make admin` does the same on a deployed stage).
DEMO_ADMINS = ("alice",)
DEMO_PASSWORDS = STATE_DIR / "demo-passwords.json"


def demo_passwords() -> dict[str, str]:
    if DEMO_PASSWORDS.exists():
        return json.loads(DEMO_PASSWORDS.read_text())
    passwords = {name: f"{name}-{secrets.token_hex(4)}" for name in DEMO_USERS}
    DEMO_PASSWORDS.write_text(json.dumps(passwords))
    DEMO_PASSWORDS.chmod(0o600)
    return passwords


def ensure_demo_users(dynamodb, passwords: dict[str, str], settings: Settings, now: int | None = None) -> dict[str, str]:
    """Make each demo user exist with its password, straight in the Users table, and return
    {name: token} (signed with the stage's secret, as a login would).

    Never through POST /login: a failed attempt there counts against the name and 127.0.0.1 like
    anyone's, and a setup step must not spend them (nor be refused by them). An existing user whose
    password no longer matches (demo-passwords.json was deleted) gets the current one."""
    store = AccountsStore(dynamodb, settings.tables)
    keys = SigningKeys(settings.accounts, lambda: None)
    now = int(time.time()) if now is None else now
    tokens = {}
    try:
        for name, password in passwords.items():
            user = store.get_user(name)
            if user is not None and user.guest:
                raise StackError(f"could not create demo user {name}: a guest holds the name")
            if user is None:
                if not store.create_user(username=name, password_hash=hash_password(password), guest=False,
                                         created_at_ms=now * 1000):
                    raise StackError(f"could not create demo user {name}: the name was taken meanwhile")
            elif not verify_password(password, user.password_hash):
                store.set_password_hash(name, hash_password(password))
            if name in DEMO_ADMINS:
                store.set_admin(name, True)
            tokens[name], _ = issue_token(
                username=user.username if user else name, guest=False,
                ttl_seconds=settings.accounts.token_ttl_seconds,
                session_limit_seconds=settings.accounts.member_session_limit_seconds, secret=keys.current(),
                audience=settings.audience, now=now,
            )
    except StorageUnavailable as exc:
        raise StackError(f"could not create the demo users: DynamoDB Local failed ({exc})") from None
    return tokens


def local_settings(stack: LocalStack) -> Settings:
    """The settings the local stage's functions run with (tables, token lifetimes, the secret)."""
    return Settings.from_env(stack.function_env() | {"WSCHAT_STAGE": STAGE})


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
        tokens = ensure_demo_users(stack.dynamodb(), demo_passwords(), local_settings(stack))
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

Demo users:   alice / {passwords['alice']}    bob / {passwords['bob']}    (alice is a site admin: she moderates every room)

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
    """The stage's JWT secret in SSM Parameter Store (ops/secret.py; `make secret` runs that directly)."""
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
