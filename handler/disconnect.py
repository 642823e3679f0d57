"""$disconnect: forget the connection, close its session row, tell the room."""

import logging

from handler import log
from handler.app import chat_for, open_event
from handler.errors import SendFailed, StorageUnavailable


def handler(raw_event, context=None):
    event = open_event(raw_event, "$disconnect")
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
