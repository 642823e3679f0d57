"""Chat: the chat service of one management endpoint, as the collaborators the composition root
(handler/app.py) built for it, side by side. Entry modules take the one a route needs
(`chat.messaging.send_message`); rooms, moderation and read markers use the small shared ones
(replies, limiter, live, admission, departures)."""

from __future__ import annotations

from dataclasses import dataclass

from handler.broadcast import Broadcaster
from handler.chat.admission import RoomAdmission
from handler.chat.connections import Connections
from handler.chat.departures import Departures
from handler.chat.housekeeping import Housekeeping
from handler.chat.live_connections import LiveConnections
from handler.chat.message_actions import MessageActions
from handler.chat.messaging import Messaging
from handler.chat.rate_limits import RateLimiter
from handler.chat.replies import Replies
from handler.sender import Sender


@dataclass(frozen=True, eq=False)
class Chat:
    sender: Sender
    broadcaster: Broadcaster
    limiter: RateLimiter
    replies: Replies
    live: LiveConnections
    admission: RoomAdmission
    departures: Departures
    housekeeping: Housekeeping
    connections: Connections
    messaging: Messaging
    message_actions: MessageActions
