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

# The same, down to the resources each action is allowed on (flattened as `flatten` writes them).
CONNECTIONS, SESSIONS, MESSAGES = "${ActiveConnectionsTable.Arn}", "${SessionHistoryTable.Arn}", "${MessageHistoryTable.Arn}"
USERS, LIMITS = "${UsersTable.Arn}", "${LimitsTable.Arn}"
ARN = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:"
CONNECTIONS_API = ARN % "execute-api" + "${WebsocketsApi}/prod/%s/@connections/*"


def on(resource: str, *actions: str) -> set:
    return {(action, resource) for action in actions}


SECRET = on(ARN % "ssm" + "parameter/wschat/prod/jwt-secret", "ssm:GetParameter")
CLOSE = on(CONNECTIONS_API % "DELETE", "execute-api:ManageConnections")
BROADCAST = (on(CONNECTIONS + "/index/by-room", "dynamodb:Query")
             | on(CONNECTIONS_API % "POST", "execute-api:ManageConnections")
             | on(ARN % "lambda" + "function:wschat-prod-fanout", "lambda:InvokeFunction")
             | on(CONNECTIONS, "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
             | on(SESSIONS, "dynamodb:UpdateItem"))
SIGNUP = SECRET | on(USERS, "dynamodb:PutItem") | on(LIMITS, "dynamodb:UpdateItem")
EXPECTED_GRANTS = {
    "authorizer": SECRET | on(LIMITS, "dynamodb:GetItem"),
    "register": SIGNUP,
    "guest": SIGNUP,
    "login": SECRET | on(USERS, "dynamodb:GetItem")
    | on(LIMITS, "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"),
    "logout": BROADCAST | SECRET | CLOSE | on(CONNECTIONS + "/index/by-user", "dynamodb:Query")
    | on(LIMITS, "dynamodb:PutItem"),
    "connect": BROADCAST | on(CONNECTIONS, "dynamodb:PutItem") | on(SESSIONS, "dynamodb:PutItem"),
    "disconnect": BROADCAST,
    "sendmessage": BROADCAST | CLOSE | on(CONNECTIONS, "dynamodb:GetItem", "dynamodb:UpdateItem")
    | on(MESSAGES, "dynamodb:UpdateItem", "dynamodb:PutItem"),
    "join": BROADCAST | CLOSE | on(CONNECTIONS, "dynamodb:GetItem", "dynamodb:UpdateItem")
    | on(MESSAGES, "dynamodb:Query"),
    "history": BROADCAST | CLOSE | on(CONNECTIONS, "dynamodb:GetItem") | on(MESSAGES, "dynamodb:Query"),
    "heartbeat": BROADCAST,
    "default": BROADCAST,
    "fanout": BROADCAST,
    "sweep": BROADCAST | CLOSE | on(CONNECTIONS + "/index/by-deadline", "dynamodb:Query"),
}
# The log groups a function's role may write to: its own (the sign-up pair shares one role).
LOG_GROUP_OWNERS = {"register": ("register", "guest"), "guest": ("register", "guest")}
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


def flatten(value, resources: dict) -> str:
    """A resource expression as text (Fn::Sub, Fn::Join, Fn::GetAtt, Ref), to look for wildcards.

    A log group's Arn attribute is written out as the ARN it stands for, with its `:*`."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(flatten(item, resources) for item in value)
    if isinstance(value, dict):
        (key, inner), = value.items()
        if key == "Fn::Join":
            return inner[0].join(flatten(item, resources) for item in inner[1])
        if key == "Fn::Sub":
            return flatten(inner if isinstance(inner, str) else inner[0], resources)
        if key == "Fn::GetAtt":
            target = resources.get(inner[0], {})
            if target.get("Type") == "AWS::Logs::LogGroup" and inner[1] == "Arn":
                name = flatten(target["Properties"]["LogGroupName"], resources)
                return ARN % "logs" + f"log-group:{name}:*"
            return "${%s.%s}" % tuple(inner)
        if key == "Ref":
            return "${%s}" % inner
    raise AssertionError(f"unexpected expression {value}")


POLICY_TYPES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")


def attached_policies(role_name: str, resources: dict) -> list[str]:
    """The logical ids of the template's policies that apply to a role: its ManagedPolicyArns, and
    any policy that names the role in its own `Roles`. Nothing else may be attached."""
    role = resources[role_name]
    names = []
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        assert isinstance(arn, dict) and set(arn) == {"Ref"}, f"{role_name}: a managed policy from outside the stack: {arn}"
        assert resources[arn["Ref"]]["Type"] == "AWS::IAM::ManagedPolicy", arn
        names.append(arn["Ref"])
    for name, resource in resources.items():
        if resource["Type"] in POLICY_TYPES and {"Ref": role_name} in resource["Properties"].get("Roles", []):
            names.append(name)
    return names


def statements(role_name: str, resources: dict):
    """Every statement that applies to the role: its inline policies and its attached ones."""
    role = resources[role_name]
    assert not role["Properties"].get("PermissionsBoundary"), role_name
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]
    for name in attached_policies(role_name, resources):
        yield from resources[name]["Properties"]["PolicyDocument"]["Statement"]


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
    assert not any(r["Type"] in ("AWS::IAM::User", "AWS::IAM::Group") for r in resources.values())
    policies = {name: r for name, r in resources.items() if r["Type"] in POLICY_TYPES}
    checked = [(name, list(statements(name, resources))) for name in roles]
    checked += [(name, policy["Properties"]["PolicyDocument"]["Statement"]) for name, policy in policies.items()]
    for name, role_statements in checked:
        for statement in role_statements:
            actions = set(as_list(statement["Action"]))
            if name == FRAMEWORK_ROLE:
                assert actions <= FRAMEWORK_ACTIONS, actions
                continue
            assert set(statement) == {"Effect", "Action", "Resource"}, f"{name}: {sorted(statement)}"
            for action in actions:
                assert "*" not in action, f"{name}: wildcard action {action}"
            for resource in as_list(statement["Resource"]):
                text = flatten(resource, resources)
                if "*" in text:
                    assert any(re.match(p, text) for p in allowed_resource_wildcards), f"{name}: wildcard {text}"


def test_each_function_can_do_exactly_what_its_code_does(resources):
    for function, expected in EXPECTED_ACTIONS.items():
        lambda_ = resources[f"{function.capitalize()}LambdaFunction"]
        role_name = lambda_["Properties"]["Role"]["Fn::GetAtt"][0]
        granted = set()
        log_groups = []
        for statement in statements(role_name, resources):
            assert statement["Effect"] == "Allow"
            actions = set(as_list(statement["Action"]))
            if actions == LOG_ACTIONS:
                log_groups += [flatten(r, resources) for r in as_list(statement["Resource"])]
            else:
                granted |= actions
        assert granted == expected, f"{function}: {sorted(granted ^ expected)}"
        assert any(f"/aws/lambda/wschat-prod-{function}:" in group for group in log_groups), function


def test_each_function_acts_only_on_the_resources_its_code_uses(resources):
    assert set(EXPECTED_GRANTS) == set(EXPECTED_ACTIONS)
    for function, expected in EXPECTED_GRANTS.items():
        role_name = resources[f"{function.capitalize()}LambdaFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]
        granted, logs = set(), set()
        for statement in statements(role_name, resources):
            pairs = {(action, flatten(resource, resources))
                     for action in as_list(statement["Action"]) for resource in as_list(statement["Resource"])}
            if set(as_list(statement["Action"])) == LOG_ACTIONS:
                logs |= pairs
            else:
                granted |= pairs
        assert granted == expected, f"{function}: {sorted(granted ^ expected)}"
        owners = LOG_GROUP_OWNERS.get(function, (function,))
        assert logs == {(action, ARN % "logs" + f"log-group:/aws/lambda/wschat-prod-{owner}:*")
                        for action in LOG_ACTIONS for owner in owners}, function


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
