"""The IAM harness of the tests (local_iam/): every entry point runs as its own function.

`wrap_entry_points()` replaces each entry point named in infra/functions.yml (`handler/connect.handler`,
`handler/messages.send_message`, ...) by one that runs it inside `iam.acting_as(<function>)`, so the
calls it makes are checked against that function's role. It runs once, when tests/unit/conftest.py
is imported: before any test module takes a reference to an entry point (test_fuzz lists them at
collection). Entry points are the only code the harness holds to a role; tests that call a service
or a store directly, or set up and inspect state, are not checked.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path

import local_iam as iam
from stackfiles import grants as stack_iam

# Any stage: handler paths do not depend on it.
ENTRY_POINTS: dict[str, str] = {f.key: f.handler for f in stack_iam.stack_functions("test")}
_wrapped = False


def entry_point(handler_path: str) -> tuple[object, str]:
    """(module, attribute) of `handler/connect.handler`."""
    module_path, attribute = handler_path.rsplit(".", 1)
    return importlib.import_module(module_path.replace("/", ".")), attribute


def acting(function: str, entry: Callable) -> Callable:
    @functools.wraps(entry)
    def run(*args, **kwargs):
        with iam.acting_as(function):
            return entry(*args, **kwargs)

    run.iam_function = function
    return run


def wrap_entry_points() -> None:
    global _wrapped
    if _wrapped:
        return
    for function, handler_path in ENTRY_POINTS.items():
        module, attribute = entry_point(handler_path)
        setattr(module, attribute, acting(function, getattr(module, attribute)))
    _wrapped = True


def write_policy(target: Path, stage: str, where: stack_iam.Where) -> Path:
    return stack_iam.write_policy_file(target, stage, where)


class Recorder:
    """Collects the calls the harness checks (local_iam.observe)."""

    def __init__(self):
        self.calls: list[iam.Call] = []

    def __call__(self, call: iam.Call) -> None:
        self.calls.append(call)

    def denied(self) -> list[iam.Call]:
        return [call for call in self.calls if not call.allowed]

    def used(self) -> set[tuple[str, str, str]]:
        return {(call.function, call.action, call.resource) for call in self.calls}
