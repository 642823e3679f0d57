"""Replies' quotes: what a reply's frame says of the message it answers, and a page's quotes as
the quoted messages are now (an edit followed, a deleted or expired one leaving no text)."""

from __future__ import annotations

import dataclasses

from handler import protocol
from handler.protocol import ErrorCode, ProtocolError
from handler.store.messages import MessageStore, StoredMessage


class Quotes:
    def __init__(self, messages: MessageStore):
        self.messages = messages

    def quoted(self, room: str, message_id: str) -> dict:
        """What a reply's frame says of the message it answers, which must be in the same room."""
        quoted = self.messages.message(room, message_id)
        if quoted is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "replyTo: no message with that id in this room")
        if quoted.deleted_at:
            raise ProtocolError(ErrorCode.NOT_FOUND, "replyTo: that message was deleted")
        return protocol.reply_ref(id=quoted.id, sender=quoted.sender, message=quoted.message)

    def current(self, room: str, messages: list[StoredMessage]) -> list[StoredMessage]:
        """A page's replies with their quotes as the quoted messages are now: the excerpt of an
        edited one follows the edit, and a deleted (or expired) one leaves no text behind
        (`{"id", "sender", "deleted": true}`). One BatchGetItem for the quoted messages that are
        not in the page; nothing for a page without replies."""
        quoted = [m.reply_to["id"] for m in messages if m.reply_to and m.deleted_at is None]
        if not quoted:
            return messages
        in_page = {m.id: (None if m.deleted_at else m.message) for m in messages}
        texts = {i: in_page[i] for i in quoted if i in in_page}
        missing = [i for i in dict.fromkeys(quoted) if i not in texts]
        if missing:
            texts.update(self.messages.quoted_texts(room, missing[:protocol.HISTORY_MAX_LIMIT]))
        current = []
        for message in messages:
            if message.reply_to and message.deleted_at is None:
                reply = message.reply_to
                text = texts.get(reply["id"])
                quote = protocol.reply_ref(id=reply["id"], sender=reply["sender"], message=text) if text is not None \
                    else protocol.deleted_reply_ref(id=reply["id"], sender=reply["sender"])
                message = dataclasses.replace(message, reply_to=quote)
            current.append(message)
        return current
