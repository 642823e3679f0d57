"""The seed's fan-out, kept as the benchmark's baseline: read the whole connection table (Scan, all
pages), keep the room's rows, post to each one after another with one shared boto3 client.
The message is stored exactly as wschat stores it, so the comparison is the fan-out alone."""

from __future__ import annotations

import time

import boto3

from handler import log, protocol
from handler.app import storage
from handler.events import WebSocketEvent

_clients: dict[str, object] = {}
_dynamodb = None


def _scanner():
    """The seed read the table with a boto3 client; so does this baseline."""
    global _dynamodb
    if _dynamodb is None:
        _dynamodb = boto3.client("dynamodb", endpoint_url=storage().settings.ddb_endpoint)
    return _dynamodb


def _client(endpoint: str):
    if endpoint not in _clients:
        _clients[endpoint] = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    return _clients[endpoint]


def send_message(raw_event: dict, endpoint: str) -> dict:
    event = WebSocketEvent(raw_event)
    identity = event.identity
    log.bind(route="sendmessage", strategy="seed", connectionId=event.connection_id)
    try:
        store = storage()
        request = protocol.parse_send_message(protocol.parse_request(event.body))
        conn = store.get_connection(event.connection_id)
        stored = store.append_message(room=conn.room, sender=identity.username, message=request.message,
                                      client_msg_id=request.client_msg_id, sent_at_ms=int(time.time() * 1000))
        rows, scanned, kwargs = [], 0, {"TableName": store.connections_table}
        while True:
            page = _scanner().scan(**kwargs)
            scanned += page["ScannedCount"]
            rows += [item for item in page["Items"] if item["room"]["S"] == conn.room]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        data = protocol.encode(stored.frame())
        client = _client(endpoint)
        for row in rows:
            try:
                client.post_to_connection(ConnectionId=row["connectionId"]["S"], Data=data)
            except Exception:  # noqa: BLE001 - the seed ignored failed posts
                pass
        log.finish("ok", messageId=stored.id, members=len(rows), itemsRead=scanned + 1)
    except Exception:  # noqa: BLE001
        log.exception("seed send failed")
        log.finish("internal error")
    return {"statusCode": 200}
