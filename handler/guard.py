"""The one guard every entry point runs in: WebSocket routes, $connect, HTTP routes, the
authorizer, fanout and sweep.

Under serverless-offline an exception that escapes a Python handler kills its process and every
later call of that function hangs; on AWS it costs the client a generic error. So the guard
catches everything, writes the invocation's one summary line, and asks the entry point's own
`on_failure` what to answer (an error frame, a status code, a Deny policy). If even that fails,
`fallback` is answered.

    handler = guard("sendmessage", open_event=..., on_failure=..., fallback={"statusCode": 200})(work)
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from handler import log
from handler.auth.tokens import TokenError
from handler.errors import ConnectionGone, SendFailed, SessionExpired, StorageUnavailable
from handler.protocol import ProtocolError
from handler.settings import ConfigError


class Refused(Exception):
    """Raised by an entry point's work to answer with a status and a message (HTTP, $connect)."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None, **log_fields):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after  # seconds, for a 429 (HTTP: Retry-After and "retryAfterSeconds")
        self.log_fields = log_fields


def describe(exc: BaseException) -> tuple[str, int, dict]:
    """The summary line for a failure: (outcome, level, fields). Never includes secrets or bodies."""
    if isinstance(exc, ProtocolError):
        return "refused", logging.INFO, {"code": exc.code.value}
    if isinstance(exc, Refused):
        return "refused", logging.INFO, {"status": exc.status, "error": exc.message, **exc.log_fields}
    if isinstance(exc, TokenError):
        return "deny", logging.INFO, {"reason": str(exc)}
    if isinstance(exc, SessionExpired):
        return "session expired", logging.INFO, {}
    if isinstance(exc, ConnectionGone):
        return "sender gone", logging.INFO, {}
    if isinstance(exc, StorageUnavailable):
        return "storage unavailable", logging.WARNING, {"error": str(exc)}
    if isinstance(exc, SendFailed):
        return "send failed", logging.WARNING, {"error": str(exc)}
    if isinstance(exc, ConfigError):
        return "misconfigured", logging.ERROR, {"error": str(exc)}
    return "internal error", logging.ERROR, {}


def count_failure(exc: BaseException) -> None:
    """The metric a handled failure adds to (handler/log.py, EMF): refusals by code, the store
    unavailable, and what should never happen (a bug, a misconfiguration), which Lambda's own
    Errors never sees because the guard answers it."""
    if isinstance(exc, (ProtocolError, Refused)):
        log.count("Refusals", by="code")
    elif isinstance(exc, TokenError):
        log.count("AuthorizerDenials")
    elif isinstance(exc, StorageUnavailable):
        log.count("StorageUnavailable")
    elif not isinstance(exc, (SessionExpired, ConnectionGone, SendFailed)):
        log.count("InternalErrors")


def guard(
    route: str,
    *,
    open_event: Callable[[Any], Any],
    on_failure: Callable[[Any, Exception], Any],
    fallback: Any,
    bind: Callable[[Any], dict] | None = None,
):
    """Wrap `work(event)`: `open_event` types the raw event, `bind` names its log keys."""

    def wrap(work: Callable[[Any], Any]):
        @functools.wraps(work)
        def entry(raw_event=None, context=None):
            event = None
            try:
                event = open_event(raw_event)
                log.bind(route=route, **(bind(event) if bind else {}))
                result = work(event)
                log.finish("ok")
                return result
            except Exception as exc:  # noqa: BLE001 - the guard's whole point
                outcome, level, fields = describe(exc)
                count_failure(exc)
                if level >= logging.ERROR and not isinstance(exc, ConfigError):
                    log.exception("unhandled error")
                log.finish(outcome, level=level, **fields)
                try:
                    return on_failure(event, exc)
                except Exception:  # noqa: BLE001
                    log.exception("failure handling failed")
                    return fallback

        return entry

    return wrap


def quietly(function: Callable, *args) -> None:
    """Run a clean-up step whose failure must not hide the error being answered."""
    try:
        function(*args)
    except (StorageUnavailable, SendFailed, ConnectionGone):
        log.warning("cleanup failed")
    except Exception:  # noqa: BLE001
        log.exception("cleanup failed")
