"""The IAM harness (local_iam/, stackfiles/grants.py): calls mapped to what IAM checks, refused as AWS
refuses them, and every function's scenarios (tests/iam_scenarios/) run within its role."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import local_iam as iam
from handler import connect
from handler.app import App
from handler.settings import ConfigError, Settings
from local_iam import enforcer
from stackfiles import grants as stack_iam
from stackfiles.cloudformation import Template, UnsupportedPolicy, Where
from tests import iam_harness, iam_scenarios
from tests.unit.conftest import IAM_WHERE, STAGE, FakeManagementApi, install_app, ws_event

ARN = "arn:aws:%s:us-east-1:123456789012:"
TABLE = ARN % "dynamodb" + "table/wschat-test-ActiveConnections"


def policy(grants: dict, **kwargs) -> iam.Policy:
    return iam.Policy(grants, account="123456789012", websocket_api="abc123", stage="test",
                      deployed_names={f: f"wschat-test-{f}" for f in grants}, roles={f: f"{f.title()}Role" for f in grants},
                      **kwargs)


def stack_policy() -> iam.Policy:
    return iam.Policy.from_document(stack_iam.policy_document(STAGE, IAM_WHERE))


# -- every function, within its role ---------------------------------------------------------------


def test_every_function_has_scenarios():
    assert set(iam_scenarios.SCENARIOS) == set(iam_harness.ENTRY_POINTS)


@pytest.mark.parametrize("function", sorted(iam_harness.ENTRY_POINTS))
def test_each_functions_scenarios_run_within_its_role(function):
    recorder = iam_scenarios.run(STAGE, stack_policy(), enforce=True, functions=[function])
    own = {call for call in recorder.calls if call.function == function}
    if function in iam_scenarios.CALLS_NOTHING:
        assert not own, f"{function}: it was to make no AWS call"
    else:
        assert own, f"{function}: its scenarios made no AWS call"
    assert recorder.denied() == []


def test_entry_points_run_as_their_function():
    for function, handler_path in iam_harness.ENTRY_POINTS.items():
        module, attribute = iam_harness.entry_point(handler_path)
        assert getattr(module, attribute).iam_function == function


# -- refused as AWS refuses --------------------------------------------------------------------------


def test_a_call_the_role_does_not_grant_fails_as_on_aws(api, monkeypatch, tmp_path, iam_calls):
    document = stack_iam.policy_document(STAGE, IAM_WHERE)
    document["functions"]["connect"] = [g for g in document["functions"]["connect"]
                                        if g != ["dynamodb:PutItem", TABLE]]
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    monkeypatch.setenv("WSCHAT_IAM_POLICY_FILE", str(path))
    install_app()
    response = connect.handler(ws_event("$connect", connection_id="c1"))
    assert response["statusCode"] == 503  # the store's AccessDeniedException, as on AWS
    assert [(c.function, c.action, c.resource) for c in iam_calls.denied()] == [
        ("connect", "dynamodb:PutItem", TABLE)]


def test_dynamodb_lambda_and_ssm_answer_access_denied(iam_calls):
    enforcer = iam.Enforcer(policy({"f": []}), region="us-east-1")
    with mock_aws():
        clients = {service: enforcer.client(service, boto3.client(service, region_name="us-east-1"))
                   for service in ("dynamodb", "lambda", "ssm")}
        with iam.acting_as("f"):
            for service, call, status in (
                ("dynamodb", lambda c: c.get_item(TableName="t", Key={"k": {"S": "v"}}), 400),
                ("lambda", lambda c: c.invoke(FunctionName="wschat-test-fanout", InvocationType="Event"), 403),
                ("ssm", lambda c: c.get_parameters(Names=["/wschat/test/jwt-secret"], WithDecryption=True), 400),
            ):
                with pytest.raises(ClientError) as raised:
                    call(clients[service])
                error = raised.value.response
                assert error["Error"]["Code"] == "AccessDeniedException"
                assert error["ResponseMetadata"]["HTTPStatusCode"] == status
                assert error["Error"]["Message"].startswith(
                    "User: arn:aws:sts::123456789012:assumed-role/FRole/wschat-test-f is not authorized to perform: ")


def test_connections_answer_403_and_only_for_the_refused_urls(iam_calls):
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/test"
    grants = {"f": [("execute-api:ManageConnections", ARN % "execute-api" + "abc123/test/POST/@connections/*")]}
    fake = FakeManagementApi()
    transport = iam.Enforcer(policy(grants), region="us-east-1").transport(fake)
    with iam.acting_as("f"):
        assert transport.request("execute-api", "POST", f"{endpoint}/@connections/a", b"{}").status == 200
        refused = transport.request("execute-api", "DELETE", f"{endpoint}/@connections/a")
        assert refused.status == 403 and refused.headers["x-amzn-errortype"] == "AccessDeniedException"
        assert "execute-api:ManageConnections" in json.loads(refused.body)["Message"]
        other_stage = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/@connections/b"
        answers = transport.request_many("execute-api", "POST", [f"{endpoint}/@connections/b", other_stage], b"{}",
                                         None, 1)
    assert [answer.status for answer in answers] == [200, 403]
    assert fake.closed == [] and list(fake.posts) == ["a", "b"]


def test_calls_outside_any_function_are_not_checked():
    enforcer = iam.Enforcer(policy({"f": []}), region="us-east-1")
    url = "https://abc123.execute-api.us-east-1.amazonaws.com/test/@connections/a"
    assert enforcer.transport(FakeManagementApi()).request("execute-api", "DELETE", url).status == 204
    with mock_aws():
        client = enforcer.client("ssm", boto3.client("ssm", region_name="us-east-1"))
        assert client.get_parameters(Names=["/x"])["InvalidParameters"] == ["/x"]


def test_the_process_own_function_applies_outside_an_entry_point():
    # What the local stack does: sls offline names each function's process.
    enforcer = iam.Enforcer(policy({"sweep": []}), region="us-east-1", function="wschat-test-sweep")
    assert enforcer.function() == "sweep"
    with iam.acting_as("login"):
        assert enforcer.function() == "login"
    unknown = iam.Enforcer(policy({"sweep": []}), region="us-east-1", function="someone-else")
    assert unknown.function() == "someone-else" and not unknown.policy.allows("someone-else", "ssm:GetParameters", "*")


def test_a_call_the_harness_cannot_map_is_refused_and_reported(iam_calls):
    enforcer = iam.Enforcer(policy({"f": [("dynamodb:*", "*")]}), region="us-east-1")
    recorder = iam_harness.Recorder()
    with mock_aws(), iam.observe(recorder), iam.acting_as("f"):
        client = enforcer.client("dynamodb", boto3.client("dynamodb", region_name="us-east-1"))
        for call in (lambda: client.execute_statement(Statement="SELECT * FROM t"),
                     lambda: client.get_paginator("query"), lambda: client.list_tables()):
            with pytest.raises(iam.UnknownCall):
                call()
        with pytest.raises(iam.UnknownCall):
            enforcer.transport(FakeManagementApi()).request("sqs", "POST", "https://sqs.us-east-1.amazonaws.com/")
    assert [call.allowed for call in recorder.calls] == [False] * 4


# -- what each call needs --------------------------------------------------------------------------


@pytest.mark.parametrize("operation, request_, expected", [
    ("get_item", {"TableName": "T", "Key": {}}, [("dynamodb:GetItem", ARN % "dynamodb" + "table/T")]),
    ("query", {"TableName": "T", "IndexName": "by-room"}, [("dynamodb:Query", ARN % "dynamodb" + "table/T/index/by-room")]),
    ("query", {"TableName": "T"}, [("dynamodb:Query", ARN % "dynamodb" + "table/T")]),
    ("batch_write_item", {"RequestItems": {"A": [], "B": []}},
     [("dynamodb:BatchWriteItem", ARN % "dynamodb" + "table/A"), ("dynamodb:BatchWriteItem", ARN % "dynamodb" + "table/B")]),
    ("transact_write_items", {"TransactItems": [{"Put": {"TableName": "A"}}, {"ConditionCheck": {"TableName": "B"}},
                                                {"Update": {"TableName": "A"}}, {"Delete": {"TableName": "B"}}]},
     [("dynamodb:PutItem", ARN % "dynamodb" + "table/A"), ("dynamodb:ConditionCheckItem", ARN % "dynamodb" + "table/B"),
      ("dynamodb:UpdateItem", ARN % "dynamodb" + "table/A"), ("dynamodb:DeleteItem", ARN % "dynamodb" + "table/B")]),
])
def test_dynamodb_calls_need_their_operation_on_their_table_or_index(operation, request_, expected):
    assert iam.needs("dynamodb", operation, request_, iam.Arns(policy({}), "us-east-1")) == expected


def test_lambda_ssm_and_connections_resources():
    arns = iam.Arns(policy({}), "us-east-1")
    assert iam.needs("lambda", "invoke", {"FunctionName": "wschat-test-fanout"}, arns) == [
        ("lambda:InvokeFunction", ARN % "lambda" + "function:wschat-test-fanout")]
    assert iam.needs("lambda", "invoke", {"FunctionName": "f", "Qualifier": "live"}, arns) == [
        ("lambda:InvokeFunction", ARN % "lambda" + "function:f:live")]
    assert iam.needs("ssm", "get_parameters", {"Names": ["/wschat/test/jwt-secret", "/wschat/test/jwt-secret-previous"]},
                     arns) == [("ssm:GetParameters", ARN % "ssm" + "parameter/wschat/test/jwt-secret"),
                               ("ssm:GetParameters", ARN % "ssm" + "parameter/wschat/test/jwt-secret-previous")]
    assert iam.needs("ssm", "get_parameter", {"Name": "/a/b"}, arns) == [("ssm:GetParameter", ARN % "ssm" + "parameter/a/b")]
    # API Gateway's URL names its API, region and stage; any other host is the local stand-in for this stage's.
    assert arns.connection("POST", "https://xyz.execute-api.eu-west-1.amazonaws.com/prod/@connections/a%3D") == \
        "arn:aws:execute-api:eu-west-1:123456789012:xyz/prod/POST/@connections/a="
    assert arns.connection("DELETE", "http://127.0.0.1:3004/@connections/b") == \
        ARN % "execute-api" + "abc123/test/DELETE/@connections/b"
    assert arns.connection("POST", "http://127.0.0.1:3004/other") is None


def test_wildcards_match_as_in_iam():
    assert iam.matches("arn:aws:execute-api:*:*:abc/prod/POST/@connections/*", ARN % "execute-api" + "abc/prod/POST/@connections/x/y")
    assert not iam.matches("arn:aws:dynamodb:us-east-1:1:table/T", "arn:aws:dynamodb:us-east-1:1:table/T/index/i")
    assert iam.matches("dynamodb:get?tem", "dynamodb:GetItem", ignore_case=True)
    assert not iam.matches("table/t", "table/T")  # resources are case-sensitive


# -- wiring ------------------------------------------------------------------------------------------


def test_the_app_checks_every_client_when_iam_is_enforced(iam_policy_file):
    settings = Settings.from_env({"WSCHAT_ENFORCE_IAM": "true", "WSCHAT_IAM_POLICY_FILE": str(iam_policy_file),
                                  "WSCHAT_STAGE": STAGE, "AWS_LAMBDA_FUNCTION_NAME": "wschat-test-sweep"})
    assert settings.iam.enforce and settings.iam.function == "wschat-test-sweep"
    instance = App(settings, dynamodb=object(), transport=FakeManagementApi(), lambda_client=object(), ssm_client=object())
    assert instance.enforcer.function() == "sweep"
    assert all(isinstance(client, enforcer._PolicedClient)
               for client in (instance.dynamodb, instance.lambda_client(), instance.ssm_client()))
    assert isinstance(instance.sender("https://abc123.execute-api.us-east-1.amazonaws.com/test").transport,
                      enforcer._PolicedTransport)
    assert App(Settings.from_env({})).enforcer is None  # AWS: IAM itself checks


def test_enforcing_without_a_readable_policy_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="WSCHAT_IAM_POLICY_FILE"):
        Settings.from_env({"WSCHAT_ENFORCE_IAM": "1"})
    broken = App(Settings.from_env({"WSCHAT_ENFORCE_IAM": "1", "WSCHAT_IAM_POLICY_FILE": str(tmp_path / "none.json")}))
    with pytest.raises(ConfigError, match="none.json"):
        broken.enforcer


# -- resolving the stack files -----------------------------------------------------------------------


def test_the_policy_document_names_every_function_its_lambda_and_role():
    document = stack_iam.policy_document("local", Where(region="us-east-1"))
    assert set(document["functions"]) == set(iam_harness.ENTRY_POINTS)
    assert document["deployedNames"]["sweep"] == "wschat-local-sweep" and document["roles"]["guest"] == "SignupRole"
    assert iam.Policy.from_document(document).allows(
        "sweep", "dynamodb:Query", "arn:aws:dynamodb:us-east-1:000000000000:table/wschat-local-ActiveConnections/index/by-deadline")


@pytest.mark.parametrize("statement", [
    {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
])
def test_what_the_resolver_cannot_model_faithfully_is_refused(statement):
    resources = {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": [statement]}}]}}}
    with pytest.raises(UnsupportedPolicy):
        Template(resources, Where(region="us-east-1")).grants("R")


def test_managed_policies_from_outside_the_stack_are_refused():
    resources = {"R": {"Type": "AWS::IAM::Role", "Properties": {
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}}}
    with pytest.raises(UnsupportedPolicy, match="outside the stack"):
        Template(resources, Where(region="us-east-1")).grants("R")
