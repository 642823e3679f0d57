"""A stored message's frame (handler/chat/message_frames.py): the protocol's message frame."""

import pytest

from handler import protocol
from handler.chat.message_frames import message_frame
from tests.unit.store_support import T0, append, chat_stores


@pytest.fixture
def chats(dynamodb):
    return chat_stores(dynamodb)


def test_stored_message_frame_is_the_protocols_message_frame(chats):
    stored = append(chats, "hi", client_msg_id=None)
    assert message_frame(stored) == {"type": "message", "id": stored.id, "room": "general", "sender": "alice",
                                     "message": "hi", "sentAt": protocol.iso_utc(T0), "clientMsgId": None}
