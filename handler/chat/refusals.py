"""Why $connect refuses a connection: a domain refusal, which the entry layer (handler/entry.py)
turns into the HTTP status API Gateway refuses the upgrade with."""

from __future__ import annotations

from enum import Enum

from handler.errors import WschatError


class ConnectRefusal(Enum):
    SESSION_OVER = "session over"  # a session-limited token whose session has run out
    NOT_ADMITTED = "not admitted"  # a private room's non-member, or a banned user
    REVOKED = "revoked"  # the token was logged out between the authorizer and the row's write
    TOO_MANY_CONNECTIONS = "too many connections"  # one connection over the user's limit


class ConnectRefused(WschatError):
    """Raised when $connect must not open the connection; `code`: the protocol's error code, when
    the refusal has one (forbidden, banned)."""

    def __init__(self, reason: ConnectRefusal, message: str, *, code: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.code = code
