"""handler/protocol/wire.py: parsing a raw frame, encoding one, errors and timestamps."""

import json

import pytest

from handler import protocol
from handler.protocol import ErrorCode, ProtocolError


@pytest.mark.parametrize("body, code", [
    (None, ErrorCode.BAD_REQUEST),
    ("", ErrorCode.BAD_REQUEST),
    ("not json", ErrorCode.BAD_REQUEST),
    ("[1,2]", ErrorCode.BAD_REQUEST),
    ('"sendmessage"', ErrorCode.BAD_REQUEST),
    ("{}", ErrorCode.BAD_REQUEST),
    ('{"action": 5}', ErrorCode.BAD_REQUEST),
    ('{"action": ""}', ErrorCode.BAD_REQUEST),
    ("x" * (protocol.FRAME_MAX_BYTES + 1), ErrorCode.TOO_LARGE),
    ("[" * 100000 + "]" * 100000, ErrorCode.TOO_LARGE),
])
def test_malformed_frames_are_refused_with_a_code(body, code, code_of):
    assert code_of(protocol.parse_request, body) == code


@pytest.mark.parametrize("depth", [9, 5000])
def test_deeply_nested_json_within_the_size_limit_is_a_bad_request_not_a_crash(depth, code_of):
    body = '{"action":"sendmessage","a":' + "[" * depth + "]" * depth + "}"
    assert len(body) < protocol.FRAME_MAX_BYTES
    assert code_of(protocol.parse_request, body) == ErrorCode.BAD_REQUEST


def test_shallow_nesting_is_fine():
    assert protocol.parse_request('{"action":"join","x":[[1]]}').action == "join"


def test_unknown_action_is_named_in_the_error():
    request = protocol.parse_request('{"action":"dance"}')
    with pytest.raises(ProtocolError) as raised:
        protocol.known_action(request.action)
    assert raised.value.code == ErrorCode.UNKNOWN_ACTION
    assert "dance" in raised.value.message


def test_iso_utc():
    assert protocol.iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert protocol.iso_utc(1795629600123) == "2026-11-25T18:00:00.123Z"


def test_encode_keeps_text_as_text():
    frame = protocol.message_frame(id="1", room="r", sender="a", message="<b>ü</b>", sent_at="t", client_msg_id=None)
    assert json.loads(protocol.encode(frame))["message"] == "<b>ü</b>"
    assert "ü".encode() in protocol.encode(frame)


def test_encode_sends_a_stored_lone_surrogate_as_a_replacement_character():
    frame = protocol.history_frame(room="r", has_more=False, messages=[protocol.message_frame(
        id="1", room="r", sender="a", message="before \ud800 after", sent_at="t", client_msg_id="c\udfff")])
    decoded = json.loads(protocol.encode(frame).decode("utf-8"))
    assert decoded["messages"][0]["message"] == "before \ufffd after"
    assert decoded["messages"][0]["clientMsgId"] == "c\ufffd"


def test_an_error_carries_extra_fields():
    error = ProtocolError(ErrorCode.RATE_LIMITED, "wait", retryAfterMs=250)
    assert (error.code, error.message, error.fields) == (ErrorCode.RATE_LIMITED, "wait", {"retryAfterMs": 250})
    assert ProtocolError(ErrorCode.BAD_REQUEST, "no").fields == {}
