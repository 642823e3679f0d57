"""Typed views of the API Gateway WebSocket events that reach the handlers."""

from __future__ import annotations

from dataclasses import dataclass


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
        return self.raw.get("requestContext") or {}

    @property
    def connection_id(self) -> str | None:
        return self.context.get("connectionId")

    @property
    def route_key(self) -> str | None:
        return self.context.get("routeKey")

    @property
    def request_id(self) -> str | None:
        return self.context.get("requestId")

    @property
    def body(self) -> str | None:
        body = self.raw.get("body")
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
        return self.raw.get("queryStringParameters") or {}

    @property
    def source_ip(self) -> str | None:
        authorizer = self.context.get("authorizer") or {}
        return (self.context.get("identity") or {}).get("sourceIp") or authorizer.get("sourceIp") or None

    @property
    def user_agent(self) -> str | None:
        identity = self.context.get("identity") or {}
        headers = self.raw.get("headers") or {}
        return identity.get("userAgent") or headers.get("User-Agent") or headers.get("user-agent")

    def management_endpoint(self, override: str | None) -> str:
        """Where to post frames for this API: the local override, else https://domain/stage."""
        if override:
            return override
        return f"https://{self.context.get('domainName')}/{self.context.get('stage')}"
