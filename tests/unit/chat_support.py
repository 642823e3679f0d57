"""What the chat service's tests share: the chat service of an App over moto's DynamoDB and the fake
@connections API (tests/unit/conftest.py), a clock the test moves, and ways to connect and speak.

Test modules import the fixtures they use from here (clock, chat_with, chat)."""

import pytest

from handler import app
from handler.protocol import Identity, ProtocolError, SendMessage
from tests.unit.conftest import Clock, heard, reinstall_app

T0 = 1_795_000_000_000  # epoch ms; every test's clock starts here


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
    return chat.connections.connect(connection_id=connection_id, identity=identity(clock, username, **claims), room=room,
                        source_ip="203.0.113.7", user_agent="pytest-client/1.0")


def presence(event, user, room, online):
    return {"type": "presence", "event": event, "user": user, "room": room, "online": online, "onlineCount": len(online)}


def say(chat, clock, connection_id, username, text, client_msg_id=None):
    return heard(chat, connection_id, chat.messaging.send_message(connection_id, identity(clock, username),
                                                        SendMessage(text, client_msg_id)))


def sent(chat, clock, api, connection_id, username, text, **extra):
    return heard(chat, connection_id, chat.messaging.send_message(connection_id, identity(clock, username),
                                                        SendMessage(text, None, **extra)))


def refused(call) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call()
    return caught.value
