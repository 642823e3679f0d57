"""The kinds of entry point, each the one guard (handler/guard.py) with its own way to answer a
failure. Entry modules (connect, disconnect, messages, http_auth, fanout, sweep, the authorizer)
are one line per route over these.

    websocket_route   sendmessage, join, history, heartbeat, $default: failures become an error frame
                      (posted, or on a two-way route, sendmessage and heartbeat, the response's body)
    connect_route     $connect: failures become the status API Gateway refuses the upgrade with
    disconnect_route  $disconnect: nothing to answer; the row's ttl cleans up what could not be
    http_route        POST /register, /login, /guest, /logout: failures become {"error": ...}
    authorizer_entry  the $connect authorizer: failures become a Deny policy
    background        fanout and sweep: failures are logged, then raised to Lambda (Errors, the failures
                      queue), except on the local stage
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Callable

from handler import log, protocol
from handler.app import app
from handler.auth.tokens import TokenError
from handler.chat.refusals import ConnectRefusal, ConnectRefused
from handler.errors import ConnectionGone, SessionExpired, StorageUnavailable
from handler.events import AuthorizerEvent, HttpEvent, WebSocketEvent
from handler.guard import Refused, describe, guard, quietly
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.sender import POST_MAX_BYTES
from handler.settings import ConfigError

if TYPE_CHECKING:
    from handler.chat.service import Chat

OK = {"statusCode": 200}

# The status API Gateway refuses a $connect upgrade with, for each refusal of the chat service.
CONNECT_STATUS = {
    ConnectRefusal.SESSION_OVER: 401,
    ConnectRefusal.NOT_ADMITTED: 403,
    ConnectRefusal.REVOKED: 403,
    ConnectRefusal.TOO_MANY_CONNECTIONS: 429,
}


def _websocket_keys(event: WebSocketEvent) -> dict:
    identity = event.identity
    return {
        "connectionId": event.connection_id,
        "username": identity.username if identity else None,
        "requestId": event.request_id,
    }


def _chat_for(event: WebSocketEvent) -> Chat:
    return app().chat(event.management_endpoint(app().settings.region))


def _authorized(event: WebSocketEvent) -> tuple[str, Identity]:
    if event.connection_id is None or event.identity is None:
        # Only reachable through a misconfigured stack: every route sits behind $connect's authorizer.
        raise Refused(403, "no connection or authorized identity")
    return event.connection_id, event.identity


def answer(frame: dict) -> dict:
    """A two-way route's response: API Gateway sends its body to the asker as one message, with
    no post (no management API call, none of its latency or request quota). The frame is built
    under API Gateway's 128 KB like any post; one that is not is a bug, logged, and the asker told."""
    data = protocol.encode(frame)
    if len(data) > POST_MAX_BYTES:
        log.error("answer too large for API Gateway", frameType=frame.get("type"), bytes=len(data))
        data = protocol.encode(protocol.error_frame(ErrorCode.INTERNAL, f"the {frame.get('type')} reply was too large"))
    return {"statusCode": 200, "body": data.decode("utf-8")}


def websocket_route(route: str, work: Callable[[Chat, WebSocketEvent, str, Identity], dict | None], *,
                    two_way: bool = False):
    """A route of an open connection: `work(chat, event, connection_id, identity)`.

    two_way: the route has a route response (infra/functions.yml, routeResponseSelectionExpression),
    so what `work` returns, or the error frame of a failure, is the response's body. Only the
    last thing a route says to its asker can go there: the body reaches the client after every
    post made during the call. A one-way route posts everything."""

    def on_failure(event: WebSocketEvent | None, exc: Exception):
        if isinstance(exc, Refused) or event is None or event.connection_id is None:
            return {"statusCode": 403}
        chat = _chat_for(event)
        if isinstance(exc, ConnectionGone):
            quietly(chat.departures.drop_gone, [event.connection_id])  # the sender itself left while we worked
            return OK
        if isinstance(exc, SessionExpired):  # an expired session was told why and closed already
            return OK
        # Which request the error answers: a client with several requests out (a join, a read
        # marker, a room action) must not take one's refusal for another's.
        action = protocol.answered_action(event.route_key, event.body)
        fields = {"action": action} if action else {}
        if isinstance(exc, ProtocolError):
            code, message, fields = exc.code, exc.message, {**exc.fields, **fields}
        elif isinstance(exc, StorageUnavailable):
            code, message = ErrorCode.UNAVAILABLE, "the chat store is unavailable; try again"
        else:
            code, message = ErrorCode.INTERNAL, "internal error"
        if two_way:
            return answer({**protocol.error_frame(code, message), **fields})
        chat.replies.reply_error(event.connection_id, code, message, fields)
        return OK

    def run(event: WebSocketEvent):
        connection_id, identity = _authorized(event)
        reply = work(_chat_for(event), event, connection_id, identity)
        return answer(reply) if two_way and reply is not None else OK

    entry = guard(route, open_event=WebSocketEvent.of, bind=_websocket_keys, on_failure=on_failure, fallback=OK)(run)
    entry.two_way = two_way  # checked against the stack's route responses (tests/unit/test_routes.py)
    return entry


def websocket_routes(function: str, table: dict, service: Callable[[Chat], object]):
    """Several routes in one function (`rooms`, `moderation`): the frame's action picks the entry
    of `table`, `entry(service(chat), connection_id, identity, request)`. API Gateway routes by
    the action, so any other action here is a misrouted frame: `unknown_action`."""
    by_name = {action.value: work for action, work in table.items()}

    def work(chat: Chat, event: WebSocketEvent, connection_id: str, identity: Identity) -> None:
        request = protocol.parse_request(event.body)
        entry = by_name.get(request.action)
        if entry is None:
            raise ProtocolError(ErrorCode.UNKNOWN_ACTION, f"action {request.action[:40]!r} is not served here")
        log.add(action=request.action)
        entry(service(chat), connection_id, identity, request)

    return websocket_route(function, work)


def connect_route(work: Callable[[Chat, WebSocketEvent, Identity], None]):
    def on_failure(event, exc: Exception):
        if isinstance(exc, Refused):
            return {"statusCode": exc.status, "body": exc.message}
        if isinstance(exc, ProtocolError):
            # API Gateway refuses the upgrade with this status; the client sees a failed handshake.
            return {"statusCode": 400, "body": exc.message}
        if isinstance(exc, StorageUnavailable):
            return {"statusCode": 503, "body": "unavailable"}
        return {"statusCode": 500, "body": "internal error"}

    def run(event: WebSocketEvent):
        identity = event.identity
        if identity is None or event.connection_id is None:
            raise Refused(403, "unauthorized")
        if identity.expires_at <= app().now_ms() // 1000:
            raise Refused(401, "token expired")
        try:
            work(_chat_for(event), event, identity)
        except ConnectRefused as refused:
            log_fields = {"code": refused.code} if refused.code else {}
            raise Refused(CONNECT_STATUS[refused.reason], refused.message, **log_fields) from None
        return OK

    fallback = {"statusCode": 500, "body": "internal error"}
    return guard("$connect", open_event=WebSocketEvent.of, bind=_websocket_keys, on_failure=on_failure,
                 fallback=fallback)(run)


def disconnect_route(work: Callable[[Chat, str], None]):
    def run(event: WebSocketEvent):
        if event.connection_id:
            work(_chat_for(event), event.connection_id)
        return OK

    return guard("$disconnect", open_event=WebSocketEvent.of, bind=_websocket_keys,
                 on_failure=lambda event, exc: OK, fallback=OK)(run)


def http_response(status: int, body: dict, retry_after: int | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
        body = body | {"retryAfterSeconds": retry_after}  # pages cannot read Retry-After across origins
    return {"statusCode": status, "headers": headers, "body": json.dumps(body)}


def http_route(name: str, work: Callable[[HttpEvent], tuple[int, dict]]):
    def on_failure(event, exc: Exception):
        if isinstance(exc, Refused):
            return http_response(exc.status, {"error": exc.message}, exc.retry_after)
        if isinstance(exc, StorageUnavailable):
            return http_response(503, {"error": "service unavailable; try again"})
        if isinstance(exc, ConfigError):
            return http_response(500, {"error": "server misconfigured"})
        return http_response(500, {"error": "internal error"})

    def run(event: HttpEvent):
        status, body = work(event)
        return http_response(status, body)

    return guard(f"POST /{name}", open_event=HttpEvent.of, bind=lambda e: {"requestId": e.request_id},
                 on_failure=on_failure, fallback=http_response(500, {"error": "internal error"}))(run)


def authorizer_policy(principal: str, effect: str, resource: str, context: dict | None = None) -> dict:
    response = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context is not None:
        response["context"] = context
    return response


def authorizer_entry(work: Callable[[AuthorizerEvent], Identity]):
    """Allow with the identity in the context, or Deny: never raise (on AWS that is a 500, under
    serverless-offline a hung process). A store that cannot be read also denies: a logged-out
    token must not get in because revocation could not be checked."""

    def on_failure(event: AuthorizerEvent | None, exc: Exception):
        resource = event.method_arn if event is not None and isinstance(exc, TokenError) else "*"
        return authorizer_policy("anonymous", "Deny", resource)

    def run(event: AuthorizerEvent):
        identity = work(event)
        log.add(username=identity.username)
        return authorizer_policy(
            identity.username, "Allow", event.method_arn,
            # serverless-offline drops the source IP from the events after an authorizer; carrying
            # it here keeps SessionHistory's record complete locally too.
            context=identity.authorizer_context(sourceIp=event.source_ip),
        )

    return guard("$connect/authorizer", open_event=AuthorizerEvent.of,
                 bind=lambda e: {"connectionId": e.connection_id}, on_failure=on_failure,
                 fallback=authorizer_policy("anonymous", "Deny", "*"))(run)


class BackgroundFailed(Exception):
    """Raised out of a background function (fanout, sweep) on AWS, after its summary line, when
    it failed: an exception, or a handled failure (members a batch did not reach, a connection
    the sweep could not close). Only so does Lambda count it in `Errors` and send the event to
    the failures queue (infra/async.yml); neither function is retried (infra/functions.yml)."""


def background(route: str, work: Callable[[object], dict], fallback: dict):
    """An invocation with no client to answer (fanout, sweep): failures are logged, and reported
    to Lambda by raising BackgroundFailed; on the local stage `fallback` is returned with
    "failed", since under serverless-offline an escaped exception hangs the function (TOOLCHAIN)."""

    def on_failure(event, exc: Exception) -> dict:
        return {**fallback, "failed": describe(exc)[0]}

    guarded = guard(route, open_event=lambda raw: raw, on_failure=on_failure,
                    fallback={**fallback, "failed": "internal error"})(work)

    def entry(raw_event=None, context=None):
        result = guarded(raw_event, context)
        failed = result.get("failed") if isinstance(result, dict) else None
        failed = failed or log.failure()
        if failed is None:
            return result
        if _raises_failures():
            raise BackgroundFailed(f"{route}: {failed}")
        return {**result, "failed": failed} if isinstance(result, dict) else result

    return entry


def _raises_failures() -> bool:
    """Whether a failed background invocation is raised to the runtime: everywhere but the local
    stage (serverless-offline). A stage whose settings cannot be read does not raise either:
    its every route already says "misconfigured"."""
    try:
        return app().settings.stage != "local"
    except Exception:  # noqa: BLE001 - deciding how to report a failure must not fail
        return False
