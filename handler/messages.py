"""Entry points of the WebSocket message routes: sendmessage, join, history, heartbeat, $default."""

from handler import protocol
from handler.app import websocket_route
from handler.protocol import Action


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


_ROUTES = {
    Action.SEND_MESSAGE: _send_message,
    Action.JOIN: _join,
    Action.HISTORY: _history,
    Action.HEARTBEAT: _heartbeat,
}


def _default(chat, event, identity):
    """Frames that no route matched: not JSON, no action, or an unknown action.

    API Gateway sends a known action to its own route; should one arrive here anyway (a gateway
    that routes everything to $default), it is served as if it had reached its route.
    """
    request = protocol.parse_request(event.body)
    _ROUTES[protocol.known_action(request.action)](chat, event, identity)


send_message = websocket_route(_send_message)
join = websocket_route(_join)
history = websocket_route(_history)
heartbeat = websocket_route(_heartbeat)
default = websocket_route(_default)
