"""$connect: record the connection (the authorizer has already checked the token)."""

import logging
import time

from handler import log, protocol
from handler.app import chat_for, open_event
from handler.errors import StorageUnavailable
from handler.protocol import ProtocolError


def handler(raw_event, context=None):
    event = open_event(raw_event, "$connect")
    identity = event.identity
    try:
        if identity is None or event.connection_id is None:
            log.finish("refused: no authorized identity", level=logging.WARNING)
            return {"statusCode": 403, "body": "unauthorized"}
        if identity.expires_at <= time.time():
            log.finish("refused: token expired")
            return {"statusCode": 401, "body": "token expired"}
        room = protocol.validate_room(event.query.get("room") or protocol.DEFAULT_ROOM)
        chat_for(event).connect(
            connection_id=event.connection_id,
            identity=identity,
            room=room,
            source_ip=event.source_ip,
            user_agent=event.user_agent,
        )
        log.finish("connected")
        return {"statusCode": 200}
    except ProtocolError as exc:
        # API Gateway refuses the upgrade with this status; the client sees a failed handshake.
        log.finish("refused", code=exc.code.value)
        return {"statusCode": 400, "body": exc.message}
    except StorageUnavailable as exc:
        log.finish("storage unavailable", level=logging.WARNING, error=str(exc))
        return {"statusCode": 503, "body": "unavailable"}
    except Exception:  # noqa: BLE001 - an escaped exception would hang serverless-offline
        log.exception("unhandled error")
        log.finish("internal error", level=logging.ERROR)
        return {"statusCode": 500, "body": "internal error"}
