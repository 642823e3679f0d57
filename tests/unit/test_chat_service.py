"""The Chat service driven directly (no entry points): moto's DynamoDB behind the store, the fake
@connections API behind the sender, a clock the test moves, all wired by the App."""

import pytest

from handler import app
from handler.protocol import Identity, Join, SendMessage
from tests.unit.conftest import reinstall_app

T0 = 1_795_000_000_000  # epoch ms; every test's clock starts here


class Clock:
    def __init__(self, ms: int):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
def clock(api):
    moving = Clock(T0)
    app.app().clock = moving
    return moving


@pytest.fixture
def chat_with(api, clock, monkeypatch):
    """The chat service of an App built with these environment settings."""

    def build(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        instance = reinstall_app()
        instance.clock = clock
        return instance.chat()

    return build


@pytest.fixture
def chat(chat_with):
    return chat_with()


def identity(clock, username, *, expires_in=3600, session_limit=0, jti=None, guest=False) -> Identity:
    return Identity(username=username, guest=guest, expires_at=clock() // 1000 + expires_in,
                    session_limit_seconds=session_limit, jti=jti)


def connect(chat, clock, connection_id, username, room="general", **claims):
    return chat.connect(connection_id=connection_id, identity=identity(clock, username, **claims), room=room,
                        source_ip="203.0.113.7", user_agent="pytest-client/1.0")


def presence(event, user, room, online):
    return {"type": "presence", "event": event, "user": user, "room": room, "online": online}


def say(chat, clock, connection_id, username, text, client_msg_id=None):
    chat.send_message(connection_id, identity(clock, username), SendMessage(text, client_msg_id))


# -- connect and join: presence -----------------------------------------------------------------


def test_a_second_tab_connecting_is_not_announced_as_joined(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()
    connect(chat, clock, "b2", "bob")
    assert api.frames("a1") == []


def test_join_into_a_room_holding_another_tab_says_no_joined(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r2")
    connect(chat, clock, "c1", "carol", "r2")
    api.clear()
    chat.join("a1", identity(clock, "alice"), Join("r2"))
    assert api.frames("c1") == []
    assert api.last("a1")["online"] == ["alice", "carol"]

