"""One JSON line per log event, with the request's keys (route, connectionId, username, requestId).

Why not print(): `sls logs -t` and CloudWatch Logs Insights both read JSON lines as fields. Never
pass a token, a password or a message body to these functions; the keys below are all that a log
line needs to trace a request.

Metrics ride on the invocation's summary line in CloudWatch's embedded metric format (EMF): the
line's `_aws` block names the namespace, the dimensions and each metric's unit, and CloudWatch
Logs turns the line into metrics as it arrives, with no PutMetricData call (no latency, no IAM
grant, nothing lost when the function is frozen). `count()` and `timing()` add to the current
invocation's metrics; locally the same lines land in .wschat/logs/. Powertools' Metrics writes
the same shape; this module keeps the zip free of it.
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
_stage = "local"

NAMESPACE = "wschat"
# Every metric is published twice: per function (which route family) and per stage (the whole
# stack, what the alarms watch: one metric each instead of one per function).
DIMENSIONS = (("function",), ("stage",))
COUNT, MILLISECONDS = "Count", "Milliseconds"


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


def configure(*, level: str, function: str, stage: str = "local") -> None:
    """Set the level, the function name and the stage every line carries (the composition root calls it)."""
    global _function, _stage
    _function = function
    _stage = stage
    logger.setLevel(level)


_started: ContextVar[float] = ContextVar("wschat_log_started", default=0.0)
_meters: dict[str, Callable[[], int]] = {}
_meter_starts: ContextVar[dict] = ContextVar("wschat_log_meter_starts", default={})


def meter(name: str, read: Callable[[], int]) -> None:
    """Report, in each summary line, how much `read()` grew during the invocation (e.g. items read)."""
    _meters[name] = read


# This invocation's metrics: name -> [value, unit, extra dimension or None]; and the outcome a
# handled failure gave it (see fail()).
_metrics: ContextVar[dict | None] = ContextVar("wschat_log_metrics", default=None)
_failure: ContextVar[str | None] = ContextVar("wschat_log_failure", default=None)


def bind(**fields) -> None:
    """Start an invocation: set the keys that every later line of it carries, and its clock."""
    _context.set({key: value for key, value in fields.items() if value is not None})
    _started.set(time.perf_counter())
    _meter_starts.set({name: read() for name, read in _meters.items()})
    _metrics.set({})
    _failure.set(None)


def count(name: str, value: int = 1, *, by: str | None = None) -> None:
    """Add `value` to this invocation's metric `name` (a Count). `by`: a key of the summary line
    (e.g. "code") that is a dimension of this metric too, so that it is counted per value."""
    _record(name, value, COUNT, by, add=True)


def timing(name: str, milliseconds: float) -> None:
    """Record a duration; of several in one invocation, the longest is kept."""
    _record(name, round(milliseconds, 2), MILLISECONDS, None, add=False)


def _record(name: str, value: float, unit: str, by: str | None, *, add: bool) -> None:
    metrics = _metrics.get()
    if metrics is None:  # outside an invocation (a tool, a test of one part): nowhere to report
        return
    old = metrics.get(name)
    if old is not None:
        value = old[0] + value if add else max(old[0], value)
    metrics[name] = [value, unit, by]


def fail(outcome: str) -> None:
    """Mark this invocation as failed though it returns normally (a broadcast some members did
    not get): its summary line says `outcome`, at WARNING, instead of "ok"."""
    if _failure.get() is None:
        _failure.set(outcome)


def failure() -> str | None:
    """What fail() marked this invocation with, if anything."""
    return _failure.get()


def emf(metrics: dict, line: dict, timestamp_ms: int) -> dict:
    """The EMF fields for `metrics` (name -> [value, unit, by]) on a line holding `line`'s keys:
    the `_aws` block and each metric's value as a key of the line."""
    groups: dict[str | None, list[dict]] = {}
    values = {}
    for name, (value, unit, by) in metrics.items():
        if by is not None and not isinstance(line.get(by), str):
            by = None  # the dimension's value must be a string on the line; counted without it
        groups.setdefault(by, []).append({"Name": name, "Unit": unit})
        values[name] = value
    # A metric counted `by` a key is also published for the whole stage without it (a total to
    # alarm on and graph), as every metric is.
    directives = [{"Namespace": NAMESPACE,
                   "Dimensions": [list(dims) + [by] for dims in DIMENSIONS] + [list(DIMENSIONS[-1])] if by
                   else [list(dims) for dims in DIMENSIONS],
                   "Metrics": definitions} for by, definitions in groups.items()]
    return {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}, **values}


def finish(outcome: str, *, level: int = logging.INFO, **fields) -> None:
    """The invocation's one summary line: what happened, the keys gathered with add(), meters,
    latency, and this invocation's metrics (EMF)."""
    latency = round((time.perf_counter() - _started.get()) * 1000, 2)
    starts = _meter_starts.get()
    metered = {name: read() - starts[name] for name, read in _meters.items() if name in starts}
    failed = _failure.get()
    if outcome == "ok" and failed is not None:
        outcome, level = failed, max(level, logging.WARNING)
    summary = {**metered, **fields, "latencyMs": latency}
    metrics = _metrics.get()
    if metrics:
        line = {**_context.get(), **summary, "function": _function, "stage": _stage}
        summary.update(emf(metrics, line, int(time.time() * 1000)), stage=_stage)
    logger.log(level, outcome, extra={"fields": summary})


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
