"""Metrics in CloudWatch's embedded metric format (handler/log.py) on each invocation's summary
line, through the real entry points: the shape CloudWatch Logs accepts (namespace, dimensions
present on the line as strings, units, values), and what each route counts; failures that are
handled are never an "ok" line, and a background function reports them to Lambda."""

import json

import pytest

from handler import app, connect, fanout as fanout_function, log, messages, sweep as sweep_function
from handler.entry import BackgroundFailed, background
from handler.errors import StorageUnavailable
from handler.transport import Response
from tests.emf import metrics_of
from tests.unit.conftest import ENDPOINT, load_event, reinstall_app, ws_event

def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def summary(capsys, route: str, found: list[dict] | None = None) -> dict:
    """The invocation's summary line (of `found`, or of what was printed since the last look)."""
    (line,) = [line for line in (found or lines(capsys)) if line.get("route") == route and "latencyMs" in line]
    return line


def join(connection_id, username, room="general"):
    assert connect.handler(ws_event("$connect", connection_id=connection_id, username=username, room=room)) == {
        "statusCode": 200}


def send(connection_id, username, text):
    event = ws_event("sendmessage", {"action": "sendmessage", "message": text}, connection_id=connection_id,
                     username=username)
    return messages.send_message(event)


def test_a_message_sent_counts_stored_deliveries_and_the_time_to_the_last_member(api, capsys):
    for i in range(3):
        join(f"c{i}", f"user{i}")
    capsys.readouterr()
    assert send("c0", "user0", "hello")["statusCode"] == 200
    line = summary(capsys, "sendmessage")
    assert line["message"] == "ok" and line["stage"] == "test"
    extracted = metrics_of(line)
    function = (("function", line["function"]),)
    assert extracted[("MessagesStored", function)] == 1 and extracted[("MessagesStored", (("stage", "test"),))] == 1
    assert extracted[("Deliveries", function)] == 2
    assert 0 <= extracted[("FanoutTime", function)] < 5000
    units = {m["Name"]: m["Unit"] for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert units["FanoutTime"] == "Milliseconds" and units["Deliveries"] == "Count"


class Throttling:
    """API Gateway's @connections answering 429 to every post (its account throttle), after the
    transport's one retry; the asker's own copy is the route's response, not a post."""

    def __init__(self, api):
        self.api = api

    def request(self, service, method, url, body=b"", headers=None, retryable=None):
        return Response(429) if method == "POST" else self.api.request(service, method, url, body, headers)

    def request_many(self, service, method, urls, body, headers, deadline):
        return [self.request(service, method, url, body, headers) for url in urls]


def test_a_message_nobody_received_is_never_an_ok_line(api, capsys):
    for i in range(3):
        join(f"c{i}", f"user{i}")
    app.app().sender(ENDPOINT).transport = Throttling(api)
    capsys.readouterr()
    answer = send("c0", "user0", "into the void")
    assert json.loads(answer["body"])["type"] == "message"  # stored: the sender gets its copy
    found = lines(capsys)
    warning = next(line for line in found if line["message"] == "broadcast failed for some members")
    assert (warning["members"], warning["delivered"], warning["failed"], warning["throttled"]) == (2, 0, 2, 2)
    line = summary(capsys, "sendmessage", found)
    assert (line["message"], line["level"]) == ("delivery failed", "WARNING")
    extracted = metrics_of(line)
    function = (("function", line["function"]),)
    assert extracted[("PostsFailed", function)] == 2 and extracted[("PostsThrottled", function)] == 2
    assert extracted[("MessagesStored", function)] == 1 and ("Deliveries", function) not in extracted


def test_a_refusal_is_counted_by_its_code(api, capsys):
    join("c0", "alice")
    capsys.readouterr()
    event = ws_event("sendmessage", {"action": "sendmessage", "message": "x" * 5000}, connection_id="c0")
    messages.send_message(event)
    line = summary(capsys, "sendmessage")
    assert line["message"] == "refused" and line["code"] == "too_large"
    extracted = metrics_of(line)
    assert extracted[("Refusals", (("function", line["function"]), ("code", "too_large")))] == 1
    assert extracted[("Refusals", (("stage", "test"), ("code", "too_large")))] == 1
    assert extracted[("Refusals", (("stage", "test"),))] == 1  # the stage's total, whatever the code


def test_storage_unavailable_and_authorizer_denials_are_counted(api, capsys, monkeypatch):
    from authorizer import handler as authorizer

    event = load_event("authorizer")
    event["queryStringParameters"] = {"token": "Bearer not-a-token"}
    assert authorizer.handler(event, None)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    line = summary(capsys, "$connect/authorizer")
    assert metrics_of(line)[("AuthorizerDenials", (("stage", "test"),))] == 1

    def down(*args, **kwargs):
        raise StorageUnavailable("get_connection_and_limit: ThrottlingException")

    join("c0", "alice")
    monkeypatch.setattr(app.app().connection_store, "get_connection_and_limit", down)
    capsys.readouterr()
    send("c0", "alice", "hello")
    line = summary(capsys, "sendmessage")
    assert line["message"] == "storage unavailable"
    assert metrics_of(line)[("StorageUnavailable", (("stage", "test"),))] == 1


def test_a_line_without_metrics_has_no_emf_block(capsys):
    background("sweep", lambda event: {"closed": 0}, fallback={"closed": 0})({})
    (line,) = lines(capsys)
    assert "_aws" not in line and line["message"] == "ok"


def test_a_dimension_whose_value_is_not_on_the_line_is_left_out():
    emf = log.emf({"Refusals": [1, "Count", "code"]}, {"function": "f", "stage": "s"}, 1_800_000_000_000)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function"], ["stage"]]


# -- background functions report their failures to Lambda -------------------------------------


def test_a_fanout_batch_that_some_members_did_not_get_fails_the_invocation(api, capsys):
    join("c0", "alice", room="big")
    join("c1", "bob", room="big")
    api.broken.add("c1")
    event = {"endpoint": ENDPOINT, "room": "big", "frame": {"type": "message", "id": "x"},
             "members": [["c0", "alice", 0], ["c1", "bob", 0]]}
    capsys.readouterr()
    with pytest.raises(BackgroundFailed, match="fanout: delivery failed"):
        fanout_function.handler(event)
    line = summary(capsys, "fanout")
    assert (line["message"], line["level"]) == ("delivery failed", "WARNING")
    function = (("function", line["function"]),)
    assert metrics_of(line)[("PostsFailed", function)] == 1 and metrics_of(line)[("Deliveries", function)] == 1


def test_a_sweep_that_cannot_reach_the_store_fails_the_invocation(api, monkeypatch, capsys):
    def down(*args, **kwargs):
        raise StorageUnavailable("due: ThrottlingException")

    monkeypatch.setattr(app.app().chat().housekeeping.follow_ups, "due", down)
    with pytest.raises(BackgroundFailed, match="sweep: storage unavailable"):
        sweep_function.handler({})
    assert summary(capsys, "sweep")["message"] == "storage unavailable"


def test_on_the_local_stage_a_failed_background_invocation_returns_instead(api, monkeypatch):
    # Under serverless-offline an escaped exception would hang the function's process.
    monkeypatch.setenv("WSCHAT_STAGE", "local")
    reinstall_app(transport=api)

    def down(*args, **kwargs):
        raise StorageUnavailable("due: ThrottlingException")

    monkeypatch.setattr(app.app().chat().housekeeping.follow_ups, "due", down)
    assert sweep_function.handler({}) == {"closed": 0, "failed": "storage unavailable"}
    assert fanout_function.handler({"members": "x"}) == {"statusCode": 200, "failed": "internal error"}
