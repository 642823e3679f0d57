"""$connect: record the connection and tell its room (the authorizer has checked the token)."""

from handler import protocol
from handler.entry import connect_route


def _connect(chat, event, identity):
    chat.connections.connect(
        connection_id=event.connection_id,
        identity=identity,
        room=protocol.validate_room(event.query.get("room") or protocol.DEFAULT_ROOM),
        source_ip=event.source_ip,
        user_agent=event.user_agent,
    )


handler = connect_route(_connect)
