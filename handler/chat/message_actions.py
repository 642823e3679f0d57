"""What can be done to a message, and around one, once it is sent:

- editmessage: the author replaces a message's text (same checks as sendmessage); the room gets
  `edited`; history carries the latest text and `editedAt`. A deleted message (a tombstone with
  `deletedAt`) is not edited.
- react: toggles the user's emoji on a message (bounded: REACTION_KINDS_MAX emoji, REACTION_USERS_MAX
  users each); the room gets `reaction` with the new count.
- typing: the others in the room get `typing`; at most one per user per room every
  TYPING_INTERVAL_SECONDS is passed on, the rest dropped without an answer; nothing is stored.
- renew: an open connection presents the access token a POST /refresh gave; checked exactly as
  the $connect authorizer checks one (App.verified), for the same user, it moves the connection's
  expiry (and with it the sweep's deadline) to the new token's. A session limit never moves.
"""

from __future__ import annotations

from typing import Callable

from handler import log, protocol
from handler.auth.tokens import TokenError, TokenExpired
from handler.broadcast import Broadcaster
from handler.chat.departures import Departures
from handler.chat.live_connections import LiveConnections
from handler.chat.rate_limits import RateLimiter
from handler.chat.replies import Replies
from handler.limits import Budget
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.settings import Limits
from handler.store.budgets import BudgetStore
from handler.store.connections import ConnectionStore
from handler.store.messages import EditRefused, MessageStore, ReactionRefused

_REFUSED = {
    "missing": (ErrorCode.NOT_FOUND, "no message with that id in this room"),
    "deleted": (ErrorCode.NOT_FOUND, "that message was deleted"),
    "not_author": (ErrorCode.FORBIDDEN, "only its author can edit a message"),
}


class MessageActions:
    def __init__(
        self, connections: ConnectionStore, messages: MessageStore, budgets: BudgetStore, *,
        broadcaster: Broadcaster, live: LiveConnections, limiter: RateLimiter, replies: Replies,
        departures: Departures, limits: Limits, clock: Callable[[], int], verify: Callable[[str], Identity],
    ):
        self.connections = connections
        self.messages = messages
        self.budgets = budgets
        self.broadcaster = broadcaster
        self.live = live
        self.limiter = limiter
        self.replies = replies
        self.departures = departures
        self.limits = limits
        self.clock = clock
        # A token checked exactly as the $connect authorizer checks one (App.verified): `renew`.
        self.verify = verify
        self.edit_budget = limits.edit
        self.react_budget = limits.react
        # One typing frame per interval per user per room, nothing saved up.
        self.typing_budget = Budget(1, 1 / protocol.TYPING_INTERVAL_SECONDS)
        # A tab renews about once per token lifetime; a few at once (tabs, retries) and no more.
        self.renew_budget = Budget(10, 0.1)

    def edit_message(self, connection_id: str, identity: Identity, request: protocol.EditMessage) -> None:
        self.limiter.spend_or_refuse("edit", identity.username, self.edit_budget, "too many edits")
        conn = self.live.in_room(connection_id, request.room)
        try:
            stored = self.messages.edit_message(room=conn.room, message_id=request.id, sender=identity.username,
                                                message=request.message, edited_at_ms=self.clock())
        except EditRefused as refused:
            raise ProtocolError(*_REFUSED[refused.reason]) from None
        frame = protocol.edited_frame(room=conn.room, id=stored.id, message=stored.message, edited_at=stored.edited_at)
        self._tell_room(conn.room, frame)
        log.add(room=conn.room, messageId=stored.id)

    def react(self, connection_id: str, identity: Identity, request: protocol.React) -> None:
        self.limiter.spend_or_refuse("react", identity.username, self.react_budget, "too many reactions")
        conn = self.live.in_room(connection_id, request.room)
        try:
            added, count = self.messages.toggle_reaction(
                room=conn.room, message_id=request.id, user=identity.username, emoji=request.emoji,
                kinds_max=protocol.REACTION_KINDS_MAX, users_max=protocol.REACTION_USERS_MAX,
            )
        except EditRefused as refused:
            code, message = _REFUSED[refused.reason]
            raise ProtocolError(code, message) from None
        except ReactionRefused as refused:
            if refused.reason == "kinds":
                raise ProtocolError(ErrorCode.TOO_LARGE, f"a message has at most {protocol.REACTION_KINDS_MAX} "
                                    "different reactions") from None
            raise ProtocolError(ErrorCode.TOO_LARGE, f"at most {protocol.REACTION_USERS_MAX} people can react "
                                "with one emoji") from None
        frame = protocol.reaction_frame(room=conn.room, id=request.id, emoji=request.emoji,
                                        user=identity.username, added=added, count=count)
        self._tell_room(conn.room, frame)
        log.add(room=conn.room, messageId=request.id, added=added)

    def typing(self, connection_id: str, identity: Identity, request: protocol.Typing) -> None:
        conn = self.live.in_room(connection_id, request.room)
        # Over the interval: dropped, no answer (see the module's docstring).
        if self.budgets.spend("typing", f"{conn.room}#{identity.username}", self.typing_budget, self.clock()) is not None:
            log.add(room=conn.room, typingDropped=True)
            return
        members = [m for m in self.connections.room_members(conn.room) if m.username != identity.username]
        # Like presence, no typing frames in rooms too big for them (presence_max_room): each is a
        # post to every member, every few seconds per typist.
        if len(members) >= self.limits.presence_max_room:
            log.add(room=conn.room, members=len(members), typingDropped=True)
            return
        if members:
            _, gone = self.broadcaster.deliver(conn.room, members, protocol.typing_frame(room=conn.room,
                                                                                         user=identity.username))
            if gone:
                self.departures.drop_gone_members(conn.room, gone)
        log.add(room=conn.room, members=len(members))

    def _tell_room(self, room: str, frame: dict) -> None:
        """Everyone in the room, the sender's connections too (their other tabs must agree)."""
        members = self.connections.room_members(room)
        _, gone = self.broadcaster.deliver(room, members, frame)
        if gone:
            self.departures.drop_gone_members(room, gone)

    def renew(self, connection_id: str, identity: Identity, request: protocol.Renew) -> None:
        self.limiter.spend_or_refuse("renew", identity.username, self.renew_budget, "too many renewals")
        conn = self.live.get(connection_id)
        try:
            renewed = self.verify(request.token)
        except TokenExpired:
            raise ProtocolError(ErrorCode.INVALID_TOKEN, "that token has expired; refresh again") from None
        except TokenError:
            raise ProtocolError(ErrorCode.INVALID_TOKEN, "that token is not valid (or was revoked)") from None
        if renewed.username != conn.username or renewed.guest != conn.guest:
            raise ProtocolError(ErrorCode.FORBIDDEN, "that token is another user's")
        expires_at = max(renewed.expires_at, conn.expires_at)
        deadline = expires_at if conn.session_ends_at is None else min(expires_at, conn.session_ends_at)
        if not self.connections.renew_connection(connection_id, expires_at=expires_at, deadline=deadline,
                                                 jti=renewed.jti, family=renewed.family):
            raise ProtocolError(ErrorCode.NOT_CONNECTED, "this connection is no longer known; reconnect")
        session_ends_at = protocol.iso_utc(conn.session_ends_at * 1000) if conn.session_ends_at else None
        self.replies.reply(connection_id, protocol.renewed_frame(expires_at=protocol.iso_utc(expires_at * 1000),
                                                                 session_ends_at=session_ends_at))
        log.add(expiresIn=expires_at - self.clock() // 1000)
