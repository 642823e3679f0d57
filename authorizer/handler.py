"""The $connect REQUEST authorizer: a valid token in `?token=` gets an Allow, anything else a Deny.

It never raises: under serverless-offline an escaped exception hangs every later connect, and on
AWS it would answer 500 instead of 403.
"""

from __future__ import annotations

import logging

from authorizer.tokens import TokenError, verify_token
from handler import log
from handler.app import storage
from handler.config import ConfigError, jwt_secret, settings
from handler.errors import StorageUnavailable


def handler(event, context=None):
    try:
        event = event if isinstance(event, dict) else {}
        context = event.get("requestContext") if isinstance(event.get("requestContext"), dict) else {}
        log.bind(route="$connect/authorizer", connectionId=context.get("connectionId"))
        query = event.get("queryStringParameters") if isinstance(event.get("queryStringParameters"), dict) else {}
        claims = verify_token(query.get("token"), secret=jwt_secret(), audience=settings().audience)
        # A token that was logged out stays refused until it would have expired.
        if claims.jti and storage().is_revoked(claims.jti):
            raise TokenError("revoked")
    except TokenError as exc:
        log.finish("deny", reason=str(exc))
        return _policy("anonymous", "Deny", event.get("methodArn", "*") if isinstance(event, dict) else "*")
    except ConfigError as exc:
        log.finish("deny: misconfigured", level=logging.ERROR, error=str(exc))
        return _policy("anonymous", "Deny", "*")
    except StorageUnavailable as exc:
        # Revocation cannot be checked: refuse rather than let a logged-out token in.
        log.finish("deny: store unavailable", level=logging.WARNING, error=str(exc))
        return _policy("anonymous", "Deny", "*")
    except Exception:  # noqa: BLE001
        log.exception("authorizer failed")
        log.finish("deny: internal error", level=logging.ERROR)
        return _policy("anonymous", "Deny", "*")
    log.finish("allow", username=claims.username)
    return _policy(
        claims.username,
        "Allow",
        event.get("methodArn"),
        context={
            # API Gateway passes only strings, numbers and booleans in the context.
            "username": claims.username,
            "guest": "true" if claims.guest else "false",
            "expiresAt": claims.expires_at,
            "sessionLimitSeconds": claims.session_limit_seconds,
            # serverless-offline drops the source IP from the events after an authorizer; carrying
            # it here keeps SessionHistory's record complete locally too.
            "sourceIp": _source_ip(event),
            "jti": claims.jti or "",
        },
    )


def _source_ip(event: dict) -> str:
    context = event.get("requestContext") if isinstance(event.get("requestContext"), dict) else {}
    identity = context.get("identity") if isinstance(context.get("identity"), dict) else {}
    return str(identity.get("sourceIp") or "")[:64]


def _policy(principal: str, effect: str, resource: str, context: dict | None = None) -> dict:
    response = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context is not None:
        response["context"] = context
    return response
