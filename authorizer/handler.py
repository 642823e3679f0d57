"""The $connect REQUEST authorizer: a valid, unrevoked token in `?token=` gets an Allow with the
identity in its context (protocol.Identity), anything else a Deny. It needs only the accounts
store (revoked tokens and ended refresh families) and the signing keys."""

from handler.app import app
from handler.entry import authorizer_entry


def _authorize(event):
    # The one check of a token (App.verified): `renew` checks a renewed token with it too.
    return app().verified(event.token)


handler = authorizer_entry(_authorize)
