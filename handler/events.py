"""Typed views of the API Gateway WebSocket events that reach the handlers."""

from __future__ import annotations

from dataclasses import dataclass


def _dict(value) -> dict:
    """Event fields are trusted to be objects only after checking: a malformed event is refused, not a crash."""
    return value if isinstance(value, dict) else {}


def _str(value) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Identity:
    """Who is on a connection, as the $connect authorizer established it.

    API Gateway copies the authorizer's context into every later event of the connection; the
    client cannot change it, which is why handlers take the user from here and never from a body.
    """

    username: str
    guest: bool
    expires_at: int  # epoch seconds
    session_limit_seconds: int  # 0: no limit
    jti: str | None = None  # the token's id, for revocation

    @classmethod
    def from_authorizer(cls, authorizer: dict | None) -> "Identity | None":
        if not isinstance(authorizer, dict):
            return None
        username = authorizer.get("username") or authorizer.get("principalId")
        if not isinstance(username, str) or not username:
            return None
        try:
            expires_at = int(authorizer.get("expiresAt"))
            limit = int(authorizer.get("sessionLimitSeconds") or 0)
        except (TypeError, ValueError):
            return None
        # Authorizer context values arrive as strings on AWS and as they were sent offline.
        guest = str(authorizer.get("guest", "false")).lower() == "true"
        jti = authorizer.get("jti")
        return cls(username=username, guest=guest, expires_at=expires_at, session_limit_seconds=limit,
                   jti=jti if isinstance(jti, str) and jti else None)


@dataclass(frozen=True)
class WebSocketEvent:
    raw: dict

    @property
    def context(self) -> dict:
        return _dict(self.raw.get("requestContext"))

    @property
    def connection_id(self) -> str | None:
        return _str(self.context.get("connectionId"))

    @property
    def route_key(self) -> str | None:
        return _str(self.context.get("routeKey"))

    @property
    def request_id(self) -> str | None:
        return _str(self.context.get("requestId"))

    @property
    def body(self) -> str | None:
        body = self.raw.get("body")
        if body is not None and not isinstance(body, str):
            return None
        if body is not None and self.raw.get("isBase64Encoded"):
            import base64

            try:
                return base64.b64decode(body).decode("utf-8")
            except ValueError:
                return None
        return body

    @property
    def identity(self) -> Identity | None:
        return Identity.from_authorizer(self.context.get("authorizer"))

    @property
    def query(self) -> dict:
        return _dict(self.raw.get("queryStringParameters"))

    @property
    def source_ip(self) -> str | None:
        authorizer = _dict(self.context.get("authorizer"))
        return _str(_dict(self.context.get("identity")).get("sourceIp")) or _str(authorizer.get("sourceIp"))

    @property
    def user_agent(self) -> str | None:
        identity = _dict(self.context.get("identity"))
        headers = _dict(self.raw.get("headers"))
        return _str(identity.get("userAgent")) or _str(headers.get("User-Agent")) or _str(headers.get("user-agent"))

    def management_endpoint(self, override: str | None) -> str:
        """Where to post frames for this API: the local override, else https://domain/stage."""
        if override:
            return override
        return f"https://{_str(self.context.get('domainName'))}/{_str(self.context.get('stage'))}"
