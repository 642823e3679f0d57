"""The `sweep` function: closes connections whose token expired or whose session limit ran out.

API Gateway checks the token only at $connect and keeps a connection up to 2 hours, so a user
whose token expired would stay connected (and listening) without this. It runs every minute on
AWS (a schedule in the stack) and on a timer under `make dev`; it reads only the expired rows,
through the by-deadline index, never the whole table.
"""

from handler import log
from handler.app import app
from handler.entry import background


def _sweep(event) -> dict:
    closed = app().chat().housekeeping.sweep_expired()
    log.add(closed=closed)
    return {"closed": closed}


handler = background("sweep", _sweep, fallback={"closed": 0})
