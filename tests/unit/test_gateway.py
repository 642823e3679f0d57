"""The local gateway's limits without a network: websockets' Sans-I/O protocol fed client frames,
and the splitting of server messages into frames."""

import pytest
from websockets.frames import OP_CONT, OP_TEXT, CloseCode, Frame
from websockets.protocol import State
from websockets.server import ServerProtocol

from devstack import gateway

KB32, KB128 = 32 * 1024, 128 * 1024


def protocol():
    server = ServerProtocol(state=State.OPEN, max_size=KB128)
    server.__class__ = gateway._GatewayProtocol  # what Gateway._connection does to every connection
    return server


def feed(server, *frames):
    for opcode, size, fin in frames:
        server.receive_data(Frame(opcode, b"x" * size, fin=fin).serialize(mask=True, extensions=[]))
    return [event for event in server.events_received()]


def closed_with(server):
    return server.close_sent.code if server.close_sent else None


@pytest.mark.parametrize("frames, refused", [
    ([(OP_TEXT, KB32, True)], False),
    ([(OP_TEXT, KB32 + 1, True)], True),
    ([(OP_TEXT, KB32, False), (OP_CONT, KB32, False), (OP_CONT, KB32, False), (OP_CONT, KB32, True)], False),
    ([(OP_TEXT, KB32, False), (OP_CONT, KB32 + 1, True)], True),  # a continuation frame over 32 KB
    ([(OP_TEXT, KB32, False), (OP_CONT, KB32, False), (OP_CONT, KB32, False), (OP_CONT, KB32, False),
      (OP_CONT, 1, True)], True),  # every frame within 32 KB, the message over 128 KB
])
def test_client_frames_over_32_kb_and_messages_over_128_kb_close_with_1009(frames, refused):
    server = protocol()
    events = feed(server, *frames)
    if refused:
        assert closed_with(server) == CloseCode.MESSAGE_TOO_BIG
    else:
        assert closed_with(server) is None and sum(len(frame.data) for frame in events) == sum(f[1] for f in frames)


def test_the_limits_hold_message_after_message():
    server = protocol()
    for _ in range(3):
        feed(server, (OP_TEXT, KB32, False), (OP_CONT, KB32, True))
    assert closed_with(server) is None


@pytest.mark.parametrize("message", [
    "", "x", "x" * KB32, "x" * (KB32 + 1), "\u00e9" * KB32, "a" + "\U0001F600" * 20000,
])
def test_server_messages_are_cut_into_frames_of_32_kb_on_character_boundaries(message):
    pieces = gateway.fragments(message, KB32)
    assert "".join(pieces) == message
    assert all(len(piece.encode()) <= KB32 for piece in pieces)
    # As few as the size allows (a character never split may cost one more), none empty but the only one.
    fewest = -(-len(message.encode()) // KB32)
    assert fewest <= len(pieces) <= fewest + 1 and (all(pieces) or pieces == [""])


def test_binary_messages_are_cut_too():
    assert gateway.fragments(b"y" * (KB32 + 5), KB32) == [b"y" * KB32, b"y" * 5]


def test_the_413_answer_reads_as_api_gateways():
    answer = gateway._too_large(131073, KB128)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"x-amzn-ErrorType: PayloadTooLargeException" in head
    assert int(gateway._headers(head + b"\r\n\r\n")["content-length"]) == len(body)
