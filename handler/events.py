"""Typed views of the events that reach the entry points: API Gateway WebSocket events, the
$connect authorizer's REQUEST event, and HTTP API (payload 2.0) events.

Every field is checked before it is trusted to have a shape: a malformed event is refused by the
caller, never a crash here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from handler.protocol import Identity


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _str(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _body(raw: dict) -> str | None:
    body = raw.get("body")
    if not isinstance(body, str):
        return None
    if raw.get("isBase64Encoded"):
        try:
            return base64.b64decode(body).decode("utf-8")
        except ValueError:
            return None
    return body


@dataclass(frozen=True)
class WebSocketEvent:
    raw: dict

    @classmethod
    def of(cls, raw: object) -> "WebSocketEvent":
        return cls(raw if isinstance(raw, dict) else {})

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
        return _body(self.raw)

    @property
    def identity(self) -> Identity | None:
        return Identity.from_authorizer_context(self.context.get("authorizer"))

    @property
    def query(self) -> dict:
        return _dict(self.raw.get("queryStringParameters"))

    @property
    def source_ip(self) -> str | None:
        # serverless-offline drops the source IP from events after an authorizer, which therefore
        # carries it in its context too.
        authorizer = _dict(self.context.get("authorizer"))
        return _str(_dict(self.context.get("identity")).get("sourceIp")) or _str(authorizer.get("sourceIp"))

    @property
    def user_agent(self) -> str | None:
        identity = _dict(self.context.get("identity"))
        headers = _dict(self.raw.get("headers"))
        return _str(identity.get("userAgent")) or _str(headers.get("User-Agent")) or _str(headers.get("user-agent"))

    def management_endpoint(self, region: str) -> str | None:
        """The @connections endpoint of the API this event came through.

        Built from the API's id, not the event's domainName: behind a custom domain the domain
        name is the custom one, which does not serve @connections.
        """
        api_id, stage = _str(self.context.get("apiId")), _str(self.context.get("stage"))
        if not api_id or not stage:
            return None
        return f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"


@dataclass(frozen=True)
class AuthorizerEvent:
    """The $connect REQUEST authorizer's event."""

    raw: dict

    @classmethod
    def of(cls, raw: object) -> "AuthorizerEvent":
        return cls(raw if isinstance(raw, dict) else {})

    @property
    def connection_id(self) -> str | None:
        return _str(_dict(self.raw.get("requestContext")).get("connectionId"))

    @property
    def token(self) -> object:
        return _dict(self.raw.get("queryStringParameters")).get("token")

    @property
    def method_arn(self) -> str:
        return _str(self.raw.get("methodArn")) or "*"

    @property
    def source_ip(self) -> str:
        identity = _dict(_dict(self.raw.get("requestContext")).get("identity"))
        return (_str(identity.get("sourceIp")) or "")[:64]


@dataclass(frozen=True)
class HttpEvent:
    """An HTTP API request (payload format 2.0)."""

    raw: dict

    @classmethod
    def of(cls, raw: object) -> "HttpEvent":
        return cls(raw if isinstance(raw, dict) else {})

    @property
    def request_id(self) -> str | None:
        return _str(_dict(self.raw.get("requestContext")).get("requestId"))

    @property
    def source_ip(self) -> str:
        http = _dict(_dict(self.raw.get("requestContext")).get("http"))
        return (_str(http.get("sourceIp")) or "unknown")[:64]

    @property
    def headers(self) -> dict:
        return {str(key).lower(): value for key, value in _dict(self.raw.get("headers")).items()}

    @property
    def body(self) -> str | None:
        return _body(self.raw)
