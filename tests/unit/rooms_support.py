"""What the rooms and moderation services' tests share: both services and the chat service of an App
over moto's DynamoDB and the fake @connections API (tests/unit/conftest.py), a clock the test
moves, accounts, and requests as the protocol parses them.

Test modules import the fixture they use from here (world)."""

import pytest

from handler import protocol
from handler.protocol import ErrorCode, ProtocolError, Request
from tests.unit.conftest import Clock, accounts, reinstall_app

T0 = 1_795_000_000_000


@pytest.fixture
def world(api, monkeypatch):
    clock = Clock(T0)

    def build(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        instance = reinstall_app()
        instance.clock = clock
        chat = instance.chat()
        return chat, instance.room_service(chat), instance.moderation(chat)

    build.clock = clock
    return build


def who(clock, username, guest=False):
    return protocol.Identity(username=username, guest=guest, expires_at=clock() // 1000 + 3600, session_limit_seconds=0)


def member(name, *, admin=False):
    assert accounts().create_user(username=name, password_hash="x", guest=False, created_at_ms=T0)
    if admin:
        assert accounts().set_admin(name, True)


def connect(chat, clock, cid, name, room="lobby"):
    return chat.connections.connect(connection_id=cid, identity=who(clock, name), room=room, source_ip=None, user_agent=None)


def parsed(parse, **fields):
    return parse(Request(action="x", fields=fields))


def refused(call, code: ErrorCode) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call()
    assert caught.value.code is code, caught.value.message
    return caught.value
