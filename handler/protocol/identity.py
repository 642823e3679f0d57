"""Identity: who is on a connection, as the $connect authorizer established it from the token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """Who is on a connection: the token's claims as the $connect authorizer established them.

    The authorizer writes it into its context with `authorizer_context()`; API Gateway copies that
    context into every later event of the connection, where `from_authorizer_context()` reads it.
    The client cannot change it, which is why handlers take the user from here, never from a body.
    """

    username: str
    guest: bool
    expires_at: int  # epoch seconds: the token's exp
    session_limit_seconds: int  # 0: no limit
    jti: str | None = None  # the token's id, for revocation
    # The refresh family the token was issued in (login and each POST /refresh of one sign-in);
    # a logout or a reused refresh token revokes the whole family. None: a guest's token.
    family: str | None = None

    def authorizer_context(self, **extra: str) -> dict:
        # API Gateway passes only strings, numbers and booleans in an authorizer's context.
        return {
            "username": self.username,
            "guest": "true" if self.guest else "false",
            "expiresAt": self.expires_at,
            "sessionLimitSeconds": self.session_limit_seconds,
            "jti": self.jti or "",
            "family": self.family or "",
            **extra,
        }

    @classmethod
    def from_authorizer_context(cls, context: object) -> "Identity | None":
        """The identity in an event's requestContext.authorizer; None if it is missing or malformed."""
        if not isinstance(context, dict):
            return None
        username = context.get("username") or context.get("principalId")
        if not isinstance(username, str) or not username:
            return None
        try:
            expires_at = int(context.get("expiresAt"))
            limit = int(context.get("sessionLimitSeconds") or 0)
        except (TypeError, ValueError):
            return None
        # Context values arrive as strings on AWS and as they were sent under serverless-offline.
        guest = str(context.get("guest", "false")).lower() == "true"
        jti = context.get("jti")
        family = context.get("family")
        return cls(username=username, guest=guest, expires_at=expires_at, session_limit_seconds=limit,
                   jti=jti if isinstance(jti, str) and jti else None,
                   family=family if isinstance(family, str) and family else None)
