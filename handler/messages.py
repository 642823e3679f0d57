"""Entry points of the WebSocket message routes: sendmessage, join, history, heartbeat, renew, read, $default."""

from handler import protocol
from handler.app import app
from handler.entry import websocket_route
from handler.protocol import ErrorCode, ProtocolError


def _send_message(chat, event, connection_id, identity):
    return chat.messaging.send_message(connection_id, identity, protocol.parse_send_message(protocol.parse_request(event.body)))


def _join(chat, event, connection_id, identity):
    chat.connections.join(connection_id, identity, protocol.parse_join(protocol.parse_request(event.body)))


def _history(chat, event, connection_id, identity):
    chat.messaging.history(connection_id, identity, protocol.parse_history(protocol.parse_request(event.body)))


def _heartbeat(chat, event, connection_id, identity):
    return chat.messaging.heartbeat()


def _renew(chat, event, connection_id, identity):
    chat.message_actions.renew(connection_id, identity, protocol.parse_renew(protocol.parse_request(event.body)))


def _read(chat, event, connection_id, identity):
    app().read_service(chat).read(connection_id, identity, protocol.parse_read(protocol.parse_request(event.body)))


def _default(chat, event, connection_id, identity):
    """Frames that no route matched: not JSON, no action, or an unknown action.

    API Gateway sends every known action to its own route, so whatever reaches this one is an
    error; it only ever replies (its IAM role can do no more).
    """
    request = protocol.parse_request(event.body)
    protocol.known_action(request.action)
    raise ProtocolError(ErrorCode.UNKNOWN_ACTION, f"action {request.action!r} is not served on this route")


# Two-way routes (infra/functions.yml): the sender's copy of its message, and the heartbeat's
# answer, are each route's response, not a post.
send_message = websocket_route("sendmessage", _send_message, two_way=True)
join = websocket_route("join", _join)
history = websocket_route("history", _history)
heartbeat = websocket_route("heartbeat", _heartbeat, two_way=True)
default = websocket_route("$default", _default)
renew = websocket_route("renew", _renew)
read = websocket_route("read", _read)
