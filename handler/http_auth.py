"""HTTP API: POST /register, POST /login, POST /guest. Each answers with a token for the WebSocket.

Every failure is a JSON `{"error": "..."}` with a 4xx status (5xx only when the store or the
configuration fails); nothing a client sends can make these raise.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time

from authorizer.passwords import hash_password, verify_password
from authorizer.tokens import TokenError, issue_token, verify_token
from handler import log, protocol
from handler.app import storage
from handler.config import ConfigError, jwt_secret, settings
from handler.errors import StorageUnavailable
from handler.limits import LoginLimit

BODY_MAX_BYTES = 4096
INVALID_LOGIN = "invalid username or password"
GUEST_NAME_ATTEMPTS = 8


class HttpError(Exception):
    """Raised to answer with a status and an error message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _response(status: int, body: dict) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body),
    }


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _json_body(event: dict) -> dict:
    body = event.get("body")
    if body is None or body == "" or not isinstance(body, str):
        raise HttpError(400, "request body must be a JSON object")
    if event.get("isBase64Encoded"):
        import base64

        try:
            body = base64.b64decode(body).decode("utf-8")
        except ValueError:
            raise HttpError(400, "request body must be a JSON object") from None
    if len(body) > BODY_MAX_BYTES:
        raise HttpError(413, "request body is too large")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise HttpError(400, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise HttpError(400, "request body must be a JSON object")
    return data


def _credentials(event: dict) -> tuple[str, str]:
    data = _json_body(event)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise HttpError(400, '"username" and "password" must be strings')
    return username, password


def _token_response(status: int, *, username: str, guest: bool) -> dict:
    config = settings()
    if guest:
        ttl = config.guest_token_ttl_seconds
        # Guests are always session-limited; a limit of 0 would mean unlimited, so fall back to the token's life.
        limit = config.guest_session_limit_seconds or ttl
    else:
        ttl = config.token_ttl_seconds
        limit = config.member_session_limit_seconds
    token, expires_at = issue_token(
        username=username, guest=guest, ttl_seconds=ttl, session_limit_seconds=limit,
        secret=jwt_secret(), audience=config.audience, now=int(time.time()),
    )
    return _response(status, {
        "token": token,
        "expiresAt": protocol.iso_utc(expires_at * 1000),
        "user": {"username": username, "guest": guest, "sessionLimitSeconds": limit or None},
    })


def _http_route(name: str):
    def wrap(function):
        def handler(event, context=None):
            event = event if isinstance(event, dict) else {}
            log.bind(route=f"POST /{name}", requestId=_dict(event.get("requestContext")).get("requestId"))
            try:
                response = function(event)
                log.finish("ok", status=response["statusCode"])
                return response
            except HttpError as exc:
                log.finish("refused", status=exc.status, error=exc.message)
                return _response(exc.status, {"error": exc.message})
            except StorageUnavailable as exc:
                log.finish("storage unavailable", level=logging.WARNING, status=503, error=str(exc))
                return _response(503, {"error": "service unavailable; try again"})
            except ConfigError as exc:
                log.finish("misconfigured", level=logging.ERROR, status=500, error=str(exc))
                return _response(500, {"error": "server misconfigured"})
            except Exception:  # noqa: BLE001 - an escaped exception would hang serverless-offline
                log.exception("unhandled error")
                log.finish("internal error", level=logging.ERROR, status=500)
                return _response(500, {"error": "internal error"})

        handler.__name__ = function.__name__
        return handler

    return wrap


def _source_ip(event: dict) -> str:
    return str(_dict(_dict(event.get("requestContext")).get("http")).get("sourceIp") or "unknown")[:64]


def _count_sign_up(event: dict) -> None:
    """At most WSCHAT_REGISTRATIONS_PER_IP accounts (members and guests) per address per hour."""
    limit = int(os.environ.get("WSCHAT_REGISTRATIONS_PER_IP", "20") or 20)
    if storage().bump_counter(f"signup#ip#{_source_ip(event)}", int(time.time()), 3600) > limit:
        raise HttpError(429, "too many new accounts from this address; try again later")


@_http_route("register")
def register(event: dict) -> dict:
    if not settings().allow_registration:
        raise HttpError(403, "registration is switched off")
    username, password = _credentials(event)
    if not protocol.is_valid_username(username):
        raise HttpError(400, "username must be 3-32 characters of A-Z a-z 0-9 _ . -")
    if username.lower().startswith("guest-"):
        raise HttpError(400, 'usernames starting with "guest-" are reserved for guests')
    if len(password) < protocol.PASSWORD_MIN_CHARS:
        raise HttpError(400, f"password must be at least {protocol.PASSWORD_MIN_CHARS} characters")
    if len(password) > protocol.PASSWORD_MAX_CHARS:
        raise HttpError(400, f"password must be at most {protocol.PASSWORD_MAX_CHARS} characters")
    _count_sign_up(event)
    created = storage().create_user(
        username=username, password_hash=hash_password(password), guest=False, created_at_ms=int(time.time() * 1000)
    )
    if not created:
        raise HttpError(409, "that username is taken")
    log.add(username=username)
    return _token_response(201, username=username, guest=False)


@_http_route("login")
def login(event: dict) -> dict:
    username, password = _credentials(event)
    if not protocol.is_valid_username(username) or len(password) > protocol.PASSWORD_MAX_CHARS:
        raise HttpError(401, INVALID_LOGIN)
    limit, now = LoginLimit.from_env(), int(time.time())
    user_key, ip_key = f"login#user#{username.lower()}", f"login#ip#{_source_ip(event)}"
    # A locked name or address answers exactly as a wrong password does, after the same work.
    locked = limit.locked(storage().counter(user_key, now)) or limit.locked(storage().counter(ip_key, now))
    user = storage().get_user(username)
    # verify_password does the same work for a missing user, so timing does not reveal who exists.
    valid = verify_password(password, user.password_hash if user else None) and user is not None and not user.guest
    if locked or not valid:
        if not valid:
            storage().bump_counter(user_key, now, limit.window_seconds)
            storage().bump_counter(ip_key, now, limit.window_seconds)
        log.add(locked=locked or None)
        raise HttpError(401, INVALID_LOGIN)
    storage().clear_counter(user_key)
    log.add(username=user.username)
    return _token_response(200, username=user.username, guest=False)


@_http_route("guest")
def guest(event: dict) -> dict:
    config = settings()
    if not config.allow_guests:
        raise HttpError(403, "guest access is switched off")
    now = int(time.time())
    _count_sign_up(event)
    for _ in range(GUEST_NAME_ATTEMPTS):
        username = f"guest-{secrets.token_hex(2)}"
        # The name is held until the guest's token has expired, so no one else can take it meanwhile.
        if storage().create_user(
            username=username, password_hash=None, guest=True, created_at_ms=now * 1000,
            ttl=now + config.guest_token_ttl_seconds + 60,
        ):
            log.add(username=username)
            return _token_response(201, username=username, guest=True)
    raise HttpError(503, "no guest name is free right now; try again")


@_http_route("logout")
def logout(event: dict) -> dict:
    """Revoke the token (Authorization: Bearer <jwt>, or {"token"} in the body) and close the
    connections opened with it. An expired or unknown token has nothing left to revoke: 200."""
    headers = {str(key).lower(): value for key, value in _dict(event.get("headers")).items()}
    raw = headers.get("authorization")
    if not raw and event.get("body"):
        raw = _json_body(event).get("token")
    try:
        claims = verify_token(raw, secret=jwt_secret(), audience=settings().audience)
    except TokenError as exc:
        if str(exc) == "ExpiredSignatureError":
            return _response(200, {"loggedOut": True, "closed": 0})
        raise HttpError(401, "invalid token") from None
    if not claims.jti:
        raise HttpError(400, "this token cannot be revoked")
    storage().revoke_token(claims.jti, claims.expires_at)
    from handler.app import chat_with_endpoint

    endpoint = settings().management_endpoint or os.environ.get("WSCHAT_WS_API_URL", "")
    closed = chat_with_endpoint(endpoint).log_out(claims.username, claims.jti) if endpoint else 0
    log.add(username=claims.username, closed=closed)
    return _response(200, {"loggedOut": True, "closed": closed})
