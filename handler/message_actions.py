"""Entry point of the `interact` function: the routes editmessage, react and typing.

One function serves the three: they need the same grants (the sender's connection row, a message
updated in place, a room's audience, per-user budgets), so one role holds them, and one warm
process answers all three. The route key picks the route; the work is MessageActions'
(handler/chat/message_actions.py).
"""

from handler import protocol
from handler.entry import websocket_route


def _edit_message(chat, event, connection_id, identity):
    chat.message_actions.edit_message(connection_id, identity,
                                      protocol.parse_edit_message(protocol.parse_request(event.body)))


def _react(chat, event, connection_id, identity):
    chat.message_actions.react(connection_id, identity, protocol.parse_react(protocol.parse_request(event.body)))


def _typing(chat, event, connection_id, identity):
    chat.message_actions.typing(connection_id, identity, protocol.parse_typing(protocol.parse_request(event.body)))


ROUTES = {
    protocol.Action.EDIT_MESSAGE.value: websocket_route("editmessage", _edit_message),
    protocol.Action.REACT.value: websocket_route("react", _react),
    protocol.Action.TYPING.value: websocket_route("typing", _typing),
}


def handler(event, context=None):
    context_ = event.get("requestContext") if isinstance(event, dict) else None
    route_key = context_.get("routeKey") if isinstance(context_, dict) else None
    # Only these three routes invoke this function; anything else is answered as an edit would
    # be (its parsing refuses a frame that is not one).
    return ROUTES.get(route_key, ROUTES[protocol.Action.EDIT_MESSAGE.value])(event, context)
