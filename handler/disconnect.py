"""$disconnect: forget the connection, close its session row, tell the room."""

from handler.entry import disconnect_route

handler = disconnect_route(lambda chat, connection_id: chat.departures.disconnect(connection_id))
