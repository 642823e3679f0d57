"""Integration fixtures: the real local stack (DynamoDB Local + sls offline) on free ports, its
sweeper (which a test may hold), and WebSocket clients."""

import contextlib
import json
import threading
import time
import urllib.parse
import uuid

import pytest
import requests
from websockets.sync.client import connect as ws_connect

from devstack.local_stage import Ports
from devstack.stack import LocalStack

GUEST_SESSION_LIMIT = 4
MODERATION_MINUTE_SECONDS = 2
# How long a closed page's `left` is held for a reload (the default, set here so that tests read it).
PRESENCE_GRACE_SECONDS = 5
# The session stack's sweep runs this often (on AWS: every minute).
SWEEP_SECONDS = 1


class Sweeper:
    """Invokes the stack's `sweep` function every `period` seconds, as the schedule does on AWS,
    unless a test holds it. What the sweep settles (a `left` held for the presence grace, a session
    that ran out) then waits until the test lets it go, however long its steps take on a loaded
    machine: the test, not the machine's speed, decides whether the sweep comes before or after."""

    def __init__(self, period: float):
        self.period = period
        self._sweeping = threading.Lock()  # held by a sweep in flight, and by a test that holds the sweeper
        self._stop = threading.Event()

    @contextlib.contextmanager
    def running(self, stack):
        thread = threading.Thread(target=self._run, args=(stack,), name="sweeper", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=30)

    def _run(self, stack) -> None:
        while not self._stop.wait(self.period):
            with self._sweeping:
                try:
                    stack.invoke("sweep")
                except OSError:
                    pass  # sls offline restarting: try again next round

    @contextlib.contextmanager
    def held(self):
        """No sweep runs inside this block (one in flight is waited for first)."""
        with self._sweeping:
            yield


@pytest.fixture(scope="session")
def sweeper() -> Sweeper:
    """The session stack's sweeper: `with sweeper.held():` keeps the sweep from running meanwhile."""
    return Sweeper(SWEEP_SECONDS)


@pytest.fixture(scope="session")
def stack(sweeper):
    local = LocalStack(
        ports=Ports.free(), data_dir=None,
        env={"WSCHAT_GUEST_SESSION_LIMIT_SECONDS": str(GUEST_SESSION_LIMIT), "WSCHAT_MESSAGE_BURST": "10",
             "WSCHAT_MESSAGE_RATE": "2", "WSCHAT_LOGIN_MAX_FAILURES": "3",
             # A ban's or mute's "minute" lasts 2 s here, so that tests see one end.
             "WSCHAT_MODERATION_MINUTE_SECONDS": str(MODERATION_MINUTE_SECONDS),
             "WSCHAT_PRESENCE_GRACE_SECONDS": str(PRESENCE_GRACE_SECONDS)},
    )
    with local, sweeper.running(local):
        yield local


class Client:
    """A WebSocket client that reads frames by type and keeps the ones it skipped."""

    def __init__(self, stack, token, room=None, bearer=True):
        query = {"token": f"Bearer {token}" if bearer else token}
        if room:
            query["room"] = room
        self.ws = ws_connect(f"{stack.ws_url}/?{urllib.parse.urlencode(query)}", open_timeout=15)
        self.seen: list[dict] = []
        self.sizes: list[int] = []  # the encoded size of each frame in `seen`, in bytes

    def send(self, frame):
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def recv(self, timeout=10) -> dict:
        raw = self.ws.recv(timeout=timeout)
        frame = json.loads(raw)
        self.seen.append(frame)
        self.sizes.append(len(raw.encode() if isinstance(raw, str) else raw))
        return frame

    def size_of(self, frame: dict) -> int:
        """The encoded size of a frame this client received."""
        return self.sizes[next(i for i, seen in enumerate(self.seen) if seen is frame)]

    # Generous waits: they only run out when something is wrong, and the first call of a function
    # (a cold start: sls offline starts a Python process) takes seconds on a loaded 2-core machine.
    def next(self, type_, timeout=20, **match) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {type_} frame {match} within {timeout} s; saw {self.seen[-5:]}")
            frame = self.recv(remaining)
            if frame.get("type") == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame

    def nothing_more(self, wait=1.0) -> list[dict]:
        """Frames that arrive within `wait` seconds (to prove that nothing does)."""
        frames = []
        try:
            while True:
                frames.append(self.recv(wait))
        except TimeoutError:
            return frames

    def join(self, room=None, timeout=30) -> dict:
        self.send({"action": "join"} | ({"room": room} if room else {}))
        return self.next("welcome", timeout=timeout)

    def close(self):
        self.ws.close()


def unique_name(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def register(stack):
    def make(name=None, password="integration-pw"):
        name = name or unique_name()
        response = requests.post(f"{stack.http_url}/register", json={"username": name, "password": password}, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()
    return make


@pytest.fixture
def client(stack):
    opened = []

    def make(token, room=None, **kwargs):
        c = Client(stack, token, room, **kwargs)
        opened.append(c)
        return c

    yield make
    for c in opened:
        try:
            c.close()
        except Exception:
            pass


@pytest.fixture
def person(register, client):
    """A registered user with one connection: (name, token, client)."""

    def make(room=None, name=None):
        name = name or unique_name("r")
        token = register(name)["token"]
        c = client(token, room or unique_name("lobby"))
        c.join()
        return name, token, c

    return make


def ask(c: Client, frame: dict, expect: str, **match) -> dict:
    c.send(frame)
    return c.next(expect, **match)


def error(c: Client, frame: dict) -> dict:
    c.send(frame)
    return c.next("error")
