"""$disconnect: forget the connection, close its session row, tell the room."""

import logging

from handler import log
from handler.app import chat_for
from handler.errors import SendFailed, StorageUnavailable
from handler.events import WebSocketEvent


def handler(raw_event, context=None):
    event = WebSocketEvent(raw_event if isinstance(raw_event, dict) else {})
    identity = event.identity
    log.bind(route="$disconnect", connectionId=event.connection_id, requestId=event.request_id,
             username=identity.username if identity else None)
    try:
        if event.connection_id:
            chat_for(event).disconnect(event.connection_id)
        log.finish("disconnected")
    except (StorageUnavailable, SendFailed) as exc:
        # The row's ttl removes it later; nothing else can be done for a closed connection.
        log.finish("cleanup failed", level=logging.WARNING, error=str(exc))
    except Exception:  # noqa: BLE001 - an escaped exception would hang serverless-offline
        log.exception("unhandled error")
        log.finish("internal error", level=logging.ERROR)
    return {"statusCode": 200}
