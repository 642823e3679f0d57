"""A stored message's frame: a message, or a tombstone for a deleted one."""

from __future__ import annotations

from handler import protocol
from handler.store.messages import StoredMessage


def message_frame(stored: StoredMessage, viewer: str | None = None) -> dict:
    """The message frame; `viewer`: the user a welcome or history page is for (each reaction then
    says whether they are among its users)."""
    if stored.deleted_at is not None:
        return protocol.tombstone_frame(id=stored.id, room=stored.room, sender=stored.sender, sent_at=stored.sent_at,
                                        deleted_at=stored.deleted_at, deleted_by=stored.deleted_by or "")
    return protocol.message_frame(
        id=stored.id, room=stored.room, sender=stored.sender, message=stored.message,
        sent_at=stored.sent_at, client_msg_id=stored.client_msg_id, reply_to=stored.reply_to,
        edited_at=stored.edited_at,
        reactions=protocol.reactions_list({e: list(u) for e, u in stored.reactions}, viewer),
        # From the text, as it reads now: no stored list to keep in step with edits.
        mentions=protocol.mentions(stored.message, stored.sender),
    )
