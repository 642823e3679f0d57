"""The JWT signing secret: inline on the local stage, from SSM Parameter Store on AWS.

Two SecureString parameters per stage (ops/secret.py writes them; docs/deploy.md):
`/wschat/<stage>/jwt-secret`, the current secret, and, after `make secret ROTATE=1`,
`/wschat/<stage>/jwt-secret-previous`, JSON `{"secret", "rotatedAt", "acceptUntil"}`: the secret
before the rotation, still accepted (never used to sign) until `acceptUntil`.

A process reads both in one GetParameters call, then again only after `jwt_secret_cache_seconds`
(300), so a rotation takes effect within minutes without an SSM call per request, and live tokens
signed with the previous secret keep working through the grace period. If SSM cannot be read when
the cached copy is due, the cached copy is kept (a brief SSM outage must not log everyone out).

A cold-start storm (a deploy, a traffic spike: hundreds of new processes within a second, each
reading before it can sign or check anything) meets SSM's standard throughput, 40 GetParameters per
second per account and region, shared with every other reader. A throttled read is retried with
capped exponential backoff and full jitter (AWS's "Exponential Backoff And Jitter"), so the storm
spreads out instead of retrying in lockstep; the client's own single retry is not enough for that.
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Callable

from handler import log
from handler.settings import Accounts, ConfigError

# Anything shorter is too easy to brute-force offline.
JWT_SECRET_MIN_BYTES = 32
# The parameter holding the secret that was current before the last rotation.
PREVIOUS_SUFFIX = "-previous"
# SSM's answers to too many calls: retried, with a random wait of up to 0.1, 0.2, 0.4, 0.8, 1.6 s
# (at most 3.1 s in all, well inside the 10 s function timeout and API Gateway's 29 s).
THROTTLED = {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Throttling"}
READ_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 1.6


class SigningKeys:
    def __init__(
        self, accounts: Accounts, ssm_client: Callable[[], object], clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ):
        self.accounts = accounts
        self.ssm_client = ssm_client
        self.clock = clock
        self.wall_clock = wall_clock
        self.sleep = sleep
        self.jitter = jitter
        self._current: bytes | None = None
        self._previous: tuple[bytes, float] | None = None  # (secret, accepted until: epoch seconds)
        self._read_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> bytes:
        """The secret new tokens are signed with."""
        return self.accepted()[0]

    def accepted(self) -> list[bytes]:
        """Every secret a token may be signed with: the current one first."""
        if self.accounts.jwt_secret:
            return [_checked(self.accounts.jwt_secret)]
        with self._lock:
            if self._current is None or self.clock() - self._read_at >= self.accounts.jwt_secret_cache_seconds:
                try:
                    self._current, self._previous = self._read()
                    self._read_at = self.clock()
                except ConfigError:
                    if self._current is None:
                        raise
                    log.warning("could not refresh the JWT secret; keeping the cached one")
            keys = [self._current]
            if self._previous is not None and self.wall_clock() < self._previous[1]:
                keys.append(self._previous[0])
            return keys

    def _read(self) -> tuple[bytes, tuple[bytes, float] | None]:
        from botocore.exceptions import BotoCoreError, ClientError

        name, previous_name = self.accounts.jwt_secret_param, self.accounts.jwt_secret_param + PREVIOUS_SUFFIX
        for attempt in range(READ_ATTEMPTS):
            try:
                found = self.ssm_client().get_parameters(Names=[name, previous_name], WithDecryption=True)
                break
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in THROTTLED or attempt == READ_ATTEMPTS - 1:
                    raise ConfigError(f"cannot read the JWT secret parameter {name}: {code or 'ClientError'}") from None
                wait = self.jitter(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt))
                log.warning("SSM throttled the JWT secret's read; retrying", attempt=attempt + 1, waitSeconds=round(wait, 3))
                self.sleep(wait)
            except BotoCoreError as exc:
                raise ConfigError(f"cannot read the JWT secret parameter {name}: {exc.__class__.__name__}") from None
        values = {parameter["Name"]: parameter["Value"] for parameter in found.get("Parameters", [])}
        if name not in values:
            raise ConfigError(f"cannot read the JWT secret parameter {name}: not found (make secret STAGE=...)")
        return _checked(values[name]), _previous(values.get(previous_name))


def _previous(value: str | None) -> tuple[bytes, float] | None:
    """The previous secret and until when it is accepted; None when there is none or it is malformed."""
    if not value:
        return None
    try:
        data = json.loads(value)
        return _checked(data["secret"]), float(data["acceptUntil"])
    except (ValueError, TypeError, KeyError, ConfigError):
        log.warning("ignoring a malformed previous JWT secret parameter")
        return None


def _checked(secret: str) -> bytes:
    encoded = secret.encode("utf-8")
    if len(encoded) < JWT_SECRET_MIN_BYTES:
        raise ConfigError(f"the JWT secret must be at least {JWT_SECRET_MIN_BYTES} bytes")
    return encoded
