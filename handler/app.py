"""Wiring: the objects built once per cold start, and the guard every WebSocket route runs in.

Under serverless-offline an exception that escapes a Python handler kills its process and every
later call hangs, and on AWS it costs the client a generic error; so the guard turns every failure
into an `error` frame to the sender and a logged line, and always returns a response.
"""

from __future__ import annotations

import functools
import logging

from handler import log
from handler.chat import Chat
from handler.config import settings
from handler.errors import ConnectionGone, SendFailed, SessionExpired, StorageUnavailable
from handler.events import WebSocketEvent
from handler.fanout import AsyncInvoker, Fanout
from handler.protocol import ErrorCode, ProtocolError
from handler.sender import Sender
from handler.storage import Storage

OK = {"statusCode": 200}

_storage: Storage | None = None


def storage() -> Storage:
    global _storage
    if _storage is None:
        _storage = Storage(settings())
    return _storage


_invoker: AsyncInvoker | None = None
_invoker_loaded = False


def invoker() -> AsyncInvoker | None:
    global _invoker, _invoker_loaded
    if not _invoker_loaded:
        _invoker, _invoker_loaded = AsyncInvoker.from_env(), True
    return _invoker


def chat_with_endpoint(endpoint: str) -> Chat:
    sender = Sender(endpoint)
    return Chat(storage(), sender, settings(), fanout=Fanout(sender, invoker()))


def chat_for(event: WebSocketEvent) -> Chat:
    return chat_with_endpoint(event.management_endpoint(settings().management_endpoint))


def open_event(raw_event, route: str | None = None) -> WebSocketEvent:
    """Wrap a WebSocket event (whatever arrived) and start this invocation's log line."""
    event = WebSocketEvent(raw_event if isinstance(raw_event, dict) else {})
    identity = event.identity
    log.bind(
        route=route or event.route_key,
        connectionId=event.connection_id,
        username=identity.username if identity else None,
        requestId=event.request_id,
    )
    return event


def websocket_route(route):
    """Run `route(chat, event)` for an authorized connection, answering every failure with an error frame."""

    @functools.wraps(route)
    def handler(raw_event, context=None):
        reads_before = storage().items_read if _storage is not None else 0
        event = open_event(raw_event)
        identity = event.identity
        chat = None
        try:
            chat = chat_for(event)
            if event.connection_id is None or identity is None:
                # Only reachable through a misconfigured stack: every route sits behind $connect's authorizer.
                log.finish("refused: no connection or authorized identity", level=logging.WARNING)
                return {"statusCode": 403}
            route(chat, event, identity)
            log.finish("ok", itemsRead=storage().items_read - reads_before)
        except ProtocolError as exc:
            log.finish("refused", code=exc.code.value)
            if chat is not None:
                _quietly(chat.reply_error, event.connection_id, exc.code, exc.message)
        except SessionExpired:
            log.finish("session expired")
        except StorageUnavailable as exc:
            log.finish("storage unavailable", level=logging.WARNING, error=str(exc))
            if chat is not None:
                _quietly(chat.reply_error, event.connection_id, ErrorCode.UNAVAILABLE, "the chat store is unavailable; try again")
        except ConnectionGone:
            # The sender itself left while we worked on its request.
            log.finish("sender gone")
            if chat is not None:
                _quietly(chat.drop_gone, [event.connection_id])
        except Exception:  # noqa: BLE001 - the guard's whole point
            log.exception("unhandled error")
            log.finish("internal error", level=logging.ERROR)
            if chat is not None and event.connection_id:
                _quietly(chat.reply_error, event.connection_id, ErrorCode.INTERNAL, "internal error")
        return OK

    return handler


def _quietly(function, *args) -> None:
    try:
        function(*args)
    except (StorageUnavailable, SendFailed, ConnectionGone):
        log.warning("cleanup failed")
    except Exception:  # noqa: BLE001
        log.exception("cleanup failed")
