"""Delivering one frame to a room: inline for a small room, split across asynchronous `fanout`
Lambda invocations for a big one, so that delivery time stays flat as rooms grow (on AWS each
invocation runs in parallel; locally sls offline starts a Python process per concurrent call).

The `fanout` function (handler/fanout.py) takes the event built here:
    {"endpoint": "https://.../stage", "room": "r", "frame": {...},
     "members": [[connectionId, username, connectedAtMs], ...]}
"""

from __future__ import annotations

import json

from handler import log
from handler.errors import WschatError
from handler.sender import Sender
from handler.store.connections import Member


class AsyncInvoker:
    """Invokes the fanout function with InvocationType=Event (returns at once, runs elsewhere)."""

    def __init__(self, function_name: str, lambda_client):
        self.function_name = function_name
        self.lambda_client = lambda_client

    def invoke(self, payload: dict) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.lambda_client.invoke(
                FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
            )
        except (ClientError, BotoCoreError) as exc:
            log.warning("fanout invoke failed; delivering inline", error=exc.__class__.__name__)
            return False
        return True


class Broadcaster:
    def __init__(self, sender: Sender, invoker: AsyncInvoker | None = None, batch_size: int = 250):
        self.sender = sender
        self.invoker = invoker
        self.batch_size = batch_size

    def deliver(self, room: str, members: list[Member], frame: dict, *, split: bool = True) -> tuple[int, list[Member]]:
        """Send `frame` to `members`; return (posts made here, members found gone here).

        split=False delivers everything here: presence (which only rooms of at most presenceMaxRoom
        members get) and a batch `fanout` was handed. So only `sendmessage` ever invokes `fanout`,
        and only its role may (infra/roles.yml).
        """
        size = self.batch_size if split else max(len(members), 1)
        batches = [members[i:i + size] for i in range(0, len(members), size)] or [[]]
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


class BadFanoutEvent(WschatError):
    """Raised when a fanout invocation's event is not one that Broadcaster.deliver built."""


def parse_fanout_event(event: object) -> tuple[str, str, dict, list[Member]]:
    """(endpoint, room, frame, members) of a fanout invocation."""
    try:
        members = [Member(str(cid), str(name), int(at)) for cid, name, at in event["members"]]
        endpoint, room, frame = event["endpoint"], event["room"], event["frame"]
    except (TypeError, KeyError, ValueError) as exc:
        raise BadFanoutEvent(f"malformed fanout event: {exc.__class__.__name__}") from None
    if not (isinstance(endpoint, str) and isinstance(room, str) and isinstance(frame, dict)):
        raise BadFanoutEvent("malformed fanout event: endpoint, room or frame")
    return endpoint, room, frame, members
