"""The `sweep` function: closes connections whose token expired or whose session limit ran out.

API Gateway checks the token only at $connect and keeps a connection up to 2 hours, so a user
whose token expired would stay connected (and listening) without this. It runs every minute on
AWS (a schedule in serverless.yml) and on a timer under `make dev`; it reads only the expired
rows, through the by-deadline index, never the whole table.
"""

from __future__ import annotations

import os

from handler import log


def handler(event=None, context=None):
    from handler.app import chat_with_endpoint, settings

    log.bind(route="sweep")
    try:
        endpoint = settings().management_endpoint or os.environ.get("WSCHAT_WS_API_URL", "")
        chat = chat_with_endpoint(endpoint)
        closed = chat.sweep_expired()
        log.finish("ok", closed=closed)
        return {"closed": closed}
    except Exception:  # noqa: BLE001 - an escaped exception would hang serverless-offline
        log.exception("sweep failed")
        log.finish("internal error")
        return {"closed": 0}
