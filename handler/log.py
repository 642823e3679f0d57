"""One JSON line per log event, with the request's keys (route, connectionId, username, requestId).

Why not print(): `sls logs -t` and CloudWatch Logs Insights both read JSON lines as fields. Never
pass a token, a password or a message body to these functions; the keys below are all that a log
line needs to trace a request.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Callable

_context: ContextVar[dict] = ContextVar("wschat_log_context", default={})
_function = "local"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "level": record.levelname,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "function": _function,
            "message": record.getMessage(),
        }
        line.update(_context.get())
        extra = getattr(record, "fields", None)
        if extra:
            line.update(extra)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time, so a redirected stdout (tests) sees the lines."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def _build_logger() -> logging.Logger:
    logger = logging.getLogger("wschat")
    if not logger.handlers:
        stream = _StdoutHandler()
        stream.setFormatter(_JsonFormatter())
        logger.addHandler(stream)
        # The Lambda runtime installs its own root handler; not propagating avoids a second,
        # unstructured copy of every line.
        logger.propagate = False
        logger.setLevel(logging.INFO)
    return logger


logger = _build_logger()


def configure(*, level: str, function: str) -> None:
    """Set the level and the function name every line carries (the composition root calls it)."""
    global _function
    _function = function
    logger.setLevel(level)


_started: ContextVar[float] = ContextVar("wschat_log_started", default=0.0)
_meters: dict[str, Callable[[], int]] = {}
_meter_starts: ContextVar[dict] = ContextVar("wschat_log_meter_starts", default={})


def meter(name: str, read: Callable[[], int]) -> None:
    """Report, in each summary line, how much `read()` grew during the invocation (e.g. items read)."""
    _meters[name] = read


def bind(**fields) -> None:
    """Start an invocation: set the keys that every later line of it carries, and its clock."""
    _context.set({key: value for key, value in fields.items() if value is not None})
    _started.set(time.perf_counter())
    _meter_starts.set({name: read() for name, read in _meters.items()})


def finish(outcome: str, *, level: int = logging.INFO, **fields) -> None:
    """The invocation's one summary line: what happened, the keys gathered with add(), meters, latency."""
    latency = round((time.perf_counter() - _started.get()) * 1000, 2)
    starts = _meter_starts.get()
    metered = {name: read() - starts[name] for name, read in _meters.items() if name in starts}
    logger.log(level, outcome, extra={"fields": {**metered, **fields, "latencyMs": latency}})


def add(**fields) -> None:
    """Add keys to this invocation's lines (the summary line included)."""
    merged = dict(_context.get())
    merged.update({key: value for key, value in fields.items() if value is not None})
    _context.set(merged)


def info(message: str, **fields) -> None:
    logger.info(message, extra={"fields": fields})


def debug(message: str, **fields) -> None:
    logger.debug(message, extra={"fields": fields})


def warning(message: str, **fields) -> None:
    logger.warning(message, extra={"fields": fields})


def error(message: str, **fields) -> None:
    logger.error(message, extra={"fields": fields})


def exception(message: str, **fields) -> None:
    logger.error(message, exc_info=True, extra={"fields": fields})
