"""Monitoring in the packaged stack (infra/monitoring.yml): the prod template has the alarms an
operator expects, each notifying the one topic, a dashboard of them, log retention from the stage;
the alarms cover every function and watch metrics the code really writes."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.stack.conftest import ROOT, SITE_ORIGIN


def package_with(out: Path, stage: str, *params: str) -> dict:
    """A stage packaged with extra `--param`s (the prod stack the other tests read is conftest's)."""
    result = subprocess.run(
        [str(ROOT / "node_modules/.bin/sls"), "package", "--stage", stage, "--package", str(out),
         *[f"--param={param}" for param in params]],
        cwd=ROOT, env={**{k: v for k, v in os.environ.items() if k not in ("WSCHAT_JWT_SECRET", "WSCHAT_ALARM_EMAIL")},
                       "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
                       "SLS_TELEMETRY_DISABLED": "1", "WSCHAT_SITE_ORIGIN": SITE_ORIGIN},
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((out / "cloudformation-template-update-stack.json").read_text())


@pytest.fixture(scope="module")
def prod(template):
    return template


def of_type(resources: dict, kind: str) -> dict:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def functions(resources: dict) -> dict[str, dict]:
    """FunctionName -> the properties of wschat's functions (infra/functions.yml); the framework's
    own custom-resource function, which runs once per deploy, is not wschat's to watch."""
    return {r["Properties"]["FunctionName"]: r["Properties"] for r in of_type(resources, "AWS::Lambda::Function").values()
            if "-custom-resource-" not in r["Properties"]["FunctionName"]}


def watched(alarm: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, directly or in its math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [(props["Namespace"], props["MetricName"], {d["Name"]: d["Value"] for d in props.get("Dimensions", [])})]
    found = []
    for query in props["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            found.append((metric["Namespace"], metric["MetricName"], {d["Name"]: d["Value"] for d in metric["Dimensions"]}))
    return found


def test_prod_has_the_alarms_an_operator_expects(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    seen = {(namespace, metric) for alarm in alarms.values() for namespace, metric, _ in watched(alarm)}
    expected = {
        ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"), ("AWS/Lambda", "Duration"),
        ("wschat", "PostsFailed"), ("wschat", "StorageUnavailable"), ("wschat", "InternalErrors"),
        ("AWS/ApiGateway", "5xx"), ("AWS/ApiGateway", "IntegrationError"), ("AWS/ApiGateway", "ExecutionError"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    assert expected <= seen, expected - seen
    queue = [dims for alarm in alarms.values() for namespace, _, dims in watched(alarm) if namespace == "AWS/SQS"]
    assert queue == [{"QueueName": {"Fn::GetAtt": ["AsyncFailuresQueue", "QueueName"]}}]
    for namespace, metric, dims in (w for alarm in alarms.values() for w in watched(alarm)):
        if namespace == "wschat":
            assert dims == {"stage": "prod"}, metric  # the stack's total (handler/log.py DIMENSIONS)


def test_every_alarm_notifies_the_one_topic(resources):
    (topic,) = of_type(resources, "AWS::SNS::Topic")
    assert resources[topic]["Properties"]["TopicName"] == "wschat-prod-alarms"
    for name, alarm in of_type(resources, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": topic}], name
        assert props["AlarmName"].startswith("wschat-prod-") and props["TreatMissingData"] == "notBreaching"
        assert len([q for q in props.get("Metrics", []) if "MetricStat" in q]) <= 10, name  # CloudWatch's limit


def test_an_alarm_email_is_subscribed_only_when_the_stage_names_one(prod, tmp_path):
    (subscription,) = of_type(prod["Resources"], "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail" and prod["Parameters"]["AlarmEmail"]["Default"] == ""
    dev = package_with(tmp_path, "dev", "alarmEmail=ops@example.com")
    assert dev["Parameters"]["AlarmEmail"]["Default"] == "ops@example.com"


@pytest.mark.parametrize("metric", ["Errors", "Throttles", "Duration"])
def test_the_lambda_alarms_cover_every_function(resources, metric):
    covered = [dims["FunctionName"] for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
               for namespace, name, dims in watched(alarm) if (namespace, name) == ("AWS/Lambda", metric)]
    assert sorted(covered) == sorted(functions(resources))


def test_duration_alarms_measure_each_function_against_its_own_timeout(resources):
    timeouts = {name: props["Timeout"] for name, props in functions(resources).items()}
    assert timeouts["wschat-prod-fanout"] == 15 and timeouts["wschat-prod-sweep"] == 60
    checked = 0
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if not any(m == "Duration" for _, m, _ in watched(alarm)):
            continue
        by_id = {q["Id"]: q["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for q in props["Metrics"] if "MetricStat" in q}
        (expression,) = [q["Expression"] for q in props["Metrics"] if "Expression" in q]
        shares = dict(re.findall(r"(m\d+)/(\d+)", expression))
        assert shares.keys() == by_id.keys() and expression.endswith("/ 1000")
        for query_id, function in by_id.items():
            assert int(shares[query_id]) == timeouts[function], function
            checked += 1
        assert props["Threshold"] == 0.8
    assert checked == len(timeouts)


def test_the_alarms_watch_metrics_the_code_writes(resources):
    code = "".join(path.read_text() for path in (ROOT / "handler").rglob("*.py"))
    written = set(re.findall(r'log\.(?:count|timing)\("(\w+)"', code))
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        for namespace, metric, _ in watched(alarm):
            if namespace == "wschat":
                assert metric in written, metric


def test_the_dashboard_shows_every_alarm_and_the_codes_metrics(resources):
    (dashboard,) = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body, names = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{(\w+)\}", lambda m: f"<{m.group(1)}>", body))["widgets"]
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    shown = {names[ref.strip("<>")]["Fn::GetAtt"][0] for ref in alarm_widget["properties"]["alarms"]}
    assert shown == set(of_type(resources, "AWS::CloudWatch::Alarm"))
    graphed = json.dumps(widgets)
    code = "".join(path.read_text() for path in (ROOT / "handler").rglob("*.py"))
    for metric in set(re.findall(r'log\.(?:count|timing)\("(\w+)"', code)):
        assert f'"{metric}"' in graphed or f'\\"{metric}\\"' in graphed, metric


def test_log_retention_comes_from_the_stage(resources):
    groups = of_type(resources, "AWS::Logs::LogGroup")
    function_groups = [g for g in groups.values() if str(g["Properties"].get("LogGroupName", "")).startswith("/aws/lambda/")]
    assert function_groups and {g["Properties"]["RetentionInDays"] for g in function_groups} == {30}
