"""Every room live: after a message is stored, an `activity` frame to the connections of the users
who belong to its room but are elsewhere (in another room, or in none), so that their badges, the
title and notifications move without a reload.

Who is told, and what it costs (docs/protocol.md "activity", docs/performance.md):

- a DM's other user, on every message: one Query of the room's two member rows;
- each user the message mentions (at most protocol.MENTIONS_MAX) who belongs to the room (a member;
  in a public room also a reader, whose read-marker row exists): one BatchGetItem of at most 11
  keys (the room's record, and each user's member and marker rows);
- the other members of a room of at most `activity_max_room` members, at most once per room per
  `activity_coalesce_seconds` per process (a member list of more rows is not read further: those
  members' badges refresh through `rooms`, and mentions still reach them);
- then one Query of the by-user index per user told (which holds each connection's room), and one
  post per connection of theirs that is not in the room.

So a message to a 5,000-member room costs, beyond its own delivery: at most once per window and
process one Query reading activity_max_room + 1 member rows (then dropped: too big); with mentions,
one BatchGetItem and a Query and a few posts per mentioned user. No writes.

Nothing here may fail a message: the message is stored and delivered already; a failure is logged.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from handler import log, protocol
from handler.errors import SendFailed, StorageUnavailable
from handler.sender import Sender
from handler.settings import Limits
from handler.store.connections import ConnectionStore
from handler.store.messages import StoredMessage
from handler.store.rooms import RoomsStore, user_key

# The by-user Queries of the users told run side by side (each a few ms); never on the side pool,
# whose task this whole delivery is (a task waiting on its own pool could wait forever).
_lookups = ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity")
# How many rooms a process remembers it told recently (then it starts again: a few frames too many).
COALESCE_MEMORY_MAX = 10_000


class Activity:
    def __init__(self, connections: ConnectionStore, rooms: RoomsStore, sender: Sender, limits: Limits,
                 clock: Callable[[], int]):
        self.connections = connections
        self.rooms = rooms
        self.sender = sender
        self.limits = limits
        self.clock = clock
        # room -> when this process last told the room's members of a message (epoch ms).
        self._told: dict[str, int] = {}

    def tell(self, stored: StoredMessage) -> int:
        """Tell the users who belong to the message's room and are elsewhere; return the posts made.
        Never raises: the message is stored and delivered already."""
        try:
            return self._tell(stored)
        except (StorageUnavailable, SendFailed) as exc:
            log.warning("could not tell the room's users elsewhere of a message", error=str(exc))
            return 0
        except Exception:  # a bug here must not turn a stored message into an error its sender retries
            log.exception("activity frames failed")
            return 0

    def _tell(self, stored: StoredMessage) -> int:
        room, sender_key = stored.room, user_key(stored.sender)
        dm = protocol.is_dm_room(room)
        mentioned = {user_key(name): name for name in protocol.mentions(stored.message, stored.sender)}
        users: dict[str, str] = {}  # user key -> username, of those told without a mention
        if dm or self._members_due(room):
            users = self._small_room_members(room)
        mentioned_users = self._belonging(room, mentioned) if mentioned else {}
        users = {key: name for key, name in users.items() if key not in mentioned_users and key != sender_key}
        if not users and not mentioned_users:
            return 0
        frame = protocol.activity_frame(room=room, id=stored.id, sender=stored.sender,
                                        sent_at=stored.sent_at, dm=dm, mention=False)
        plain = self._elsewhere(room, list(users.values()))
        marked = self._elsewhere(room, list(mentioned_users.values()))
        posts = 0
        for connection_ids, mention in ((plain, False), (marked, True)):
            if connection_ids:
                result = self.sender.broadcast(connection_ids, {**frame, "mention": mention})
                posts += len(connection_ids)
                if result.gone or result.failed:
                    # Left to their next room message or the sweep: activity never costs a delete.
                    log.add(activityGone=len(result.gone), activityFailed=len(result.failed))
        log.add(activityUsers=len(users) + len(mentioned_users), activityPosts=posts)
        return posts

    def _members_due(self, room: str) -> bool:
        """Whether this process has not told the room's members of a message within the window:
        a busy room costs at most one member read (and its posts) per window and process."""
        now = self.clock()
        last = self._told.get(room)
        if last is not None and now - last < self.limits.activity_coalesce_seconds * 1000:
            return False
        if len(self._told) > COALESCE_MEMORY_MAX:
            self._told.clear()
        self._told[room] = now
        return True

    def _small_room_members(self, room: str) -> dict[str, str]:
        """The room's members (user key -> username), or none if it has more than activity_max_room."""
        rows, more = self.rooms.members(room, None, self.limits.activity_max_room)
        if more:
            log.add(activityRoomTooBig=True)
            return {}
        return {key: name for key, name, _ in rows if name}

    def _belonging(self, room: str, mentioned: dict[str, str]) -> dict[str, str]:
        """Of the mentioned users (key -> name as written), those who belong to the room (key ->
        username): members; in a public room, readers too. A mention never tells a private room's
        outsider anything, not even that it was said."""
        record, members, readers = self.rooms.belonging(room, list(mentioned))
        private = record.private if record else protocol.is_dm_room(room)
        found = dict(members)
        if not private:
            for key in readers:
                # A reader's marker names them as registered, if it was written since it has.
                found.setdefault(key, readers[key] or mentioned[key])
        return found

    def _elsewhere(self, room: str, usernames: list[str]) -> list[str]:
        """The connections of these users that are not in `room` (those in it got the message)."""
        if not usernames:
            return []
        found = _lookups.map(self.connections.user_connection_rooms, usernames)
        return [cid for rows in found for cid, in_room in rows if in_room != room]
