"""Whose role applies to the calls being made (an entry point's invocation), and who is told
about every checked call (the unit tests' refusal check, the stack test's recording)."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Callable, Iterator


@dataclass(frozen=True)
class Call:
    """One checked call: which function's role, what it needed, whether the role grants it."""

    function: str
    action: str
    resource: str
    allowed: bool


# A plain list, not a context variable: sendmessage reads a room's members on a side thread
# (handler/chat.py), and that read is the function's too. One invocation runs at a time per process.
_acting: list[str] = []
_observers: list[Callable[[Call], None]] = []
_lock = threading.Lock()


@contextlib.contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Check calls made meanwhile against `function`'s role (an entry point's invocation)."""
    with _lock:
        _acting.append(function)
    try:
        yield
    finally:
        with _lock:
            _acting.pop()


def acting() -> str | None:
    with _lock:
        return _acting[-1] if _acting else None


@contextlib.contextmanager
def observe(callback: Callable[[Call], None]) -> Iterator[None]:
    """Tell `callback` about every call checked meanwhile, allowed or not."""
    with _lock:
        _observers.append(callback)
    try:
        yield
    finally:
        with _lock:
            _observers.remove(callback)


def notify(call: Call) -> None:
    """Tell every observer about one checked call."""
    with _lock:
        observers = list(_observers)
    for callback in observers:
        callback(call)
