"""The deployable stack, proven without an AWS account: `sls package --stage prod`, then cfn-lint and
checks on the generated CloudFormation (least privilege, data safety, secrets, logs, outputs)."""

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGE = "prod"

# What each function's role may do, beyond writing its own logs: exactly what its code calls.
# Every function that posts to a room: read its members, post (or hand big rooms to `fanout`),
# and remove the members found gone.
DROP_GONE = {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:UpdateItem",
             "execute-api:ManageConnections", "lambda:InvokeFunction"}
EXPECTED_ACTIONS = {
    "authorizer": {"ssm:GetParameter", "dynamodb:GetItem"},
    "register": {"ssm:GetParameter", "dynamodb:PutItem", "dynamodb:UpdateItem"},
    "guest": {"ssm:GetParameter", "dynamodb:PutItem", "dynamodb:UpdateItem"},
    "login": {"ssm:GetParameter", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem",
              "dynamodb:DeleteItem"},
    "logout": DROP_GONE | {"ssm:GetParameter", "dynamodb:PutItem"},
    "connect": DROP_GONE | {"dynamodb:PutItem"},
    "disconnect": DROP_GONE,
    "sendmessage": DROP_GONE | {"dynamodb:GetItem", "dynamodb:PutItem"},
    "join": DROP_GONE | {"dynamodb:GetItem"},
    "history": DROP_GONE | {"dynamodb:GetItem"},
    "heartbeat": DROP_GONE,
    "default": DROP_GONE,
    "fanout": DROP_GONE,
    "sweep": DROP_GONE,
}
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
# The framework's own custom resource that registers API Gateway's account-wide CloudWatch role
# (WebSocket access logs need it). Its role is generated, hence role/*; it is allowed as is, by
# name, and may not grow.
FRAMEWORK_ROLE = "IamRoleCustomResourcesLambdaExecution"
FRAMEWORK_ACTIONS = {"iam:AttachRolePolicy", "iam:CreateRole", "iam:ListAttachedRolePolicies", "iam:PassRole",
                     "apigateway:GET", "apigateway:PATCH"}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1",
               SLS_TELEMETRY_DISABLED="1")
    env.pop("WSCHAT_JWT_SECRET", None)
    result = subprocess.run(
        [str(ROOT / "node_modules/.bin/sls"), "package", "--stage", STAGE, "--package", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def template(packaged):
    return json.loads((packaged / "cloudformation-template-update-stack.json").read_text())


@pytest.fixture(scope="module")
def resources(template):
    return template["Resources"]


def flatten(value) -> str:
    """A resource expression as text (Fn::Sub, Fn::Join, Fn::GetAtt, Ref), to look for wildcards."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(flatten(item) for item in value)
    if isinstance(value, dict):
        (key, inner), = value.items()
        if key == "Fn::Join":
            return inner[0].join(flatten(item) for item in inner[1])
        if key == "Fn::Sub":
            return flatten(inner if isinstance(inner, str) else inner[0])
        if key == "Fn::GetAtt":
            return "${%s.%s}" % tuple(inner)
        if key == "Ref":
            return "${%s}" % inner
    raise AssertionError(f"unexpected expression {value}")


def statements(role: dict):
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_cfn_lint_passes(packaged):
    result = subprocess.run(
        [str(ROOT / ".venv/bin/cfn-lint"), "--ignore-checks", "W3005", "--",
         str(packaged / "cloudformation-template-update-stack.json")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_wildcard_that_is_not_required(resources):
    allowed_resource_wildcards = [
        r"^arn:\$\{AWS::Partition\}:logs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:log-group:/aws/lambda/wschat-prod-[a-z]+:\*$",
        r"^arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{WebsocketsApi\}/prod/(POST|DELETE)/@connections/\*$",
        r"^\$\{ActiveConnectionsTable.Arn\}/index/by-(room|user|deadline)$",
    ]
    roles = {name: r for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    assert "IamRoleLambdaExecution" not in roles, "a shared role for every function is not least privilege"
    for name, role in roles.items():
        for statement in statements(role):
            actions = set(as_list(statement["Action"]))
            if name == FRAMEWORK_ROLE:
                assert actions <= FRAMEWORK_ACTIONS, actions
                continue
            for action in actions:
                assert "*" not in action, f"{name}: wildcard action {action}"
            for resource in as_list(statement["Resource"]):
                text = flatten(resource)
                if "*" in text:
                    assert any(re.match(p, text) for p in allowed_resource_wildcards), f"{name}: wildcard {text}"


def test_each_function_can_do_exactly_what_its_code_does(resources):
    for function, expected in EXPECTED_ACTIONS.items():
        lambda_ = resources[f"{function.capitalize()}LambdaFunction"]
        role_name = lambda_["Properties"]["Role"]["Fn::GetAtt"][0]
        granted = set()
        log_groups = []
        for statement in statements(resources[role_name]):
            assert statement["Effect"] == "Allow"
            actions = set(as_list(statement["Action"]))
            if actions == LOG_ACTIONS:
                log_groups += [flatten(r) for r in as_list(statement["Resource"])]
            else:
                granted |= actions
        assert granted == expected, f"{function}: {sorted(granted ^ expected)}"
        assert any(f"/aws/lambda/wschat-prod-{function}:" in group for group in log_groups), function


def test_users_and_history_are_retained_encrypted_and_recoverable_in_prod(resources):
    for table in ("UsersTable", "MessageHistoryTable", "SessionHistoryTable"):
        resource = resources[table]
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain", table
        assert resource["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    for table in ("UsersTable", "MessageHistoryTable", "SessionHistoryTable", "ActiveConnectionsTable", "LimitsTable"):
        assert resources[table]["Properties"]["SSESpecification"]["SSEEnabled"] is True


def test_the_secret_is_read_from_ssm_not_from_the_environment(resources):
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function" or name.startswith("Custom"):
            continue
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables["WSCHAT_JWT_SECRET"] == "", name
        assert variables["WSCHAT_JWT_SECRET_PARAM"] == "/wschat/prod/jwt-secret"
        assert variables["WSCHAT_DDB_ENDPOINT"] == "" and variables["WSCHAT_MANAGEMENT_ENDPOINT"] == ""


def test_access_logs_leave_out_the_query_string(resources):
    for stage in ("WebsocketsDeploymentStage", "HttpApiStage"):
        log_format = resources[stage]["Properties"]["AccessLogSettings"]["Format"]
        json.loads(log_format)  # one JSON object per line
        assert "requestId" in log_format
        assert "querystring" not in log_format.lower() and "$request" not in log_format
    assert "DefaultRouteSettings" in resources["WebsocketsDeploymentStage"]["Properties"]
    for stage in ("WebsocketsDeploymentStage", "HttpApiStage"):
        throttling = resources[stage]["Properties"]["DefaultRouteSettings"]
        assert throttling["ThrottlingRateLimit"] > 0 and throttling["ThrottlingBurstLimit"] > 0


def test_outputs_name_the_endpoints(template):
    assert set(template["Outputs"]) >= {"WebSocketUrl", "HttpApiUrl"}


def test_function_zip_is_small_and_has_no_boto3(packaged):
    archive = packaged / "wschat.zip"
    assert archive.stat().st_size <= 1_000_000
    names = zipfile.ZipFile(archive).namelist()
    assert "handler/chat.py" in names and "authorizer/tokens.py" in names and any(n.startswith("jwt/") for n in names)
    assert not any(n.startswith(("boto3/", "botocore/", "tests/", "node_modules/", "devstack/")) for n in names)


def test_the_sweep_runs_on_a_schedule(resources):
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert any(rule["Properties"]["ScheduleExpression"] == "rate(1 minute)" for rule in rules)
