"""Messaging (handler/chat/messaging.py) driven directly: sendmessage stored then delivered, its budget
across tabs, repeats of a client message id, replies' quotes, history pages and fanout's batch."""

import pytest

from handler import app, protocol
from handler.chat import messaging as messaging_module
from handler.chat.message_frames import message_frame
from handler.errors import SessionExpired, StorageUnavailable
from handler.protocol import ErrorCode, HistoryQuery, ProtocolError, SessionEnd
from handler.store.connections import ConnectionStore, Member
from tests.unit.chat_support import (T0, chat, chat_with, clock, connect, identity, presence, refused,  # noqa: F401
                                     say, sent)
from tests.unit.conftest import connection_store, message_store, session_row


# -- send_message ----------------------------------------------------------------------------------


def test_a_message_is_stored_then_posted_to_everyone_in_the_room(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "b1", "bob", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    api.clear()
    say(chat, clock, "a1", "alice", "hello r1", client_msg_id="m-1")
    (stored,), _ = message_store().recent_messages("r1", 10)
    assert api.frames("a1") == [message_frame(stored)] and api.frames("b1") == [message_frame(stored)]
    assert message_frame(stored)["clientMsgId"] == "m-1" and stored.sender == "alice"
    assert api.frames("c1") == []


def test_a_message_that_cannot_be_stored_is_posted_to_no_one(api, chat, clock, monkeypatch):
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    api.clear()

    def unavailable(**_):
        raise StorageUnavailable("append_message: ProvisionedThroughputExceededException")

    monkeypatch.setattr(app.app().message_store, "append_message", unavailable)
    with pytest.raises(StorageUnavailable):
        say(chat, clock, "a1", "alice", "lost")
    assert api.posts == {}


def test_gone_members_past_the_grace_period_are_dropped_in_one_batch_and_announced(api, chat, clock, monkeypatch):
    for cid, name in (("a1", "alice"), ("b1", "bob"), ("c1", "carol"), ("d1", "dave")):
        connect(chat, clock, cid, name)
    clock.advance(25)
    connect(chat, clock, "e1", "erin")  # connected 5 s before the send: maybe still inside its $connect
    clock.advance(5)
    api.gone.update({"b1", "c1", "e1"})
    api.clear()
    batches = []
    client = app.app().connection_store.connections.client
    original = client.batch_write_item
    monkeypatch.setattr(client, "batch_write_item",
                        lambda **request: batches.append(request) or original(**request))
    say(chat, clock, "a1", "alice", "anyone?")
    assert [sorted(r["DeleteRequest"]["Key"]["connectionId"]["S"] for r in request["RequestItems"][table])
            for request in batches for table in request["RequestItems"]] == [["b1", "c1"]]
    assert connection_store().get_connection("b1") is None and connection_store().get_connection("c1") is None
    assert connection_store().get_connection("e1") is not None
    assert (session_row("b1")["reason"], session_row("c1")["reason"]) == ("gone", "gone")
    assert "disconnectedAt" not in session_row("e1")
    assert api.frames("d1", "presence") == [
        presence("left", "bob", "general", ["alice", "dave", "erin"]),
        presence("left", "carol", "general", ["alice", "dave", "erin"]),
    ]


def test_messages_over_the_burst_wait_for_the_rate(api, chat_with, clock):
    chat = chat_with(WSCHAT_MESSAGE_BURST=3, WSCHAT_MESSAGE_RATE=2)
    connect(chat, clock, "a1", "alice")

    def refused_with():
        with pytest.raises(ProtocolError) as raised:
            say(chat, clock, "a1", "alice", "one too many")
        assert raised.value.code is ErrorCode.RATE_LIMITED
        return raised.value.message

    for i in range(3):
        say(chat, clock, "a1", "alice", f"burst {i}")
    assert refused_with() == "too many messages: wait 0.5 s"
    clock.advance(0.25)
    assert refused_with() == "too many messages: wait 0.5 s"  # a quarter of a second left, shown as half
    clock.advance(0.25)
    say(chat, clock, "a1", "alice", "after half a second")
    assert refused_with()
    clock.advance(60)
    for i in range(3):
        say(chat, clock, "a1", "alice", f"second burst {i}")  # an idle minute refills only up to the burst
    assert refused_with()
    stored = [m.message for m in message_store().recent_messages("general", 20)[0]]
    assert stored == ["burst 0", "burst 1", "burst 2", "after half a second"] + [f"second burst {i}" for i in range(3)]
    assert [f["message"] for f in api.frames("a1", "message")] == stored


def test_a_message_after_the_deadline_ends_the_session_instead(api, chat, clock):
    connect(chat, clock, "a1", "alice", expires_in=30)
    connect(chat, clock, "b1", "bob")
    api.clear()
    clock.advance(30)
    with pytest.raises(SessionExpired):
        say(chat, clock, "a1", "alice", "too late")
    assert api.frames("a1") == [protocol.session_end_frame(SessionEnd.TOKEN_EXPIRED)]
    assert api.frames("b1") == [presence("left", "alice", "general", ["bob"])]
    assert message_store().recent_messages("general", 10) == ([], False)


# -- replyTo ---------------------------------------------------------------------------------------


def test_a_reply_carries_its_quote_and_a_plain_message_reads_nothing_more(api, chat, clock):
    connect(chat, clock, "a1", "alice")
    question = sent(chat, clock, api, "a1", "alice", "when?")
    reads = message_store().reads.total
    plain = sent(chat, clock, api, "a1", "alice", "plain")
    plain_reads = message_store().reads.total - reads
    assert "replyTo" not in plain
    reads = message_store().reads.total
    answer = sent(chat, clock, api, "a1", "alice", "now", reply_to=question["id"])
    assert answer["replyTo"] == {"id": question["id"], "sender": "alice", "excerpt": "when?"}
    assert message_store().reads.total - reads == plain_reads + 1  # the quoted message, and only for a reply
    other = protocol.new_message_id(T0, "abcdef")
    assert refused(lambda: sent(chat, clock, api, "a1", "alice", "x", reply_to=other)).code is ErrorCode.NOT_FOUND


# -- history ---------------------------------------------------------------------------------------


def test_history_pages_the_connections_room(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "c1", "carol", "r2")
    for i in range(5):
        clock.advance(1)
        say(chat, clock, "a1", "alice", f"m{i}")
    say(chat, clock, "c1", "carol", "elsewhere")
    ids = [frame["id"] for frame in api.frames("a1", "message")]

    def history(before=None, after=None, limit=50):
        chat.messaging.history("a1", identity(clock, "alice"), HistoryQuery(before=before, after=after, limit=limit))
        frame = api.last("a1")
        assert (frame["type"], frame["room"]) == ("history", "r1")
        return [m["message"] for m in frame["messages"]], frame["hasMore"]

    assert history(limit=2) == (["m3", "m4"], True)
    assert history(before=ids[2], limit=5) == (["m0", "m1"], False)
    assert history(after=ids[1], limit=2) == (["m2", "m3"], True)
    assert history(after=protocol.message_id_at(T0 + 4000)) == (["m3", "m4"], False)


# -- fanout ----------------------------------------------------------------------------------------


def test_deliver_batch_posts_to_its_members_and_drops_those_gone(api, chat, clock):
    for cid, name in (("m1", "ann"), ("m2", "ben"), ("m3", "cat"), ("x1", "xavier")):
        connect(chat, clock, cid, name, "big")
    clock.advance(60)
    api.gone.add("m2")
    api.clear()
    frame = {"type": "message", "id": "x"}
    batch = [Member("m1", "ann", T0), Member("m2", "ben", T0), Member("m3", "cat", T0)]
    assert chat.messaging.deliver_batch("big", batch, frame) == 1
    assert api.frames("m1", "message") == [frame] and api.frames("m3", "message") == [frame]
    assert api.frames("x1", "message") == []  # another batch's member
    assert connection_store().get_connection("m2") is None and session_row("m2")["reason"] == "gone"
    assert api.frames("x1", "presence") == [presence("left", "ben", "big", ["ann", "cat", "xavier"])]


# -- abuse: floods ---------------------------------------------------------------------------------


def test_one_message_budget_for_all_of_a_users_connections(api, chat_with, clock):
    chat = chat_with(WSCHAT_MESSAGE_BURST=3, WSCHAT_MESSAGE_RATE=1)
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r2")
    for text in ("one", "two", "three"):
        say(chat, clock, "a1", "alice", text)
    with pytest.raises(ProtocolError) as raised:
        say(chat, clock, "a2", "alice", "from the other tab")
    assert (raised.value.code, raised.value.fields) == (ErrorCode.RATE_LIMITED, {"retryAfterMs": 1000})
    connect(chat, clock, "b1", "bob", "r2")
    say(chat, clock, "b1", "bob", "bob has a budget of his own")


@pytest.mark.parametrize("burst, earlier, stored", [
    (1, False, ["from tab 2"]),
    (2, False, ["from tab 2", "from tab 1"]),
    (2, True, ["earlier", "from tab 2"]),
])
def test_two_tabs_spending_the_last_of_a_budget_at_once_cannot_both_take_it(api, chat_with, clock, monkeypatch,
                                                                             burst, earlier, stored):
    # Tab 1 reads the budget; before its write, tab 2 spends the same budget. Tab 1's transaction
    # then fails on the budget, and it reads again: with room for one message only tab 2's is
    # stored (tab 1 is refused), with room for two both are.
    chat = chat_with(WSCHAT_MESSAGE_BURST=burst, WSCHAT_MESSAGE_RATE=0.01)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "a2", "alice")
    if earlier:
        say(chat, clock, "a1", "alice", "earlier")
    read = ConnectionStore.get_connection_and_limit
    raced = []

    def read_then_race(self, connection_id, key):
        found = read(self, connection_id, key)
        if connection_id == "a1" and not raced:
            raced.append(True)
            say(chat, clock, "a2", "alice", "from tab 2")
        return found

    monkeypatch.setattr(ConnectionStore, "get_connection_and_limit", read_then_race)
    if "from tab 1" not in stored:
        with pytest.raises(ProtocolError) as refused:
            say(chat, clock, "a1", "alice", "from tab 1")
        assert refused.value.code is ErrorCode.RATE_LIMITED
    else:
        say(chat, clock, "a1", "alice", "from tab 1")
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == stored


def test_a_budget_that_keeps_moving_under_a_message_ends_in_rate_limited(api, chat_with, clock, monkeypatch):
    # Other tabs spending the budget between every read and write of this one: after
    # SEND_ATTEMPTS reads it gives up with rate_limited, having stored nothing of its own.
    chat = chat_with(WSCHAT_MESSAGE_BURST=100, WSCHAT_MESSAGE_RATE=1)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "a2", "alice")
    read = ConnectionStore.get_connection_and_limit

    def read_then_race(self, connection_id, key):
        found = read(self, connection_id, key)
        if connection_id == "a1":
            say(chat, clock, "a2", "alice", "from tab 2")
        return found

    monkeypatch.setattr(ConnectionStore, "get_connection_and_limit", read_then_race)
    with pytest.raises(ProtocolError) as refused:
        say(chat, clock, "a1", "alice", "from tab 1")
    assert refused.value.code is ErrorCode.RATE_LIMITED and refused.value.fields["retryAfterMs"] == 1000
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == ["from tab 2"] * messaging_module.SEND_ATTEMPTS


def test_repeats_spend_the_message_budget_too(api, chat_with, clock):
    chat = chat_with(WSCHAT_MESSAGE_BURST=3, WSCHAT_MESSAGE_RATE=0.01)
    connect(chat, clock, "a1", "alice")
    say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")
    for _ in range(2):
        assert say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")["message"] == "once"
    with pytest.raises(ProtocolError) as refused:
        say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")
    assert refused.value.code is ErrorCode.RATE_LIMITED


def test_a_stored_message_reaches_its_sender_even_if_the_room_cannot_be_read(api, chat, clock, monkeypatch):
    # After the write an error would make the client send the text again, as a new message.
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")

    def unreadable(self, room):
        raise StorageUnavailable("room_members: throttled")

    monkeypatch.setattr(ConnectionStore, "room_members", unreadable)
    frame = say(chat, clock, "a1", "alice", "stored")
    assert frame["message"] == "stored" and api.frames("b1", "message") == []
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == ["stored"]


def test_a_refused_message_reads_its_row_and_budget_and_writes_and_sends_nothing(api, chat_with, clock):
    chat = chat_with(WSCHAT_MESSAGE_BURST=1, WSCHAT_MESSAGE_RATE=0.1)
    connect(chat, clock, "a1", "alice")
    connect(chat, clock, "b1", "bob")
    say(chat, clock, "a1", "alice", "allowed")
    api.clear()
    budget = chat.messaging.budgets.limits.get("test", chat.messaging.budgets.key("message", "alice"), consistent=True)
    reads = app.app().reads.total
    with pytest.raises(ProtocolError) as refused:
        say(chat, clock, "a1", "alice", "refused")
    assert refused.value.code is ErrorCode.RATE_LIMITED and refused.value.fields["retryAfterMs"] == 10_000
    assert app.app().reads.total == reads + 2 and api.posts == {}
    assert chat.messaging.budgets.limits.get("test", chat.messaging.budgets.key("message", "alice"), consistent=True) == budget
    assert [m.message for m in message_store().recent_messages("general", 10)[0]] == ["allowed"]


# -- abuse: repeated sends -------------------------------------------------------------------------


def test_a_repeated_client_msg_id_answers_only_its_sender_with_the_original(api, chat, clock):
    connect(chat, clock, "a1", "alice", "r1")
    connect(chat, clock, "a2", "alice", "r2")
    connect(chat, clock, "b1", "bob", "r1")
    say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")
    (original,) = api.frames("b1", "message")
    clock.advance(30)
    say(chat, clock, "a1", "alice", "once", client_msg_id="c-1")
    say(chat, clock, "a2", "alice", "once, from another room", client_msg_id="c-1")
    assert api.frames("a1", "message") == [original, original] and api.frames("a2", "message") == [original]
    assert api.frames("b1", "message") == [original]
    assert [m.id for m in message_store().recent_messages("r1", 10)[0]] == [original["id"]]
    assert message_store().recent_messages("r2", 10)[0] == []
    clock.advance(600)
    say(chat, clock, "a1", "alice", "once more, ten minutes later", client_msg_id="c-1")
    assert len(api.frames("b1", "message")) == 2
