"""The lean DynamoDB client against a stand-in server: wire format, signing, errors, retries."""

import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from handler.lean_dynamodb import LeanDynamoDBClient
from handler.transport import Transport


class StandIn:
    def __init__(self, answers):
        outer = self
        self.answers = list(answers)  # (status, body dict, crc override)
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), json.loads(body)))
                status, answer, crc = outer.answers.pop(0)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-amz-crc32", str(crc if crc is not None else zlib.crc32(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.client = LeanDynamoDBClient(Transport("us-east-1"), f"http://127.0.0.1:{self.httpd.server_address[1]}")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def standin(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    made = []

    def make(*answers):
        server = StandIn(answers)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def test_a_call_is_the_json_protocol_signed_for_dynamodb(standin):
    server = standin((200, {"Item": {"connectionId": {"S": "c1"}}}, None))
    response = server.client.get_item(TableName="t", Key={"connectionId": {"S": "c1"}})
    assert response == {"Item": {"connectionId": {"S": "c1"}}}
    headers, body = server.requests[0]
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert "/us-east-1/dynamodb/aws4_request" in headers["Authorization"]
    assert body == {"TableName": "t", "Key": {"connectionId": {"S": "c1"}}}


def test_errors_become_client_errors_with_their_code(standin):
    server = standin((400, {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                            "message": "The conditional request failed"}, None))
    with pytest.raises(ClientError) as raised:
        server.client.put_item(TableName="t", Item={})
    assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert len(server.requests) == 1  # not retried


def test_a_failed_condition_carries_the_item_it_saw_as_boto3_does(standin):
    server = standin((400, {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                            "message": "The conditional request failed", "Item": {"tat": {"N": "5"}}}, None))
    with pytest.raises(ClientError) as raised:
        server.client.update_item(TableName="t", Key={}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert raised.value.response["Item"] == {"tat": {"N": "5"}}


def test_a_cancelled_transaction_carries_its_reasons(standin):
    reasons = [{"Code": "ConditionalCheckFailed", "Item": {"id": {"S": "m1"}}}, {"Code": "None"}]
    server = standin((400, {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                            "Message": "Transaction cancelled", "CancellationReasons": reasons}, None))
    with pytest.raises(ClientError) as raised:
        server.client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {}}}] * 2)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert raised.value.response["CancellationReasons"] == reasons
    headers, _ = server.requests[0]
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.TransactWriteItems" and len(server.requests) == 1


def test_throttling_is_retried_once(standin):
    server = standin(
        (400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"}, None),
        (200, {"Items": [], "Count": 0}, None),
    )
    assert server.client.query(TableName="t")["Count"] == 0
    assert len(server.requests) == 2


def test_a_damaged_response_is_asked_again(standin):
    server = standin((200, {"Item": {}}, 12345), (200, {"Item": {"a": {"S": "b"}}}, None))
    assert server.client.get_item(TableName="t", Key={})["Item"] == {"a": {"S": "b"}}


def test_no_server_is_an_endpoint_connection_error():
    client = LeanDynamoDBClient(Transport("us-east-1"), "http://127.0.0.1:9")
    with pytest.raises(EndpointConnectionError):
        client.get_item(TableName="t", Key={})
