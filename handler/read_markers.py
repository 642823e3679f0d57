"""Read markers, unread counts and mentions: what `read` does (the `read` function), and
the unread count and mention flag of each room in the `rooms` frame.

- `read {room, id}`: the user's marker in the room moves to `id` if that is newer (one conditional
  write: markers only move forward). The sender always gets `read` with the marker as it now
  stands; the user's other connections get the same frame when it moved, so every tab agrees.
  Only for a room the user may read: the connection's own room (which join or $connect admitted,
  and kicks and bans take it out of), or any other room the same rules as `join` admit (a private
  room's non-member gets `forbidden` and learns nothing more).
- Unread counts are counted from the messages when `rooms` asks: for each room with something
  after the user's marker, one Query of the ids after it, newest first, at most UNREAD_MAX
  (MessageStore.newest_after). A room whose last activity (RoomsStore.touch: at most a minute
  behind its newest message) is well before the marker is not queried: nothing is after it.
  `sendmessage` counts nothing (no write per message for unread counts); `read` is one
  conditional write. At most UNREAD_ROOMS_COUNTED rooms are counted per `rooms` frame, the most
  recently active; the others say `unread: null`.
- Mentions: sendmessage records, per user a message mentions, the newest such message id in the
  room (Messaging._record_mentions); `mention` is whether it is after the user's marker.
"""

from __future__ import annotations

from typing import Callable

from handler import log, protocol
from handler.chat.service import Chat
from handler.chat.side_pool import side_pool
from handler.errors import StorageUnavailable
from handler.limits import Budget
from handler.protocol import ErrorCode, Identity, ProtocolError
from handler.settings import Limits
from handler.store.connections import ConnectionStore
from handler.store.read_markers import Marker, MarkerStore
from handler.store.rooms import ACTIVITY_GRAIN_MS, Membership, RoomRecord

# A room's lastActivityAt is at most a minute behind its newest message (one touch a minute per
# process, never moved back); a marker this much later than it has nothing after it.
QUIET_AFTER_MS = 2 * ACTIVITY_GRAIN_MS
# The rooms whose unread messages one `rooms` frame counts (a Query each, on the side pool).
UNREAD_ROOMS_COUNTED = 30


class ReadService:
    def __init__(self, chat: Chat, markers: MarkerStore, connections: ConnectionStore, limits: Limits,
                 clock: Callable[[], int]):
        # What it uses of the chat service: its public collaborators, never its internals.
        self.replies = chat.replies
        self.limiter = chat.limiter
        self.live = chat.live
        self.admission = chat.admission
        self.markers = markers
        self.connections = connections
        self.clock = clock
        self.read_budget = limits.read

    def read(self, connection_id: str, identity: Identity, request: protocol.Read) -> None:
        self.limiter.spend_or_refuse("read", identity.username, self.read_budget, "too many read markers")
        conn = self.live.get(connection_id)
        if request.room != conn.room:
            # Not the connection's room: admitted as `join` would admit it (forbidden, banned).
            self.admission.admit(request.room, identity.username)
        now = self.clock()
        if protocol.message_id_ms(request.id) > now + protocol.READ_AHEAD_MS:
            raise ProtocolError(ErrorCode.BAD_REQUEST, '"id" is in the future: send the id of a message read')
        marker, moved = self.markers.mark_read(identity.username, request.room, request.id, now)
        frame = protocol.read_frame(room=request.room, id=marker)
        self.replies.reply(connection_id, frame)
        others = 0
        if moved:
            ids = [cid for cid, _ in self.connections.user_connections(identity.username) if cid != connection_id]
            self.replies.tell_connections(ids, frame)
            others = len(ids)
        log.add(room=request.room, moved=moved, others=others)


def unread_entries(mine: list[dict], memberships: list[Membership], markers: list[Marker],
                   records: dict[str, RoomRecord], newest_after) -> list[dict]:
    """`mine` (the user's memberships, as `rooms` lists them) with each room's `unread` and
    `mention`, and the public rooms the user has read but is no member of (`role` null).
    `newest_after(room, after_id, at_most)`: MessageStore.newest_after.

    Only rooms the user may read are listed: a marker or mention in a private room they are not
    a member of (never invited, kicked, left) says nothing, not even that the room exists."""
    by_room = {marker.room: marker for marker in markers}
    member_of = {membership.room for membership in memberships}
    for entry in mine:
        entry["mention"] = _mentioned(by_room.get(entry["room"]))
    for marker in markers:
        if marker.room in member_of or marker.read_id is None:
            continue  # a mention alone does not make a room the user's (anyone can mention anyone)
        record = records.get(marker.room)
        private = record.private if record else protocol.is_dm_room(marker.room)
        if private:
            continue
        mine.append({"room": marker.room, "visibility": "public", "role": None, "dm": False,
                     "topic": record.topic if record else None,
                     "lastActivityAt": protocol.iso_utc(record.last_activity_ms) if record and record.last_activity_ms else None,
                     "mention": _mentioned(marker)})
    _count(mine, by_room, records, newest_after)
    return mine


def _mentioned(marker: Marker | None) -> bool:
    return marker.mentioned if marker else False


def _count(mine: list[dict], by_room: dict[str, Marker], records: dict[str, RoomRecord], newest_after) -> None:
    """Each entry's `unread`: 0 without a Query for a room quiet since the marker; counted for
    the UNREAD_ROOMS_COUNTED most recently active others; null for the rest. A counted room's
    lastActivityAt becomes its newest message's time when that is later."""
    wanted = []
    for entry in mine:
        marker, record = by_room.get(entry["room"]), records.get(entry["room"])
        read_id = marker.read_id if marker else None
        last = record.last_activity_ms if record else None
        if read_id is not None and last is not None and last + QUIET_AFTER_MS < protocol.message_id_ms(read_id):
            entry["unread"] = 0
        else:
            entry["unread"] = None
            wanted.append((last or 0, entry, read_id))
    # Rooms that mention the user first, then the most recently active.
    wanted.sort(key=lambda item: (item[1]["mention"], item[0]), reverse=True)
    counted = wanted[:UNREAD_ROOMS_COUNTED]
    pending = [side_pool.submit(newest_after, entry["room"], read_id, protocol.UNREAD_MAX)
               for _, entry, read_id in counted]
    for (_, entry, _read_id), future in zip(counted, pending):
        try:
            ids = future.result()
        except StorageUnavailable:
            log.warning("could not count a room's unread messages")
            continue  # that room says null; the others are counted
        entry["unread"] = len(ids)
        if ids:
            newest = protocol.iso_utc(protocol.message_id_ms(ids[0]))
            if not entry.get("lastActivityAt") or newest > entry["lastActivityAt"]:
                entry["lastActivityAt"] = newest
    if len(wanted) > len(counted):
        log.add(unreadNotCounted=len(wanted) - len(counted))
