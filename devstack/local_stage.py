"""What the local stage runs with: its name, its state folder (.wschat/), the credentials DynamoDB
Local accepts, the ports (WSCHAT_*_PORT), the API Gateway limits the gateway enforces, the
checkout's signing secret, and the origins allowed to call the HTTP API."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from devstack import gateway
from devstack.http_relay import origins_from_env
from stackfiles.config import ROOT

STAGE = "local"
STATE_DIR = ROOT / ".wschat"
SECRET_FILE = STATE_DIR / "jwt-secret"
LOCAL_CREDENTIALS = {
    # DynamoDB Local with -sharedDb accepts any credentials; boto3 only needs some.
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Ports:
    """The local stack's ports on 127.0.0.1, each set by its WSCHAT_*_PORT variable."""

    http: int = 3000
    ws: int = 3001  # where clients connect: the gateway (sls offline itself when there is none)
    ddb: int = 8000
    lambda_: int = 3002
    management: int = 3004  # the gateway's @connections API, which the functions post to
    offline_ws: int = 3005  # sls offline's own WebSocket and @connections port, behind the gateway
    offline_http: int = 3006  # sls offline's own HTTP port, behind the relay on `http`

    @classmethod
    def from_env(cls) -> "Ports":
        return cls(
            http=int(os.environ.get("WSCHAT_HTTP_PORT", 3000)),
            ws=int(os.environ.get("WSCHAT_WS_PORT", 3001)),
            ddb=int(os.environ.get("WSCHAT_DDB_PORT", 8000)),
            lambda_=int(os.environ.get("WSCHAT_LAMBDA_PORT", 3002)),
            management=int(os.environ.get("WSCHAT_MANAGEMENT_PORT", 3004)),
            offline_ws=int(os.environ.get("WSCHAT_OFFLINE_WS_PORT", 3005)),
            offline_http=int(os.environ.get("WSCHAT_OFFLINE_HTTP_PORT", 3006)),
        )

    @classmethod
    def free(cls) -> "Ports":
        return cls(http=free_port(), ws=free_port(), ddb=free_port(), lambda_=free_port(), management=free_port(),
                   offline_ws=free_port(), offline_http=free_port())


@dataclass(frozen=True)
class AwsLimits:
    """What API Gateway enforces on a WebSocket API that a client or a function can observe
    (AWS page "Quotas for configuring and running a WebSocket in API Gateway"), enforced locally.

    The sizes are the gateway's (devstack/gateway.py); the timeouts are serverless-offline's own
    options (`webSocketIdleTimeout`, `webSocketHardTimeout`), which close with 1001 "Going away".
    Tests shorten the timeouts; nothing else should change these.
    """

    frame_max_bytes: int = gateway.FRAME_MAX_BYTES  # a client frame over this closes the connection (1009)
    message_max_bytes: int = gateway.MESSAGE_MAX_BYTES  # so does a client message over this
    post_max_bytes: int = gateway.POST_MAX_BYTES  # an @connections post over this gets HTTP 413
    idle_timeout_seconds: int = 600  # no frame either way for this long closes the connection
    hard_timeout_seconds: int = 7200  # and every connection closes after this long

    @classmethod
    def from_env(cls) -> "AwsLimits":
        return cls(
            idle_timeout_seconds=int(os.environ.get("WSCHAT_WS_IDLE_TIMEOUT_SECONDS", 600)),
            hard_timeout_seconds=int(os.environ.get("WSCHAT_WS_HARD_TIMEOUT_SECONDS", 7200)),
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jwt_secret() -> str:
    """This checkout's signing secret for the local stage, made on first use, kept out of git."""
    STATE_DIR.mkdir(exist_ok=True)
    if not SECRET_FILE.exists():
        SECRET_FILE.write_text(secrets.token_urlsafe(48))
        SECRET_FILE.chmod(0o600)
    return SECRET_FILE.read_text().strip()


def default_allowed_origins() -> tuple[str, ...]:
    """The origins whose pages may call the HTTP API: WSCHAT_ALLOWED_ORIGINS (comma-separated), else
    the site `make dev` serves (WSCHAT_SITE_PORT)."""
    return origins_from_env() or (f"http://127.0.0.1:{os.environ.get('WSCHAT_SITE_PORT', 8080)}",)
