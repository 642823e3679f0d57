"""The WebSocket routes called as API Gateway calls them, for the routes' tests: a connection
opened, a message sent (its two-way answer recorded as the asker receives it), a join."""

from handler import connect, messages
from tests.unit.conftest import through_gateway, ws_event


def connect_user(connection_id, username="alice", room=None, **kwargs):
    response = connect.handler(ws_event("$connect", connection_id=connection_id, username=username, room=room, **kwargs))
    assert response["statusCode"] == 200, response
    return response


def send(connection_id, body, username="alice", **kwargs):
    return through_gateway(messages.send_message,
                           ws_event("sendmessage", body, connection_id=connection_id, username=username, **kwargs))


def join(connection_id, room=None, username="alice", **kwargs):
    body = {"action": "join"} | ({"room": room} if room else {})
    return messages.join(ws_event("join", body, connection_id=connection_id, username=username, **kwargs))
