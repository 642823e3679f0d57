"""The `fanout` function: deliver one batch of a big room's broadcast (handler/broadcast.py
builds its event), then forget the members found gone."""

from handler.app import app
from handler.broadcast import parse_fanout_event
from handler.entry import background


def _fanout(event) -> dict:
    endpoint, room, frame, members = parse_fanout_event(event)
    app().chat(endpoint).messaging.deliver_batch(room, members, frame)
    return {"statusCode": 200}


handler = background("fanout", _fanout, fallback={"statusCode": 200})
