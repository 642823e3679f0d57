"""The message routes: sendmessage, join, history, heartbeat and $default."""

from __future__ import annotations

from handler import protocol
from tests.iam_scenarios.registry import scenario
from tests.iam_scenarios.world import World, ask, expired_and_gone, message_in


@scenario("sendmessage")
def sendmessage_stores_and_delivers_and_forgets_gone_members(w: World):
    w.start()
    w.connect("snd-1", "snd-ann", room="snd-room")
    w.connect("snd-2", "snd-bob", room="snd-room")
    w.connect("snd-3", "snd-cat", room="snd-room")
    w.later(20)
    w.api.gone.add("snd-3")
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "hi"}, connection_id="snd-1",
                               username="snd-ann"))
    assert w.api.frames("snd-2", "message") and w.app.connection_store.get_connection("snd-3") is None


@scenario("sendmessage")
def sendmessage_hands_a_big_rooms_batches_to_fanout(w: World):
    w.start(WSCHAT_FANOUT_BATCH_SIZE="2")
    w.connect("snd-4", "snd-dan", room="snd-big")
    w.crowd("snd-big", 4)
    before = len(w.lambda_.invocations)
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "hi all"}, connection_id="snd-4",
                               username="snd-dan"))
    assert len(w.lambda_.invocations) > before


@scenario("sendmessage")
def sendmessage_answers_a_repeated_client_msg_id_with_the_original(w: World):
    w.start()
    w.connect("snd-6", "snd-fay", room="snd-once")
    body = {"action": "sendmessage", "message": "only once", "clientMsgId": "c-1"}
    for _ in range(2):
        w.call("sendmessage", w.ws("sendmessage", body, connection_id="snd-6", username="snd-fay"))
    first, repeat = w.api.frames("snd-6", "message")
    assert first["id"] == repeat["id"]


@scenario("sendmessage")
def sendmessage_refused_over_the_rate_and_after_the_session(w: World):
    w.start(WSCHAT_MESSAGE_BURST="1", WSCHAT_MESSAGE_RATE="0.1")
    w.connect("snd-5", "snd-eve", room="snd-limits", session_limit=30)
    for _ in range(2):
        w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "x"}, connection_id="snd-5",
                                   username="snd-eve", session_limit=30))
    assert w.api.frames("snd-5", "error")[-1]["code"] == "rate_limited"
    w.later(60)
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "x"}, connection_id="snd-5",
                               username="snd-eve", session_limit=30))
    assert "snd-5" in w.api.closed


@scenario("join")
def join_moves_to_another_room_with_its_history(w: World):
    w.start()
    w.connect("joi-1", "joi-ann", room="joi-a")
    w.connect("joi-2", "joi-bob", room="joi-b")
    w.call("join", w.ws("join", {"action": "join", "room": "joi-b"}, connection_id="joi-1", username="joi-ann"))
    assert w.api.frames("joi-1", "welcome")[-1]["room"] == "joi-b"


@scenario("join")
def join_after_the_session_or_from_a_gone_connection(w: World):
    expired_and_gone(w, "join", {"action": "join"}, "joi")


@scenario("history")
def history_pages_and_housekeeping(w: World):
    w.start()
    w.connect("his-0", "his-dan", room="his-room")
    mark = protocol.new_message_id(w.now_ms, "000000")
    for body in ({"action": "history"}, {"action": "history", "before": mark}, {"action": "history", "after": mark}):
        w.call("history", w.ws("history", body, connection_id="his-0", username="his-dan"))
    assert len(w.api.frames("his-0", "history")) == 3
    expired_and_gone(w, "history", {"action": "history"}, "his")


def _reply_beyond_the_page(w: World, room: str, between: int) -> str:
    """Set-up: a message, `between` others, then a reply quoting the first, which is then deleted;
    returns the first's id."""
    store, at = w.app.message_store, w.now_ms
    quoted = store.append_message(room=room, sender="q-ann", message="soon deleted", client_msg_id=None,
                                  sent_at_ms=at)
    for i in range(between):
        store.append_message(room=room, sender="q-ann", message=f"filler {i}", client_msg_id=None, sent_at_ms=at + 1 + i)
    store.append_message(room=room, sender="q-bob", message="+1", client_msg_id=None, sent_at_ms=at + between + 1,
                         reply_to=protocol.reply_ref(id=quoted.id, sender="q-ann", message=quoted.message))
    assert store.delete_message(room, quoted.id, by="q-ann", at_ms=at + between + 2)
    w.later(1)
    return quoted.id


@scenario("history")
def history_shows_no_text_of_a_deleted_quoted_message(w: World):
    # The quoted message is not in the page: its state is read (BatchGetItem on MessageHistory).
    w.start()
    w.connect("hiq-1", "hiq-ann", room="hiq-room")
    quoted = _reply_beyond_the_page(w, "hiq-room", 0)
    w.call("history", w.ws("history", {"action": "history", "limit": 1}, connection_id="hiq-1", username="hiq-ann"))
    page = w.api.frames("hiq-1", "history")[-1]["messages"]
    assert page[-1]["replyTo"] == {"id": quoted, "sender": "q-ann", "deleted": True}


@scenario("join")
def join_welcome_shows_no_text_of_a_deleted_quoted_message(w: World):
    w.start()
    w.connect("jiq-1", "jiq-ann", room="jiq-lobby")
    _reply_beyond_the_page(w, "jiq-room", protocol.HISTORY_ON_JOIN)
    w.call("join", w.ws("join", {"action": "join", "room": "jiq-room"}, connection_id="jiq-1", username="jiq-ann"))
    assert w.api.frames("jiq-1", "welcome")[-1]["history"][-1]["replyTo"]["deleted"] is True


@scenario("heartbeat")
def heartbeat_answers_in_its_response_and_calls_nothing(w: World):
    # A two-way route: the answer is the response, so the function needs no grant but its logs.
    w.start()
    w.connect("hbt-1", "hbt-ann", room="hbt-room")
    w.call("heartbeat", w.ws("heartbeat", {"action": "heartbeat"}, connection_id="hbt-1", username="hbt-ann"))
    assert w.api.frames("hbt-1", "heartbeat")[-1]["serverTime"].endswith("Z")


@scenario("default")
def default_answers_an_unknown_action_and_forgets_a_gone_sender(w: World):
    w.start()
    w.connect("dfl-1", "dfl-ann", room="dfl-room")
    w.connect("dfl-2", "dfl-bob", room="dfl-room")
    w.connect("dfl-3", "dfl-cat", room="dfl-room")
    w.call("default", w.ws("$default", {"action": "dance"}, connection_id="dfl-1", username="dfl-ann"))
    assert w.api.frames("dfl-1", "error")[-1]["code"] == "unknown_action"
    w.later(20)
    w.api.gone.update({"dfl-1", "dfl-3"})
    w.call("default", w.ws("$default", {"action": "dance"}, connection_id="dfl-1", username="dfl-ann"))
    assert w.app.connection_store.get_connection("dfl-1") is None


@scenario("join")
def join_refuses_a_private_room_to_a_non_member(w: World):
    w.start()
    w.register_user("jpr-ann", "password-1")
    w.connect("jpr-1", "jpr-ann", room="jpr-lobby")
    ask(w, "rooms", {"action": "createroom", "room": "jpr-priv", "visibility": "private"}, "jpr-1", "jpr-ann")
    w.connect("jpr-2", "jpr-bob", room="jpr-lobby")
    w.call("join", w.ws("join", {"action": "join", "room": "jpr-priv"}, connection_id="jpr-2", username="jpr-bob"))
    assert w.api.frames("jpr-2", "error")[-1]["code"] == "forbidden"


@scenario("sendmessage")
def sendmessage_quotes_the_message_it_replies_to(w: World):
    w.start()
    w.connect("rep-1", "rep-ann", room="rep-room")
    mid = message_in(w, "rep-1", "rep-ann", "the question")
    w.call("sendmessage", w.ws("sendmessage", {"action": "sendmessage", "message": "the answer", "replyTo": mid},
                               connection_id="rep-1", username="rep-ann"))
    assert w.api.frames("rep-1", "message")[-1]["replyTo"]["excerpt"] == "the question"


@scenario("sendmessage")
def sendmessage_records_the_users_it_mentions(w: World):
    w.start()
    w.connect("men-1", "men-ann", room="men-room")
    w.connect("men-2", "men-bob", room="men-room")
    mid = message_in(w, "men-1", "men-ann", "hey @men-bob and @Men-Cat")
    assert w.api.frames("men-2", "message")[-1]["mentions"] == ["men-bob", "Men-Cat"]
    assert w.app.marker_store.marker("men-cat", "men-room").mention_id == mid
    welcome = ask(w, "join", {"action": "join"}, "men-2", "men-bob")
    assert welcome["type"] == "welcome" and welcome["lastRead"] is None
