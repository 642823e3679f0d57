"""Whether a user may be in a room, decided from the Rooms table at $connect, join and read: a
private room admits its members, a ban holds until it ends; and until when the user is muted there
(kept on the connection row, so that sendmessage needs no read for it)."""

from __future__ import annotations

from typing import Callable

from handler import protocol
from handler.protocol import ErrorCode
from handler.store.rooms import RoomsStore, user_key


class RoomAdmission:
    def __init__(self, rooms: RoomsStore | None, clock: Callable[[], int]):
        # Without the rooms store every room is public and nobody is banned or muted.
        self.rooms = rooms
        self.clock = clock

    def admit(self, room: str, username: str) -> int:
        """Raise `forbidden` for a private room the user is not a member of, `banned` while a ban
        holds; else return until when (epoch ms, 0: not) they are muted there."""
        if self.rooms is None:
            return 0
        access = self.rooms.access(room, user_key(username), self.clock())
        private = access.record.private if access.record else protocol.is_dm_room(room)
        if private and access.role is None:
            raise protocol.refusal(ErrorCode.FORBIDDEN, f"{room} is a private room: members only")
        if access.banned_until is not None:
            raise protocol.refusal(ErrorCode.BANNED, f"you are banned from {room}", until_ms=access.banned_until)
        return access.muted_until

    def muted_until(self, room: str, username: str) -> int:
        """Until when (epoch ms, 0: not) the user is muted in the room, whatever else holds."""
        if self.rooms is None:
            return 0
        return self.rooms.access(room, user_key(username), self.clock()).muted_until
