"""What the chat stores' tests share: the stores over a given client, a connection row to put, and
a client that behaves as DynamoDB does at its limits (pages, refusals) where a test says so."""

from types import SimpleNamespace

from botocore.exceptions import ClientError

from handler.settings import Settings
from handler.store.connections import Connection, ConnectionStore
from handler.store.followups import FollowUpStore
from handler.store.messages import MessageStore
from handler.store.sessions import SessionStore
from tests.unit.conftest import STAGE

CONNECTIONS = f"wschat-{STAGE}-ActiveConnections"
T0 = 1_795_000_000_000  # epoch ms; every test's clock starts here


def chat_stores(client, reads=None) -> SimpleNamespace:
    """The four chat stores over `client`, sharing one read counter (None: a new one each)."""
    settings = Settings.from_env()
    return SimpleNamespace(
        connections=ConnectionStore(client, settings.tables, reads),
        follow_ups=FollowUpStore(client, settings.tables, reads),
        sessions=SessionStore(client, settings.tables, settings.retention, reads),
        messages=MessageStore(client, settings.tables, settings.retention, reads),
    )


def connection(connection_id, username="alice", room="general", *, at_ms=T0, expires_in=3600, session_limit=None,
               jti=None, guest=False) -> Connection:
    return Connection(
        connection_id=connection_id, username=username, guest=guest, room=room, connected_at_ms=at_ms,
        expires_at=at_ms // 1000 + expires_in,
        session_ends_at=at_ms // 1000 + session_limit if session_limit is not None else None, jti=jti,
    )


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class Wrapped:
    """The moto client, with some operations replaced by a test."""

    def __init__(self, client, **replaced):
        self._client = client
        self._replaced = replaced

    def __getattr__(self, name):
        return self._replaced.get(name) or getattr(self._client, name)


def small_pages(client, page_size=2):
    """A client whose queries return `page_size` items a page, as DynamoDB does past 1 MB."""
    calls = []

    def query(**request):
        calls.append(request)
        return client.query(**{"Limit": page_size, **request})

    return Wrapped(client, query=query), calls


def failing(client, operation, error) -> SimpleNamespace:
    """The stores over a client whose `operation` raises `error`."""
    def raise_(**_):
        raise error

    return chat_stores(Wrapped(client, **{operation: raise_}))


def append(chats, text, at_ms=T0, room="general", sender="alice", client_msg_id=None):
    """Store a message through `chats.messages` (a namespace of chat_stores)."""
    return chats.messages.append_message(room=room, sender=sender, message=text, client_msg_id=client_msg_id,
                                         sent_at_ms=at_ms)
