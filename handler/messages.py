"""Entry points of the WebSocket message routes: sendmessage, join, history, heartbeat, $default."""

from handler import protocol
from handler.app import websocket_route
from handler.protocol import ErrorCode, ProtocolError


def _send_message(chat, event, identity):
    request = protocol.parse_request(event.body)
    chat.send_message(event.connection_id, identity, protocol.parse_send_message(request))


def _join(chat, event, identity):
    request = protocol.parse_request(event.body)
    chat.join(event.connection_id, identity, protocol.parse_join(request))


def _history(chat, event, identity):
    request = protocol.parse_request(event.body)
    chat.history(event.connection_id, protocol.parse_history(request))


def _heartbeat(chat, event, identity):
    chat.heartbeat(event.connection_id)


def _default(chat, event, identity):
    """Frames that no route matched: not JSON, no action, or an unknown action.

    API Gateway sends every known action to its own route, so whatever reaches this one is an
    error; it only ever replies (its IAM role can do no more).
    """
    request = protocol.parse_request(event.body)
    protocol.known_action(request.action)
    raise ProtocolError(ErrorCode.UNKNOWN_ACTION, f"action {request.action!r} is not served on this route")


send_message = websocket_route(_send_message)
join = websocket_route(_join)
history = websocket_route(_history)
heartbeat = websocket_route(_heartbeat)
default = websocket_route(_default)
