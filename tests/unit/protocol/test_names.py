"""handler/protocol/names.py: room names, usernames and message ids."""

from handler import protocol
from handler.protocol import ErrorCode


def test_a_room_name_cannot_hold_a_surrogate(code_of):
    assert code_of(protocol.parse_join, protocol.Request("join", {"room": "a\ud800"})) == ErrorCode.INVALID_ROOM


def test_message_ids_sort_in_time_order():
    ids = [protocol.new_message_id(ms, "ffffff") for ms in (9, 10, 100, 2)] + [protocol.new_message_id(10, "000001")]
    assert sorted(ids) == [protocol.new_message_id(2, "ffffff"), protocol.new_message_id(9, "ffffff"),
                           protocol.new_message_id(10, "000001"), protocol.new_message_id(10, "ffffff"),
                           protocol.new_message_id(100, "ffffff")]
    assert all(protocol.is_message_id(i) for i in ids)
    # A cursor for a moment sorts before every message of that moment.
    assert protocol.message_id_at(10) < protocol.new_message_id(10, "000001")
    assert protocol.is_message_id(protocol.message_id_at(1795629600123))


def test_usernames():
    assert protocol.is_valid_username("alice.b-c_1")
    for bad in ("al", "x" * 33, "al ice", "alice;drop", "ålice", None, 5):
        assert not protocol.is_valid_username(bad)
