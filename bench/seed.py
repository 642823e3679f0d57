"""The seed's fan-out, kept as the benchmark's baseline: read the whole connection table (Scan, all
pages), keep the room's rows, post to each one after another with one shared boto3 client.
The message is stored as wschat stores it (same item, same time-ordered id, same frame), so the
comparison is the fan-out alone.

It depends on nothing in handler/ but the protocol (parsing, ids, frames) and the JSON log: its
DynamoDB and management API clients are its own boto3 clients, configured from the same
environment variables as the functions, and it reads the raw API Gateway event itself.
"""

from __future__ import annotations

import os
import secrets
import threading
import time

import boto3
from botocore.exceptions import ClientError

from handler import log, protocol

_clients: dict[str, object] = {}
_dynamodb = None
_id_lock = threading.Lock()
_last_id_ms = 0


def _table(variable: str) -> str:
    return os.environ[variable]


def _ddb():
    """The seed read the table with a boto3 client; this baseline does everything with one."""
    global _dynamodb
    if _dynamodb is None:
        _dynamodb = boto3.client("dynamodb", endpoint_url=os.environ.get("WSCHAT_DDB_ENDPOINT") or None)
    return _dynamodb


def _client(endpoint: str):
    if endpoint not in _clients:
        _clients[endpoint] = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    return _clients[endpoint]


def _endpoint(context: dict) -> str:
    """The local override, else the API's own https://domain/stage (as the handlers do)."""
    return os.environ.get("WSCHAT_MANAGEMENT_ENDPOINT") or f"https://{context.get('domainName')}/{context.get('stage')}"


def _store(room: str, sender: str, message: str, client_msg_id: str | None, sent_at_ms: int) -> dict:
    """Write the message as wschat's storage does (one conditional put under a new time-ordered id)
    and return its frame."""
    global _last_id_ms
    with _id_lock:
        id_ms = _last_id_ms = max(sent_at_ms, _last_id_ms + 1)
    retention_days = int(os.environ.get("WSCHAT_MESSAGE_RETENTION_DAYS") or 30)
    sent_at = protocol.iso_utc(sent_at_ms)
    for _ in range(3):
        message_id = protocol.new_message_id(id_ms, secrets.token_hex(3))
        item = {
            "room": {"S": room},
            "id": {"S": message_id},
            "sender": {"S": sender},
            "message": {"S": message},
            "sentAt": {"S": sent_at},
            "ttl": {"N": str(sent_at_ms // 1000 + retention_days * 86400)},
        }
        if client_msg_id is not None:
            item["clientMsgId"] = {"S": client_msg_id}
        try:
            _ddb().put_item(TableName=_table("WSCHAT_MESSAGES_TABLE"), Item=item,
                            ConditionExpression="attribute_not_exists(id)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                continue
            raise
        return protocol.message_frame(id=message_id, room=room, sender=sender, message=message, sent_at=sent_at,
                                      client_msg_id=client_msg_id)
    raise RuntimeError("append_message: no free id")


def send_message(raw_event: dict, endpoint: str | None = None) -> dict:
    context = raw_event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    connection_id = context.get("connectionId")
    log.bind(route="sendmessage", strategy="seed", connectionId=connection_id)
    try:
        username = authorizer.get("username") or authorizer.get("principalId")
        request = protocol.parse_send_message(protocol.parse_request(raw_event.get("body")))
        connections_table = _table("WSCHAT_CONNECTIONS_TABLE")
        row = _ddb().get_item(TableName=connections_table, Key={"connectionId": {"S": connection_id}})["Item"]
        room = row["room"]["S"]
        frame = _store(room, username, request.message, request.client_msg_id, int(time.time() * 1000))
        rows, scanned, kwargs = [], 0, {"TableName": connections_table}
        while True:
            page = _ddb().scan(**kwargs)
            scanned += page["ScannedCount"]
            # The table also holds rows that are not connections in a room (a kicked connection,
            # the sweep's follow-ups): the seed's scan skips them as it skips other rooms.
            rows += [item for item in page["Items"] if item.get("room", {}).get("S") == room]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        data = protocol.encode(frame)
        client = _client(endpoint or _endpoint(context))
        for item in rows:
            try:
                client.post_to_connection(ConnectionId=item["connectionId"]["S"], Data=data)
            except Exception:  # noqa: BLE001 - the seed ignored failed posts
                pass
        log.finish("ok", messageId=frame["id"], members=len(rows), itemsRead=scanned + 1)
    except Exception:  # noqa: BLE001
        log.exception("seed send failed")
        log.finish("internal error")
    return {"statusCode": 200}
