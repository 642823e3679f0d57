"""handler/protocol/messages.py: sendmessage, join and history requests, and the frames that carry
messages, each within the frame budget."""

import pytest

from handler import protocol
from handler.protocol import ErrorCode, ProtocolError


def send(fields):
    return protocol.parse_send_message(protocol.Request("sendmessage", {"action": "sendmessage", **fields}))


def test_message_is_trimmed():
    assert send({"message": "  hi there \n"}).message == "hi there"


@pytest.mark.parametrize("fields, code", [
    ({}, ErrorCode.BAD_REQUEST),
    ({"message": 42}, ErrorCode.BAD_REQUEST),
    ({"message": "   "}, ErrorCode.EMPTY_MESSAGE),
    ({"message": "x" * 2001}, ErrorCode.TOO_LARGE),
    ({"message": "bell\x07"}, ErrorCode.BAD_REQUEST),
    ({"message": "spoof\u202eevil"}, ErrorCode.BAD_REQUEST),
    ({"message": "ok", "clientMsgId": 7}, ErrorCode.BAD_REQUEST),
    ({"message": "ok", "clientMsgId": "x" * 65}, ErrorCode.BAD_REQUEST),
])
def test_bad_messages(fields, code, code_of):
    assert code_of(send, fields) == code


@pytest.mark.parametrize("fields, code, words", [
    ({"message": "a lone \ud800 surrogate"}, ErrorCode.BAD_REQUEST, "message contains an unpaired surrogate"),
    ({"message": "a C1 \x85 control"}, ErrorCode.BAD_REQUEST, "message contains control characters"),
    ({"message": "an isolate \u2067 here"}, ErrorCode.BAD_REQUEST, "message contains bidirectional override"),
    ({"message": "\u200b\u2060\ufeff"}, ErrorCode.EMPTY_MESSAGE, "message is empty once invisible characters"),
    ({"message": " \u3164\u00ad "}, ErrorCode.EMPTY_MESSAGE, "message is empty once invisible characters"),
    ({"message": "ok", "clientMsgId": "id\udc00"}, ErrorCode.BAD_REQUEST, '"clientMsgId" contains an unpaired'),
    ({"message": "ok", "clientMsgId": "id\n2"}, ErrorCode.BAD_REQUEST, '"clientMsgId" contains control'),
    ({"message": "ok", "clientMsgId": "id\u202e"}, ErrorCode.BAD_REQUEST, '"clientMsgId" contains bidirectional'),
    ({"message": "ok", "clientMsgId": "\u200b"}, ErrorCode.BAD_REQUEST, '"clientMsgId" has no visible characters'),
])
def test_text_that_breaks_frames_hides_or_spoofs_is_refused(fields, code, words):
    with pytest.raises(ProtocolError) as raised:
        send(fields)
    assert raised.value.code == code and raised.value.message.startswith(words)


def test_a_lone_surrogate_arriving_as_a_json_escape_is_refused(code_of):
    request = protocol.parse_request('{"action":"sendmessage","message":"x\\ud800"}')
    assert code_of(protocol.parse_send_message, request) == ErrorCode.BAD_REQUEST
    # A pair written as two escapes is one character, and fine.
    pair = protocol.parse_request('{"action":"sendmessage","message":"\\ud83d\\ude00"}')
    assert protocol.parse_send_message(pair).message == "😀"


def test_carriage_returns_become_newlines():
    assert send({"message": "one\r\ntwo\rthree"}).message == "one\ntwo\nthree"


def test_visible_text_keeps_its_invisible_characters():
    assert send({"message": "\u200bhi\u200d"}).message == "\u200bhi\u200d"


def test_message_limits_count_characters_not_bytes():
    assert len(send({"message": "é" * 2000}).message) == 2000
    assert send({"message": "line one\nline two\ttab"}).message == "line one\nline two\ttab"


def test_join_room_validation(code_of):
    assert protocol.parse_join(protocol.Request("join", {})).room is None
    assert protocol.parse_join(protocol.Request("join", {"room": "dev_ops-2"})).room == "dev_ops-2"
    for bad in ("", "a b", "x" * 65, "../etc", 5, "<script>"):
        assert code_of(protocol.parse_join, protocol.Request("join", {"room": bad})) == ErrorCode.INVALID_ROOM


def history(fields):
    return protocol.parse_history(protocol.Request("history", fields))


def test_history_limit_is_capped_and_defaults():
    assert history({}).limit == protocol.HISTORY_DEFAULT_LIMIT
    assert history({"limit": 1000}).limit == protocol.HISTORY_MAX_LIMIT
    after = protocol.new_message_id(1795629600123, "00ab12")
    assert history({"after": after}).after == after


@pytest.mark.parametrize("fields", [
    {"limit": 0}, {"limit": -1}, {"limit": "5"}, {"limit": True}, {"limit": 2.5},
    {"before": "12"}, {"after": "abc"}, {"after": "1795629600123ABCDEF"}, {"after": 1795629600123},
    {"before": protocol.message_id_at(2), "after": protocol.message_id_at(1)},
])
def test_bad_history_queries(fields, code_of):
    assert code_of(history, fields) == ErrorCode.BAD_REQUEST


# -- byte limits and budgets: every frame the server sends fits API Gateway by construction --------

EMOJI = "\U0001F600"  # 4 bytes in UTF-8
# The most JSON a valid message can become: quotes cost 2 bytes each once escaped, emoji 4, and
# the character and byte limits together allow at most this mix (1,999 characters, 3,997 bytes).
WORST_TEXT = '"' * 1333 + EMOJI * 666


def test_messages_are_limited_in_utf8_bytes_as_well_as_characters():
    assert send({"message": EMOJI * 1000}).message == EMOJI * 1000  # 4,000 bytes: at the limit
    assert send({"message": "é" * 2000}).message == "é" * 2000  # 2-byte scripts fit 2,000 characters
    assert send({"message": WORST_TEXT}).message == WORST_TEXT
    for too_big in (EMOJI * 1001, "中" * 1334, "é" * 1999 + EMOJI):
        assert len(too_big) <= protocol.MESSAGE_MAX_CHARS
        with pytest.raises(ProtocolError) as raised:
            send({"message": too_big})
        assert raised.value.code == ErrorCode.TOO_LARGE and "4000 bytes" in raised.value.message


def test_a_lone_surrogate_is_a_bad_request_not_a_crash(code_of):
    body = '{"action":"sendmessage","message":"half \\ud83d a pair"}'
    assert code_of(send, protocol.parse_request(body).fields) == ErrorCode.BAD_REQUEST
    assert code_of(send, {"message": "ok", "clientMsgId": "\udc00"}) == ErrorCode.BAD_REQUEST


def biggest_message(n: int, text: str = WORST_TEXT) -> dict:
    """A message frame as large as the protocol allows: longest room, sender and clientMsgId."""
    return protocol.message_frame(
        id=protocol.new_message_id(1795629600000 + n, f"{n:06x}"), room="r" * 64, sender="s" * 32, message=text,
        sent_at=protocol.iso_utc(1795629600000 + n), client_msg_id=EMOJI * protocol.CLIENT_MSG_ID_MAX_CHARS,
    )


def test_the_largest_message_frame_leaves_room_for_a_useful_page():
    worst = len(protocol.encode(biggest_message(0)))
    assert worst < 6 * 1024
    assert protocol.FRAME_BUDGET_BYTES // worst >= 16  # what the comment on MESSAGE_MAX_BYTES promises
    assert protocol.FRAME_BUDGET_BYTES // len(protocol.encode(biggest_message(0, EMOJI * 1000))) >= 21


@pytest.mark.parametrize("keep", list(protocol.Keep))
def test_a_history_page_is_filled_to_the_budget_from_the_end_it_keeps(keep):
    messages = [biggest_message(n) for n in range(protocol.HISTORY_MAX_LIMIT)]
    frame = protocol.history_frame(room="r", messages=messages, has_more=False, keep=keep)
    size = len(protocol.encode(frame))
    kept = frame["messages"]
    assert size <= protocol.FRAME_BUDGET_BYTES and frame["hasMore"] is True
    assert kept == (messages[-len(kept):] if keep is protocol.Keep.NEWEST else messages[:len(kept)])
    # Full: one more message would not have fitted.
    assert size + 1 + len(protocol.encode(messages[0])) > protocol.FRAME_BUDGET_BYTES


def test_a_page_that_fits_is_sent_whole_and_has_more_comes_from_the_store():
    messages = [biggest_message(n, "hi") for n in range(protocol.HISTORY_MAX_LIMIT)]
    for has_more in (True, False):
        frame = protocol.history_frame(room="r", messages=messages, has_more=has_more)
        assert frame["messages"] == messages and frame["hasMore"] is has_more
    assert protocol.history_frame(room="r", messages=[], has_more=False) == {
        "type": "history", "room": "r", "messages": [], "hasMore": False}


def page_through(messages: list[dict], keep: "protocol.Keep") -> list[list[dict]]:
    """Pages as a client reads them: a store answering `limit` items from a cursor, the frame
    cutting them to the budget, the next cursor taken from the page's end."""
    pages, cursor = [], None
    while True:
        if keep is protocol.Keep.NEWEST:
            older = [m for m in messages if cursor is None or m["id"] < cursor]
            batch, store_more = older[-protocol.HISTORY_MAX_LIMIT:], len(older) > protocol.HISTORY_MAX_LIMIT
        else:
            newer = [m for m in messages if cursor is None or m["id"] > cursor]
            batch, store_more = newer[:protocol.HISTORY_MAX_LIMIT], len(newer) > protocol.HISTORY_MAX_LIMIT
        frame = protocol.history_frame(room="r", messages=batch, has_more=store_more, keep=keep)
        assert len(protocol.encode(frame)) <= protocol.FRAME_BUDGET_BYTES and frame["messages"]
        pages.append(frame["messages"])
        if not frame["hasMore"]:
            return pages
        cursor = frame["messages"][0 if keep is protocol.Keep.NEWEST else -1]["id"]


@pytest.mark.parametrize("keep", list(protocol.Keep))
def test_paging_on_from_a_cut_page_misses_nothing(keep):
    texts = [WORST_TEXT, EMOJI * 1000, "short", "é" * 2000]
    messages = [biggest_message(n, texts[n % len(texts)]) for n in range(250)]
    pages = page_through(messages, keep)
    if keep is protocol.Keep.NEWEST:
        pages.reverse()
    assert [m for page in pages for m in page] == messages
    assert len(pages) > 250 / protocol.HISTORY_MAX_LIMIT  # the budget, not the limit, cut them


def welcome(online, history, has_more=False, user="me"):
    return protocol.welcome_frame(
        user=user, room="r" * 64, connection_id="c" * 20, connected_at=protocol.iso_utc(0),
        expires_at=protocol.iso_utc(0), session_ends_at=protocol.iso_utc(0), online=online, history=history,
        has_more=has_more,
    )


def test_welcome_fits_the_budget_with_a_full_room_and_the_largest_history():
    names = [f"user-{n:027d}" for n in range(5000)]  # 32 characters each
    history = [biggest_message(n) for n in range(protocol.HISTORY_ON_JOIN)]
    frame = welcome(names + ["me"], history)
    assert len(protocol.encode(frame)) <= protocol.FRAME_BUDGET_BYTES
    assert frame["hasMore"] is True and frame["history"] == history[-len(frame["history"]):]
    assert len(frame["online"]) == protocol.ONLINE_MAX_NAMES and frame["onlineCount"] == 5001
    assert "me" in frame["online"] and frame["online"] == sorted(frame["online"])


def test_welcome_with_room_to_spare_holds_everything():
    frame = welcome(["b", "a", "me"], [biggest_message(1, "hi")])
    assert frame["online"] == ["a", "b", "me"] and frame["onlineCount"] == 3
    assert frame["hasMore"] is False and len(frame["history"]) == 1
    assert welcome(["me"], [], has_more=True)["hasMore"] is True


def test_presence_lists_are_capped_with_the_whole_count():
    names = [f"u{n:04d}" for n in range(250)]
    joined = protocol.presence_frame(event="joined", user="u0249", room="r", online=names)
    assert len(joined["online"]) == protocol.ONLINE_MAX_NAMES and "u0249" in joined["online"]
    assert joined["onlineCount"] == 250
    left = protocol.presence_frame(event="left", user="gone", room="r", online=names[:3])
    assert left["online"] == names[:3] and left["onlineCount"] == 3
