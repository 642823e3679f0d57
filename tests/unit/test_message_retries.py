"""A message whose write was applied but whose answer was lost (a connection reset after the
request was sent, a 500 for a write that happened) is retried by the transport below the store
(handler/transport.py retries once; botocore does too). The retry must not meet the message's
own claim and be taken for a repeat: the room would never get the message."""

import json

import pytest
from botocore.exceptions import ClientError

from handler import messages
from tests.unit.conftest import install_app, through_gateway, ws_event
from tests.unit.store_support import T0, Wrapped, chat_stores


class LostAnswer:
    """The moto client behind a network that loses the first answer of each write named in
    `operations`; what the caller gets is the answer to the transport's retry, as DynamoDB would
    give it. DynamoDB's ClientRequestToken rule is played here (moto ignores the token): a copy of
    a transaction with a token already carried out, and the same request, answers the first
    one's success without running again. `honour_tokens=False` is a DynamoDB that ignores it."""

    def __init__(self, client, operations=("transact_write_items",), honour_tokens=True):
        self.client = client
        self.operations = operations
        self.honour_tokens = honour_tokens
        self.done: dict[str, str] = {}  # token -> the request it carried out
        self.lost = 0

    def wrapped(self):
        return Wrapped(self.client, **{name: self._lossy(name) for name in self.operations})

    def _lossy(self, name):
        real = getattr(self.client, name)

        def call(**request):
            first = self._once(real, request)
            self.lost += 1  # the answer never came back: the transport sends the request again
            return self._once(real, request) if first is not None else first

        return call

    def _once(self, real, request):
        token = request.get("ClientRequestToken")
        body = json.dumps(request, sort_keys=True)
        if self.honour_tokens and token in self.done:
            assert self.done[token] == body, "IdempotentParameterMismatchException"
            return {}
        response = real(**request)
        if token:
            self.done[token] = body
        return response


@pytest.fixture
def room(api, dynamodb):
    """alice and bob in one room, the store reached through a network that loses answers."""
    network = LostAnswer(dynamodb)
    install_app(dynamodb=network.wrapped(), transport=api)
    from handler import connect

    for connection_id, user in (("c-alice", "alice"), ("c-bob", "bob")):
        assert connect.handler(ws_event("$connect", connection_id=connection_id, username=user))["statusCode"] == 200
    api.clear()
    return network


def send(text, client_msg_id=None):
    body = {"action": "sendmessage", "message": text, **({"clientMsgId": client_msg_id} if client_msg_id else {})}
    return through_gateway(messages.send_message, ws_event("sendmessage", body, connection_id="c-alice"))


@pytest.mark.parametrize("client_msg_id", ["m-1", None])
def test_a_message_whose_answer_was_lost_reaches_the_room_once(api, room, client_msg_id):
    send("hello", client_msg_id)
    assert room.lost == 1  # the write's first answer was lost, and its copy sent again
    (mine,) = api.frames("c-alice", "message")
    assert mine["message"] == "hello" and "repeated" not in json.dumps(mine)
    (theirs,) = api.frames("c-bob", "message")  # the room got it
    assert theirs["id"] == mine["id"]
    send("hello", client_msg_id)  # the client's own resend is still a repeat, or a new message without an id
    assert len(api.frames("c-bob", "message")) == (1 if client_msg_id else 2)


def test_a_store_whose_database_ignores_the_token_still_knows_its_own_write(dynamodb):
    # DynamoDB Local, or a retry after the token's 10 minutes: the claim names this attempt's id.
    network = LostAnswer(dynamodb, honour_tokens=False)
    stores = chat_stores(network.wrapped())
    stored, new = stores.messages.append_message_once(room="general", sender="alice", message="hi",
                                                      client_msg_id="m-1", sent_at_ms=T0, window_seconds=600)
    assert new is True and network.lost == 1
    assert stores.messages.recent_messages("general", 10)[0] == [stored]


def test_a_plain_put_met_by_its_own_retry_is_stored_once(dynamodb):
    network = LostAnswer(dynamodb, operations=("put_item",))
    stores = chat_stores(network.wrapped())
    stored = stores.messages.append_message(room="general", sender="alice", message="hi", client_msg_id=None,
                                            sent_at_ms=T0)
    assert network.lost == 1
    assert stores.messages.recent_messages("general", 10)[0] == [stored]


def test_a_retry_that_meets_the_first_copy_still_running_is_asked_again(dynamodb, monkeypatch):
    from handler.store import dynamo

    monkeypatch.setattr(dynamo, "IN_PROGRESS_PAUSE_SECONDS", 0)
    tokens = []

    def transact_write_items(**request):
        tokens.append(request["ClientRequestToken"])
        if len(tokens) == 1:
            raise ClientError({"Error": {"Code": "TransactionInProgressException", "Message": "in progress"}},
                              "TransactWriteItems")
        return dynamodb.transact_write_items(**request)

    stores = chat_stores(Wrapped(dynamodb, transact_write_items=transact_write_items))
    stored, new = stores.messages.append_message_once(room="general", sender="alice", message="hi",
                                                      client_msg_id="m-1", sent_at_ms=T0, window_seconds=600)
    assert new is True and len(tokens) == 2 and tokens[0] == tokens[1] and 1 <= len(tokens[0]) <= 36
