"""Delivering one frame to a room: inline for a small room, split across asynchronous `fanout`
Lambda invocations for a big one, so that delivery time stays flat as rooms grow (on AWS each
invocation runs in parallel; locally sls offline starts a Python process per concurrent call).

The `fanout` function's entry point is `handler` below; its event is built by `Fanout.deliver`:
    {"endpoint": "https://.../stage", "room": "r", "frame": {...},
     "members": [[connectionId, username, connectedAtMs], ...]}
"""

from __future__ import annotations

import json
import os
import threading

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handler import log
from handler.sender import Sender
from handler.storage import Member

# Above this many members a broadcast is split: the sending function delivers the first batch and
# hands each further batch to an asynchronous `fanout` invocation.
BATCH_SIZE = max(1, int(os.environ.get("WSCHAT_FANOUT_BATCH_SIZE", "250")))


class AsyncInvoker:
    """Invokes the fanout function with InvocationType=Event (returns at once, runs elsewhere)."""

    _client = None
    _lock = threading.Lock()

    def __init__(self, function_name: str, endpoint_url: str | None = None):
        self.function_name = function_name
        self.endpoint_url = endpoint_url

    def _lambda(self):
        if AsyncInvoker._client is None:
            with AsyncInvoker._lock:
                if AsyncInvoker._client is None:
                    AsyncInvoker._client = boto3.client(
                        "lambda", endpoint_url=self.endpoint_url,
                        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}),
                    )
        return AsyncInvoker._client

    def invoke(self, payload: dict) -> bool:
        try:
            self._lambda().invoke(
                FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
            )
        except (ClientError, BotoCoreError) as exc:
            log.warning("fanout invoke failed; delivering inline", error=exc.__class__.__name__)
            return False
        return True

    @classmethod
    def from_env(cls) -> "AsyncInvoker | None":
        name = os.environ.get("WSCHAT_FANOUT_FUNCTION")
        if not name:
            return None
        return cls(name, os.environ.get("WSCHAT_LAMBDA_ENDPOINT") or None)


class Fanout:
    def __init__(self, sender: Sender, invoker: AsyncInvoker | None = None, batch_size: int = BATCH_SIZE):
        self.sender = sender
        self.invoker = invoker
        self.batch_size = batch_size

    def deliver(self, room: str, members: list[Member], frame: dict) -> tuple[int, list[Member]]:
        """Send `frame` to `members`; return (posts made here, members found gone here)."""
        batches = [members[i:i + self.batch_size] for i in range(0, len(members), self.batch_size)] or [[]]
        inline = list(batches[0])
        for batch in batches[1:]:
            payload = {
                "endpoint": self.sender.endpoint,
                "room": room,
                "frame": frame,
                "members": [[m.connection_id, m.username, m.connected_at_ms] for m in batch],
            }
            if self.invoker is None or not self.invoker.invoke(payload):
                inline.extend(batch)  # nothing is lost when the hand-off fails: send it here
        if len(batches) > 1:
            log.add(fanoutBatches=len(batches) - 1)
        result = self.sender.broadcast([m.connection_id for m in inline], frame)
        gone = set(result.gone)
        return len(inline), [m for m in inline if m.connection_id in gone]


def members_from_event(event: dict) -> list[Member]:
    return [Member(str(cid), str(username), int(connected_at)) for cid, username, connected_at in event["members"]]


def handler(event, context=None):
    """The `fanout` function: deliver one batch, then remove the members found gone."""
    from handler.app import chat_with_endpoint  # here: app imports this module

    log.bind(route="fanout", room=str(event.get("room")) if isinstance(event, dict) else None)
    try:
        members = members_from_event(event)
        chat = chat_with_endpoint(event["endpoint"])
        gone = chat.fanout.deliver(event["room"], members, event["frame"])[1]
        if gone:
            chat.drop_gone_members(event["room"], gone)
        log.finish("ok", members=len(members), gone=len(gone))
    except Exception:  # noqa: BLE001 - an escaped exception would hang serverless-offline
        log.exception("fanout failed")
        log.finish("internal error")
    return {"statusCode": 200}
