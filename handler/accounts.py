"""The accounts service: register, log in, come as a guest, log out (the HTTP API), over the
accounts store. Each call returns (status, body) or raises guard.Refused with a 4xx status.

Logins follow limits.LoginPolicy: each attempt first reserves a failure in its counters (per
username and address, per address, per username), then checks the password; a success gives
the reservations back. Over a limit the answer is 429 with Retry-After, the same whether the
name exists or not; nothing locks a name, and nobody elsewhere can keep its owner waiting at an
address they logged in from.
Sign-ups are limited per address.

Usernames are taken in Unicode's NFKC form (full-width and other compatibility characters become
their plain letters), must then match protocol.USERNAME_PATTERN, are shown as typed, and are
unique by their case-folded form (store.username_key).
"""

from __future__ import annotations

import base64
import json
import secrets
import unicodedata
from typing import Callable

from handler import log, protocol
from handler.auth.passwords import check_password, hash_password
from handler.auth.tokens import TokenExpired, TokenError, issue_token, verify_token
from handler.events import HttpEvent
from handler.guard import Refused, quietly
from handler.limits import LoginPolicy, address_group
from handler.protocol import Identity
from handler.settings import Accounts, Limits
from handler.signing_keys import SigningKeys
from handler.store.accounts import AccountsStore, Taken, username_key
from handler.store.refresh import RefreshStore, split_refresh_token

# A refresh token is `<family>.<secret>`: 96 random bits name the sign-in, 256 are the secret.
REFRESH_FAMILY_BYTES = 12
REFRESH_SECRET_BYTES = 32

BODY_MAX_BYTES = 4096
INVALID_LOGIN = "invalid username or password"
GUEST_PREFIX = "guest-"
# 80 random bits, 16 base32 characters: "guest-" and 16 is 22 characters, within the 32 a name may
# have. A year of a million guests a day (3.65e8 names) draws a repeated name with probability
# about n^2 / 2^81 = 6e-8; and a name still held (guest_name_hold_days) is never handed out again,
# the store refuses it and another is drawn.
GUEST_NAME_BYTES = 10
GUEST_NAME_ATTEMPTS = 8


def canonical_username(raw: str) -> str | None:
    """The name as it is stored and shown: NFKC of what was typed, if that is a valid name."""
    name = unicodedata.normalize("NFKC", raw)
    return name if protocol.is_valid_username(name) else None


def guest_name() -> str:
    return GUEST_PREFIX + base64.b32encode(secrets.token_bytes(GUEST_NAME_BYTES)).decode().lower()


class AccountService:
    def __init__(
        self, store: AccountsStore, accounts: Accounts, limits: Limits, keys: SigningKeys, *, audience: str,
        clock: Callable[[], int], close_connections: Callable[[Identity], int],
        refresh_store: RefreshStore | None = None,
    ):
        self.store = store
        self.accounts = accounts
        self.limits = limits
        self.keys = keys
        self.audience = audience
        self.clock = clock  # epoch milliseconds
        # Closes the connections opened with a revoked token (Housekeeping.log_out, wired by the app).
        self.close_connections = close_connections
        self.refresh_store = refresh_store
        self.policy = LoginPolicy(
            pair_max_failures=limits.login_max_failures, address_max_failures=limits.login_address_max_failures,
            window_seconds=limits.login_window_seconds, slowdown_after=limits.login_slowdown_after,
            slowdown_window_seconds=limits.login_slowdown_window_seconds,
            slowdown_base_seconds=limits.login_slowdown_base_seconds,
            slowdown_max_seconds=limits.login_slowdown_max_seconds,
            known_address_days=limits.login_known_address_days,
        )

    def register(self, event: HttpEvent) -> tuple[int, dict]:
        if not self.accounts.allow_registration:
            raise Refused(403, "registration is switched off")
        raw, password = _credentials(event)
        username = canonical_username(raw)
        if username is None:
            raise Refused(400, "username must be 3-32 characters of A-Z a-z 0-9 _ . -")
        if username_key(username).startswith(GUEST_PREFIX):
            raise Refused(400, 'usernames starting with "guest-" are reserved for guests')
        if len(password) < protocol.PASSWORD_MIN_CHARS:
            raise Refused(400, f"password must be at least {protocol.PASSWORD_MIN_CHARS} characters")
        if len(password) > protocol.PASSWORD_MAX_CHARS:
            raise Refused(400, f"password must be at most {protocol.PASSWORD_MAX_CHARS} characters")
        self._count_sign_up(event)
        now = self.clock()
        created = self.store.create_user(
            username=username, password_hash=hash_password(password), guest=False, created_at_ms=now
        )
        if not created:
            raise Refused(409, "that username is taken")
        # The address an account was made from is its owner's: guessers elsewhere never hold it up.
        quietly(self._remember_address, username, event, now // 1000)
        log.add(username=username)
        return 201, self._signed_in(username)

    def login(self, event: HttpEvent) -> tuple[int, dict]:
        raw, password = _credentials(event)
        username = canonical_username(raw)
        if username is None or len(password) > protocol.PASSWORD_MAX_CHARS:
            raise Refused(401, INVALID_LOGIN)  # no such name can exist: nothing to count
        now = self.clock() // 1000
        key, address = username_key(username), address_group(event.source_ip)
        known = self.store.remembered(_known_key(key, address), now)
        taken = self._reserve(key, address, known, now)
        user = self.store.get_user(username)
        # check_password does the same work for a missing user, so timing does not reveal who exists.
        checked = check_password(password, user.password_hash if user else None)
        if not checked.ok or user is None or user.guest:
            log.add(failure="password", known=known)
            raise Refused(401, INVALID_LOGIN)  # the reservations stay: they were failures
        # The login is good: bookkeeping that fails from here on is logged, not answered.
        for counter, reservation in taken:
            quietly(self.store.give_back, counter, reservation)
        quietly(self._remember_address, user.username, event, now)
        if checked.rehashed:
            quietly(lambda: self.store.set_password_hash(user.username, checked.rehashed, replacing=user.password_hash))
        log.add(username=user.username, known=known, rehashed=bool(checked.rehashed) or None)
        return 200, self._signed_in(user.username)

    def _reserve(self, key: str, address: str, known: bool, now: int) -> list[tuple[str, Taken]]:
        """Reserve this attempt's failure in each counter that applies, before any password is
        checked; refuse (429) at the first limit reached, giving back what was reserved."""
        policy, taken = self.policy, []

        def refuse(message: str, until: int, limit: str):
            for counter, reservation in taken:
                self.store.give_back(counter, reservation)
            wait = max(1, until - now)
            raise Refused(429, f"{message}; try again in {wait} s", retry_after=wait, limit=limit)

        pair_key = f"login#pair#{key}#{address}"
        pair = self.store.take(pair_key, now, policy.window_seconds, policy.pair_max_failures)
        if not pair.granted:
            refuse("too many failed logins for this name from your address", pair.ends_at, "pair")
        taken.append((pair_key, pair))
        if not known:
            address_key = f"login#ip#{address}"
            counted = self.store.take(address_key, now, policy.window_seconds, policy.address_max_failures)
            if not counted.granted:
                refuse("too many failed logins from your address", counted.ends_at, "address")
            taken.append((address_key, counted))
        user_key = f"login#user#{key}"
        failures = self.store.take(user_key, now, policy.slowdown_window_seconds)
        taken.append((user_key, failures))
        delay = policy.delay_seconds(failures.count)
        if delay:
            # Unknown addresses share the name's turns. A known one takes turns of its own, so
            # nobody elsewhere can keep the owner waiting, while someone sharing the owner's
            # address (a NAT, a mobile carrier's CGNAT) is slowed as much as everyone else.
            turn_key, keep_until = (pair_key, pair.ends_at) if known else (user_key, failures.ends_at)
            busy_until = self.store.take_turn(turn_key, now, now + delay, keep_until)
            if busy_until is not None:
                refuse("too many failed logins for this name; it is being slowed down", busy_until, "slowdown")
        return taken

    def _remember_address(self, username: str, event: HttpEvent, now: int) -> None:
        if self.policy.known_address_days > 0:
            known_key = _known_key(username_key(username), address_group(event.source_ip))
            self.store.remember(known_key, now + self.policy.known_address_seconds)

    def guest(self, event: HttpEvent) -> tuple[int, dict]:
        if not self.accounts.allow_guests:
            raise Refused(403, "guest access is switched off")
        now = self.clock() // 1000
        self._count_sign_up(event)
        # The name is held until nothing that may show it is left (guest_name_hold_days after the
        # token and its session have ended), so no later guest is mistaken for this one.
        accounts = self.accounts
        hold_until = (now + accounts.guest_token_ttl_seconds + accounts.guest_session_limit_seconds
                      + accounts.guest_name_hold_days * 86400 + 60)
        for _ in range(GUEST_NAME_ATTEMPTS):
            username = guest_name()
            if self.store.create_user(
                username=username, password_hash=None, guest=True, created_at_ms=now * 1000, ttl=hold_until,
            ):
                log.add(username=username)
                return 201, self._token(username=username, guest=True)
        raise Refused(503, "no guest name is free right now; try again")

    def logout(self, event: HttpEvent) -> tuple[int, dict]:
        """Revoke the token (Authorization: Bearer <jwt>, or {"token"} in the body), and its refresh
        family with every access token issued in it, and close the connections opened with them.
        An expired token can no longer connect; its family (claim `fam`, or a `refreshToken` in
        the body) is still ended: 200."""
        raw = event.headers.get("authorization")
        body = {}
        if event.body:
            try:
                body = _json_body(event)
            except Refused:
                if not raw:
                    raise  # the body was the only place a token could be
        if not raw:
            raw = body.get("token")
        try:
            identity = verify_token(raw, keys=self.keys.accepted(), audience=self.audience)
        except TokenExpired:
            # An expired token can no longer connect, but its sign-in (refresh family) lives on:
            # the token, signature and claims checked but for its expiry, names it (claim `fam`),
            # and a `refreshToken` in the body does too.
            families = {parsed[0] for parsed in [split_refresh_token(body.get("refreshToken"))] if parsed}
            try:
                expired = verify_token(raw, keys=self.keys.accepted(), audience=self.audience, allow_expired=True)
            except TokenError:
                expired = None
            if expired is not None and expired.family:
                families.add(expired.family)
            closed = sum(self._end_family(family, reason="logout") for family in sorted(families))
            return 200, {"loggedOut": True, "closed": closed}
        except TokenError:
            raise Refused(401, "invalid token") from None
        if not identity.jti:
            raise Refused(400, "this token cannot be revoked")
        self.store.revoke_token(identity.jti, identity.expires_at)
        if identity.family:
            closed = self._end_family(identity.family, reason="logout")  # its connections, this token's too
        else:
            closed = self.close_connections(identity)
        log.add(username=identity.username, closed=closed)
        return 200, {"loggedOut": True, "closed": closed}

    # -- refresh tokens ----------------------------------------------------------------------------

    def refresh(self, event: HttpEvent) -> tuple[int, dict]:
        """POST /refresh {"refreshToken"}: a new access token and a new refresh token; the one
        presented is used up. A refresh token used a second time (a stolen copy, or a client that
        did not keep the new one) ends its whole sign-in: every tab must log in again."""
        parsed = split_refresh_token(_json_body(event).get("refreshToken"))
        now = self.clock() // 1000
        # Per address, before the token is looked at: guessing (or a loop) costs the guesser.
        counted = self.store.take(f"refresh#ip#{address_group(event.source_ip)}", now, 3600,
                                  self.limits.refresh_per_ip)
        if not counted.granted:
            wait = max(1, counted.ends_at - now)
            raise Refused(429, f"too many renewals from this address; try again in {wait} s", retry_after=wait)
        if parsed is None:
            raise Refused(401, "invalid refresh token")
        family, secret = parsed
        new_secret = _random_part(REFRESH_SECRET_BYTES)
        # The new access token's id goes into the family with the rotation (the family's latest).
        jti_hint = _random_part(12)
        rotation = self.refresh_store.rotate(family=family, secret=secret, new_secret=new_secret, jti=jti_hint,
                                             now_s=now)
        found = rotation.family
        if found is None:
            log.add(failure="unknown")
            raise Refused(401, "invalid refresh token")
        if not rotation.rotated:
            if found.revoked:
                log.add(username=found.username, failure="revoked")
                raise Refused(401, "this sign-in has ended; log in again")
            if found.ends_at <= now:
                log.add(username=found.username, failure="over")
                raise Refused(401, "this sign-in has run its time; log in again")
            if found.replayable(secret, now):
                # The last rotation's answer was lost (store.refresh REPLAY_SECONDS): rotate again, and
                # revoke the access token that answer carried, so that a thief who took it gets nothing.
                lost = Identity(username=found.username, guest=False, expires_at=0, session_limit_seconds=0, jti=found.jti)
                rotation = self.refresh_store.rotate_replayed(found, new_secret=new_secret, jti=jti_hint, now_s=now)
                if rotation.rotated and lost.jti:
                    self.store.revoke_token(lost.jti, now + self.accounts.token_ttl_seconds)
                    log.warning("refresh token replayed", username=found.username, closed=self.close_connections(lost))
                found = rotation.family or found
        if not rotation.rotated:
            if found.revoked:
                log.add(username=found.username, failure="revoked")
                raise Refused(401, "this sign-in has ended; log in again")
            if not found.issued(secret):
                if found.exhausted:
                    log.add(username=found.username, failure="exhausted")
                    raise Refused(401, "this sign-in has run its course; log in again")
                # Not a secret this family ever issued: anyone can read a family id (claim `fam`),
                # so a made-up secret is merely wrong, and ends nothing.
                log.add(username=found.username, failure="wrong")
                raise Refused(401, "invalid refresh token")
            # The family is live and this is a token it issued and rotated away: used, shown again.
            closed = self._end_family(family, reason="reuse")
            log.warning("refresh token reused: sign-in ended", username=found.username, closed=closed)
            raise Refused(401, "this refresh token was already used; the sign-in has ended everywhere, log in again")
        body = self._token(username=found.username, guest=False, family=family, jti=jti_hint, ends_at=found.ends_at)
        body["refreshToken"] = f"{family}.{new_secret}"
        body["refreshExpiresAt"] = protocol.iso_utc(found.ends_at * 1000)
        log.add(username=found.username)
        return 200, body

    def _signed_in(self, username: str) -> dict:
        """A member's sign-in: an access token and the first refresh token of a new family."""
        now = self.clock() // 1000
        family, secret = _random_part(REFRESH_FAMILY_BYTES), _random_part(REFRESH_SECRET_BYTES)
        ends_at = now + self.accounts.refresh_ttl_seconds
        if self.accounts.member_session_limit_seconds:
            ends_at = min(ends_at, now + self.accounts.member_session_limit_seconds)
        jti = _random_part(12)
        body = self._token(username=username, guest=False, family=family, jti=jti, ends_at=ends_at)
        self.refresh_store.create(family=family, username=username, secret=secret, ends_at=ends_at, jti=jti)
        body["refreshToken"] = f"{family}.{secret}"
        body["refreshExpiresAt"] = protocol.iso_utc(ends_at * 1000)
        return body

    def _end_family(self, family: str, *, reason: str) -> int:
        """Revoke a sign-in: no more refresh, its access tokens refused, its connections closed."""
        ended = self.refresh_store.revoke(family, self.clock() // 1000 + self.accounts.token_ttl_seconds)
        if ended is None:
            return 0
        closed = self.close_connections(Identity(username=ended.username, guest=False, expires_at=0,
                                                 session_limit_seconds=0, family=family))
        log.add(familyEnded=reason)
        return closed

    def _token(self, *, username: str, guest: bool, family: str | None = None, jti: str | None = None,
               ends_at: int | None = None) -> dict:
        now = self.clock() // 1000
        if guest:
            ttl = self.accounts.guest_token_ttl_seconds
            # Guests are always session-limited; a limit of 0 would mean unlimited, so fall back to the token's life.
            limit = self.accounts.guest_session_limit_seconds or ttl
        else:
            ttl = self.accounts.token_ttl_seconds
            limit = self.accounts.member_session_limit_seconds
        if ends_at is not None:
            # A token of a sign-in never outlives it, and a member session limit counts from the
            # sign-in, not from each renewal.
            ttl = max(1, min(ttl, ends_at - now))
            if limit:
                limit = max(1, ends_at - now)
        token, expires_at = issue_token(
            username=username, guest=guest, ttl_seconds=ttl, session_limit_seconds=limit,
            secret=self.keys.current(), audience=self.audience, now=now, family=family, jti=jti,
        )
        return {
            "token": token,
            "expiresAt": protocol.iso_utc(expires_at * 1000),
            "user": {"username": username, "guest": guest, "sessionLimitSeconds": limit or None},
        }

    def _count_sign_up(self, event: HttpEvent) -> None:
        """At most `registrations_per_ip` accounts (members and guests) per address per hour."""
        now = self.clock() // 1000
        counted = self.store.take(f"signup#ip#{address_group(event.source_ip)}", now, 3600, self.limits.registrations_per_ip)
        if not counted.granted:
            raise Refused(429, "too many new accounts from this address; try again later",
                          retry_after=max(1, counted.ends_at - now))



def _random_part(size: int) -> str:
    return secrets.token_urlsafe(size)


def _known_key(key: str, address: str) -> str:
    return f"login#known#{key}#{address}"


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
