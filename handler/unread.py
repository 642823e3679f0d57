"""Read markers, unread counts and mentions (issue 13): what `read` does (the `read` function), and
the unread count and mention flag of each room in the `rooms` frame.

- `read {room, id}`: the user's marker in the room moves to `id` if that is newer (one conditional
  write: markers only move forward). The sender always gets `read` with the marker as it now
  stands; the user's other connections get the same frame when it moved, so every tab agrees.
  Only for a room the user may read: the connection's own room (which join or $connect admitted,
  and kicks and bans take it out of), or any other room the same rules as `join` admit (a private
  room's non-member gets `forbidden` and learns nothing more).
- Unread counts read no messages: a room's record counts every stored message (`messageCount`,
  RoomsStore.touch), and the marker keeps the count it corresponds to (`readCount`: the count at
  `read` time minus the messages after the id, one COUNT Query of usually none or a few). So
  unread = messageCount now - readCount. How exact that is: docs/protocol.md "Read markers".
- Mentions: sendmessage records, per user a message mentions, the newest such message id in the
  room (Chat._record_mentions); `mention` is whether it is after the user's marker.
"""

from __future__ import annotations

from handler import log, protocol
from handler.chat import Chat, _side_pool
from handler.limits import Budget
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.settings import Limits
from handler.store.rooms import Membership, RoomRecord, RoomsStore
from handler.store.unread import Marker, MarkerStore


class ReadService:
    def __init__(self, chat: Chat, markers: MarkerStore, rooms: RoomsStore, limits: Limits):
        self.chat = chat
        self.markers = markers
        self.rooms = rooms
        self.read_budget = Budget(limits.read_burst, limits.read_rate)

    def read(self, connection_id: str, identity: Identity, request: protocol.Read) -> None:
        chat = self.chat
        chat._spend("read", identity.username, self.read_budget, "too many read markers")
        conn = chat.live_connection(connection_id)
        if request.room != conn.room:
            # Not the connection's room: admitted as `join` would admit it (forbidden, banned).
            chat.admit_to_room(request.room, identity.username)
        now = chat.clock()
        if protocol.message_id_ms(request.id) > now + protocol.READ_AHEAD_MS:
            raise ProtocolError(ErrorCode.BAD_REQUEST, '"id" is in the future: send the id of a message read')
        # The room's count and the messages after the id, read side by side (docs: a message
        # stored between the two reads makes the count off by one until the next `read`).
        record = _side_pool.submit(self.rooms.record, request.room)
        after = chat.store.count_after(request.room, request.id, protocol.UNREAD_MAX)
        found = record.result()
        read_count = max(0, (found.message_count if found else 0) - after)
        marker, moved = self.markers.mark_read(identity.username, request.room, request.id, read_count, now)
        frame = protocol.read_frame(room=request.room, id=marker)
        chat._reply(connection_id, frame)
        others = 0
        if moved:
            ids = [cid for cid, _ in chat.store.user_connections(identity.username) if cid != connection_id]
            if ids:
                result = chat.sender.broadcast(ids, frame)
                others = len(ids)
                if result.gone:
                    chat.drop_gone(result.gone)
        log.add(room=request.room, moved=moved, after=after, others=others)


def unread_entries(mine: list[dict], memberships: list[Membership], markers: list[Marker],
                   records: dict[str, RoomRecord]) -> list[dict]:
    """`mine` (the user's memberships, as `rooms` lists them) with each room's `unread` and
    `mention`, and the public rooms the user has read but is no member of (`role` null).

    Only rooms the user may read are listed: a marker or mention in a private room they are not
    a member of (never invited, kicked, left) says nothing, not even that the room exists."""
    by_room = {marker.room: marker for marker in markers}
    member_of = {membership.room for membership in memberships}
    for entry in mine:
        _count(entry, by_room.get(entry["room"]), records.get(entry["room"]))
    for marker in markers:
        if marker.room in member_of or marker.read_id is None:
            continue  # a mention alone does not make a room the user's (anyone can mention anyone)
        record = records.get(marker.room)
        private = record.private if record else protocol.is_dm_room(marker.room)
        if private:
            continue
        entry = {"room": marker.room, "visibility": "public", "role": None, "dm": False,
                 "topic": record.topic if record else None,
                 "lastActivityAt": protocol.iso_utc(record.last_activity_ms) if record and record.last_activity_ms else None,
                 "messageCount": record.message_count if record else 0}
        mine.append(_count(entry, marker, record))
    return mine


def _count(entry: dict, marker: Marker | None, record: RoomRecord | None) -> dict:
    count = record.message_count if record else 0
    if marker is None:
        entry["unread"], entry["mention"] = min(count, protocol.UNREAD_MAX), False
    else:
        entry["unread"], entry["mention"] = marker.unread(count, protocol.UNREAD_MAX), marker.mentioned
    return entry
