"""The $connect REQUEST authorizer: a valid, unrevoked token in `?token=` gets an Allow with the
identity in its context (protocol.Identity), anything else a Deny. It needs only the accounts
store (revocations) and the signing keys."""

from authorizer.tokens import TokenRevoked, verify_token
from handler.app import app
from handler.entry import authorizer_entry


def _authorize(event):
    identity = verify_token(event.token, keys=app().signing_keys.accepted(), audience=app().settings.audience)
    # A token that was logged out stays refused until it would have expired.
    if identity.jti and app().accounts_store.is_revoked(identity.jti):
        raise TokenRevoked("revoked")
    return identity


handler = authorizer_entry(_authorize)
