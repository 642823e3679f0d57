"""Domain errors: what the data and sending layers raise instead of botocore's exceptions.

    WschatError
    ├── StorageUnavailable   the database did not answer or refused the request
    ├── ConnectionGone       the WebSocket connection no longer exists (API Gateway's 410)
    ├── SendFailed           a post to a connection failed for another reason
    │   └── FrameTooLarge    the management API refused the frame as too large (API Gateway's 413)
    └── SessionExpired       the connection outlived its token or session limit and was closed
"""


class WschatError(Exception):
    """Base class of the errors below."""


class StorageUnavailable(WschatError):
    """Raised when a DynamoDB call fails: the endpoint is down, throttled, or answered an error."""


class ConnectionGone(WschatError):
    """Raised when a post reaches a connection that has closed without a $disconnect we saw."""

    def __init__(self, connection_id: str):
        super().__init__(connection_id)
        self.connection_id = connection_id


class SendFailed(WschatError):
    """Raised when the management API fails a post for a reason other than a gone connection."""


class FrameTooLarge(SendFailed):
    """Raised when the management API refuses a post as too large (HTTP 413, PayloadTooLargeException):
    API Gateway takes at most 128 KB per message. Retrying cannot help; the frame must be smaller."""

    def __init__(self, message: str, size: int):
        super().__init__(message)
        self.size = size


class SessionExpired(WschatError):
    """Raised after an expired connection was told why and closed: the handler has nothing to add."""
