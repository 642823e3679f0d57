"""Reading CloudWatch's embedded metric format (EMF) back from log lines, as CloudWatch Logs
would, checking each line against the specification on the way (used by the unit and the
integration tests of handler/log.py's metrics)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

UNITS = {"Count", "Milliseconds"}


def metrics_of(line: dict) -> dict:
    """The metrics CloudWatch would extract from one line, as {(name, dimensions): value}, where
    dimensions is a tuple of (name, value): every directive's dimensions and metrics must resolve
    to members of the line, dimension values be strings, values numbers, units known."""
    meta = line["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_700_000_000_000
    extracted = {}
    for directive in meta["CloudWatchMetrics"]:
        assert directive["Namespace"] == "wschat"
        assert 1 <= len(directive["Metrics"]) <= 100 and directive["Dimensions"]
        for dimensions in directive["Dimensions"]:
            assert 1 <= len(dimensions) <= 30
            assert all(isinstance(line[name], str) and line[name] for name in dimensions), dimensions
        for metric in directive["Metrics"]:
            assert metric["Unit"] in UNITS and isinstance(line[metric["Name"]], (int, float))
            for dimensions in directive["Dimensions"]:
                key = tuple((name, line[name]) for name in dimensions)
                extracted[(metric["Name"], key)] = line[metric["Name"]]
    return extracted


def json_lines(paths: list[Path]) -> Iterator[dict]:
    """The JSON objects of log files whose lines may carry a prefix (sls offline's)."""
    for path in paths:
        for text in path.read_text(errors="replace").splitlines():
            start = text.find("{")
            if start < 0:
                continue
            try:
                line = json.loads(text[start:])
            except ValueError:
                continue
            if isinstance(line, dict):
                yield line
