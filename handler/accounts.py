"""The accounts service: register, log in, come as a guest, log out (the HTTP API), over the
accounts store. Each call returns (status, body) or raises guard.Refused with a 4xx status.

Logins are limited per username and per address (limits.LoginLimit; a locked name answers
exactly as a wrong password does, after the same work); sign-ups per address.
"""

from __future__ import annotations

import json
import secrets
from typing import Callable

from authorizer.passwords import hash_password, verify_password
from authorizer.tokens import TokenExpired, TokenError, issue_token, verify_token
from handler import log, protocol
from handler.events import HttpEvent
from handler.guard import Refused
from handler.limits import LoginLimit
from handler.protocol import Identity
from handler.settings import Accounts, Limits
from handler.signing_keys import SigningKeys
from handler.store.accounts import AccountsStore

BODY_MAX_BYTES = 4096
INVALID_LOGIN = "invalid username or password"
GUEST_NAME_ATTEMPTS = 8


class AccountService:
    def __init__(
        self, store: AccountsStore, accounts: Accounts, limits: Limits, keys: SigningKeys, *, audience: str,
        clock: Callable[[], int], close_connections: Callable[[Identity], int],
    ):
        self.store = store
        self.accounts = accounts
        self.limits = limits
        self.keys = keys
        self.audience = audience
        self.clock = clock  # epoch milliseconds
        # Closes the connections opened with a revoked token (Chat.log_out, wired by the app).
        self.close_connections = close_connections
        self.login_limit = LoginLimit(limits.login_max_failures, limits.login_window_seconds)

    def register(self, event: HttpEvent) -> tuple[int, dict]:
        if not self.accounts.allow_registration:
            raise Refused(403, "registration is switched off")
        username, password = _credentials(event)
        if not protocol.is_valid_username(username):
            raise Refused(400, "username must be 3-32 characters of A-Z a-z 0-9 _ . -")
        if username.lower().startswith("guest-"):
            raise Refused(400, 'usernames starting with "guest-" are reserved for guests')
        if len(password) < protocol.PASSWORD_MIN_CHARS:
            raise Refused(400, f"password must be at least {protocol.PASSWORD_MIN_CHARS} characters")
        if len(password) > protocol.PASSWORD_MAX_CHARS:
            raise Refused(400, f"password must be at most {protocol.PASSWORD_MAX_CHARS} characters")
        self._count_sign_up(event)
        created = self.store.create_user(
            username=username, password_hash=hash_password(password), guest=False, created_at_ms=self.clock()
        )
        if not created:
            raise Refused(409, "that username is taken")
        log.add(username=username)
        return 201, self._token(username=username, guest=False)

    def login(self, event: HttpEvent) -> tuple[int, dict]:
        username, password = _credentials(event)
        if not protocol.is_valid_username(username) or len(password) > protocol.PASSWORD_MAX_CHARS:
            raise Refused(401, INVALID_LOGIN)
        now = self.clock() // 1000
        user_key, ip_key = f"login#user#{username.lower()}", f"login#ip#{event.source_ip}"
        # A locked name or address answers exactly as a wrong password does, after the same work.
        locked = self.login_limit.locked(self.store.counter(user_key, now)) or self.login_limit.locked(
            self.store.counter(ip_key, now)
        )
        user = self.store.get_user(username)
        # verify_password does the same work for a missing user, so timing does not reveal who exists.
        valid = verify_password(password, user.password_hash if user else None) and user is not None and not user.guest
        if locked or not valid:
            if not valid:
                self.store.bump_counter(user_key, now, self.login_limit.window_seconds)
                self.store.bump_counter(ip_key, now, self.login_limit.window_seconds)
            raise Refused(401, INVALID_LOGIN, locked=locked or None)
        self.store.clear_counter(user_key)
        log.add(username=user.username)
        return 200, self._token(username=user.username, guest=False)

    def guest(self, event: HttpEvent) -> tuple[int, dict]:
        if not self.accounts.allow_guests:
            raise Refused(403, "guest access is switched off")
        now = self.clock() // 1000
        self._count_sign_up(event)
        for _ in range(GUEST_NAME_ATTEMPTS):
            username = f"guest-{secrets.token_hex(2)}"
            # The name is held until the guest's token has expired, so no one else can take it meanwhile.
            if self.store.create_user(
                username=username, password_hash=None, guest=True, created_at_ms=now * 1000,
                ttl=now + self.accounts.guest_token_ttl_seconds + 60,
            ):
                log.add(username=username)
                return 201, self._token(username=username, guest=True)
        raise Refused(503, "no guest name is free right now; try again")

    def logout(self, event: HttpEvent) -> tuple[int, dict]:
        """Revoke the token (Authorization: Bearer <jwt>, or {"token"} in the body) and close the
        connections opened with it. An expired token has nothing left to revoke: 200."""
        raw = event.headers.get("authorization")
        if not raw and event.body:
            raw = _json_body(event).get("token")
        try:
            identity = verify_token(raw, keys=self.keys.accepted(), audience=self.audience)
        except TokenExpired:
            return 200, {"loggedOut": True, "closed": 0}
        except TokenError:
            raise Refused(401, "invalid token") from None
        if not identity.jti:
            raise Refused(400, "this token cannot be revoked")
        self.store.revoke_token(identity.jti, identity.expires_at)
        closed = self.close_connections(identity)
        log.add(username=identity.username, closed=closed)
        return 200, {"loggedOut": True, "closed": closed}

    def _token(self, *, username: str, guest: bool) -> dict:
        if guest:
            ttl = self.accounts.guest_token_ttl_seconds
            # Guests are always session-limited; a limit of 0 would mean unlimited, so fall back to the token's life.
            limit = self.accounts.guest_session_limit_seconds or ttl
        else:
            ttl = self.accounts.token_ttl_seconds
            limit = self.accounts.member_session_limit_seconds
        token, expires_at = issue_token(
            username=username, guest=guest, ttl_seconds=ttl, session_limit_seconds=limit,
            secret=self.keys.current(), audience=self.audience, now=self.clock() // 1000,
        )
        return {
            "token": token,
            "expiresAt": protocol.iso_utc(expires_at * 1000),
            "user": {"username": username, "guest": guest, "sessionLimitSeconds": limit or None},
        }

    def _count_sign_up(self, event: HttpEvent) -> None:
        """At most `registrations_per_ip` accounts (members and guests) per address per hour."""
        if self.store.bump_counter(f"signup#ip#{event.source_ip}", self.clock() // 1000, 3600) > self.limits.registrations_per_ip:
            raise Refused(429, "too many new accounts from this address; try again later")


def _json_body(event: HttpEvent) -> dict:
    body = event.body
    if not body:
        raise Refused(400, "request body must be a JSON object")
    if len(body) > BODY_MAX_BYTES:
        raise Refused(413, "request body is too large")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "request body must be a JSON object")
    return data


def _credentials(event: HttpEvent) -> tuple[str, str]:
    data = _json_body(event)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise Refused(400, '"username" and "password" must be strings')
    return username, password
