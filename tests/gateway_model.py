"""What API Gateway does with a route's response, for tests that call entry points directly.

A one-way route's response goes nowhere. A two-way route (one with a route response: its websocket
event in infra/functions.yml sets routeResponseSelectionExpression) sends the response's body to
the asker as one message, after every post the call made. Fakes of the @connections API record
that message beside the posts, so that a test reads what the client would have received.
"""

from __future__ import annotations

import functools
import json

from stackfiles.config import load_config


@functools.cache
def two_way_routes() -> frozenset[str]:
    """The route keys with a route response, from the stack files."""
    routes = set()
    for spec in load_config()["functions"].values():
        for event in spec.get("events") or []:
            websocket = event.get("websocket") if isinstance(event, dict) else None
            if isinstance(websocket, dict) and websocket.get("routeResponseSelectionExpression"):
                routes.add(websocket["route"])
    return frozenset(routes)


def answer_to_asker(event: dict, response) -> tuple[str, dict] | None:
    """(connection id, frame) that API Gateway sends the asker for this response, or None."""
    context = (event or {}).get("requestContext") or {}
    if context.get("routeKey") not in two_way_routes() or not isinstance(response, dict):
        return None
    body = response.get("body")
    return (context["connectionId"], json.loads(body)) if body else None
