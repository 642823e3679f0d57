"""The deployable stack, proven without an AWS account: `sls package --stage prod`, then cfn-lint and
checks on the generated CloudFormation (least privilege, data safety, secrets, logs, outputs, CORS,
asynchronous invocations).

What each role must grant is not written down here: every function's scenarios
(tests/iam_scenarios/) run under the IAM harness (local_iam/) in recording mode, and the
packaged roles are compared with the calls they made: every call granted, and every grant used by
some call, or named in NOT_CALLED_BY_THE_CODE with the reason it is there anyway."""

import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

import local_iam as iam
from stackfiles import grants as stack_iam
from tests import iam_scenarios
from tests.gateway_model import two_way_routes
from tests.stack.conftest import SITE_ORIGIN, STAGE, WHERE

ROOT = Path(__file__).resolve().parents[2]
ARN = f"arn:aws:%s:{WHERE.region}:{WHERE.account}:"

# Grants the functions' own code never calls, each with why the role holds it anyway:
# (function, or "*" for every function; action) -> reason. Anything else a role grants must be
# used by one of its function's scenarios. An entry that no grant needs any more fails too.
NOT_CALLED_BY_THE_CODE = {
    ("*", "logs:CreateLogStream"): "the Lambda service writes the function's logs with its role; only to its own "
                                   "log group (test_each_function_writes_only_its_own_log_group)",
    ("*", "logs:PutLogEvents"): "as logs:CreateLogStream",
    ("fanout", "sqs:SendMessage"): "Lambda sends a failed asynchronous invocation to the function's onFailure "
                                   "queue with its role (test_fanout_and_sweep_give_up_fast_into_the_failures_queue)",
    ("sweep", "sqs:SendMessage"): "as fanout's",
    # A presence change held back by the user's presence budget in a room leaves a `due#presence`
    # row in ActiveConnections for the sweep (handler/chat/connections.py); any function that tells a room
    # someone left (a member found gone) can be the one that hits the budget. The scenarios do
    # not spend presence budgets; tests/unit/test_chat_messaging.py and
    # tests/integration/test_abuse.py::test_room_switching_cannot_amplify_presence do.
    # (disconnect uses its own now: a `left` held for the presence grace.)
    **{(function, "dynamodb:PutItem"): "a held-back presence change's follow-up row (BroadcastPolicy)"
       for function in ("sendmessage", "join", "history", "default", "fanout", "sweep", "rooms",
                        "interact", "renew", "read")},
}
# The log groups a function's role may write to: its own (the sign-up pair shares one role).
LOG_GROUP_OWNERS = {"register": ("register", "guest"), "guest": ("register", "guest")}
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


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
                return "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:" + f"log-group:{name}:*"
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
            assert set(statement) == {"Effect", "Action", "Resource"}, f"{name}: {sorted(statement)}"
            for action in actions:
                assert "*" not in action, f"{name}: wildcard action {action}"
            for resource in as_list(statement["Resource"]):
                text = flatten(resource, resources)
                if "*" in text:
                    assert any(re.match(p, text) for p in allowed_resource_wildcards), f"{name}: wildcard {text}"


def test_every_function_has_scenarios(functions):
    assert {f.key for f in functions} == set(iam_scenarios.SCENARIOS)


def test_every_call_the_functions_make_is_granted_by_their_roles(scenario_calls, functions):
    assert {call.function for call in scenario_calls} == {f.key for f in functions} - iam_scenarios.CALLS_NOTHING
    refused = sorted({(c.function, c.action, c.resource) for c in scenario_calls if not c.allowed})
    assert refused == [], "calls the packaged roles do not grant (infra/roles.yml):\n" + "\n".join(map(str, refused))


def test_every_grant_is_used_by_its_functions_calls_or_says_why_not(scenario_calls, grants):
    used_allowances = set()
    unused = []
    for function, pairs in grants.items():
        calls = [c for c in scenario_calls if c.function == function]
        for action, pattern in pairs:
            if any(iam.matches(action, c.action, ignore_case=True) and iam.matches(pattern, c.resource) for c in calls):
                continue
            reason = next((key for key in ((function, action), ("*", action)) if key in NOT_CALLED_BY_THE_CODE), None)
            if reason is None:
                unused.append((function, action, pattern))
            used_allowances.add(reason)
    assert unused == [], "grants no scenario uses; drop them, or add the scenario that needs them:\n" + \
        "\n".join(map(str, unused))
    assert set(NOT_CALLED_BY_THE_CODE) <= used_allowances, "allow-list entries no grant needs any more: " + \
        str(sorted(set(NOT_CALLED_BY_THE_CODE) - used_allowances))


def test_the_harness_enforces_what_is_deployed(grants):
    # The unit tests and the local stack enforce the roles resolved from the stack files; the
    # packaged template must grant exactly that (the services the harness checks).
    checked = {function: sorted(p for p in pairs if p[0].split(":")[0] in iam.SERVICES)
               for function, pairs in grants.items()}
    from_files = {function: sorted(p for p in pairs if p[0].split(":")[0] in iam.SERVICES)
                  for function, pairs in stack_iam.stack_grants(STAGE, WHERE).items()}
    assert checked == from_files


def test_each_function_writes_only_its_own_log_group(grants):
    for function, pairs in grants.items():
        owners = LOG_GROUP_OWNERS.get(function, (function,))
        logs = {pair for pair in pairs if pair[0] in LOG_ACTIONS}
        assert logs == {(action, ARN % "logs" + f"log-group:/aws/lambda/wschat-{STAGE}-{owner}:*")
                        for action in LOG_ACTIONS for owner in owners}, function


def test_fanout_and_sweep_give_up_fast_into_the_failures_queue(resources, grants):
    queue = resources["AsyncFailuresQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 14 * 86400
    configs = {r["Properties"]["FunctionName"]["Ref"]: r["Properties"] for r in resources.values()
               if r["Type"] == "AWS::Lambda::EventInvokeConfig"}
    assert set(configs) == {"FanoutLambdaFunction", "SweepLambdaFunction"}
    for function, config in configs.items():
        assert config["MaximumRetryAttempts"] == 0 and config["MaximumEventAgeInSeconds"] == 60, function
        assert config["Qualifier"] == "$LATEST"
        assert config["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": ["AsyncFailuresQueue", "Arn"]}}}
    queue_arn = ARN % "sqs" + f"wschat-{STAGE}-async-failures"
    for function, pairs in grants.items():
        sends = {pair for pair in pairs if pair[0].startswith("sqs:")}
        assert sends == ({("sqs:SendMessage", queue_arn)} if function in ("fanout", "sweep") else set()), function


def test_the_http_api_allows_only_the_sites_origin(resources):
    cors = resources["HttpApi"]["Properties"]["CorsConfiguration"]
    # The one origin the deploy was given: never serverless.yml's placeholder (prod has none).
    assert cors["AllowOrigins"] == [SITE_ORIGIN] and "owner.github.io" not in json.dumps(resources)
    for origin in cors["AllowOrigins"]:
        assert re.fullmatch(r"https?://[a-z0-9.-]+(:[0-9]+)?", origin), origin  # scheme://host[:port], lower case
    assert cors["AllowMethods"] == ["POST"]
    assert set(cors["AllowHeaders"]) == {"Content-Type", "Authorization"}
    assert not cors.get("AllowCredentials")


def test_iam_is_left_to_aws_on_a_deployed_stage(resources):
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Function" and not name.startswith("Custom"):
            variables = resource["Properties"]["Environment"]["Variables"]
            assert "WSCHAT_ENFORCE_IAM" not in variables and "WSCHAT_IAM_POLICY_FILE" not in variables, name


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


def test_only_the_two_way_routes_have_a_route_response(resources):
    # A route response makes API Gateway send the function's body to the asker (handler/entry.py,
    # two_way); the routes whose entry returns an answer are those (tests/gateway_model.py).
    routes = {name: r["Properties"]["RouteKey"] for name, r in resources.items() if r["Type"] == "AWS::ApiGatewayV2::Route"}
    answered = {routes[r["Properties"]["RouteId"]["Ref"]] for r in resources.values()
                if r["Type"] == "AWS::ApiGatewayV2::RouteResponse"}
    assert answered == two_way_routes() == {"sendmessage", "heartbeat"}
    for name, route in routes.items():
        assert (resources[name]["Properties"].get("RouteResponseSelectionExpression") == "$default") == (
            route in answered), route


def test_outputs_name_the_endpoints(template):
    assert set(template["Outputs"]) >= {"WebSocketUrl", "HttpApiUrl"}


def test_function_zip_is_small_and_has_no_boto3(packaged):
    archive = packaged / "wschat.zip"
    assert archive.stat().st_size <= 1_000_000
    names = zipfile.ZipFile(archive).namelist()
    assert "handler/chat/messaging.py" in names and "handler/auth/tokens.py" in names and "authorizer/handler.py" in names
    assert any(n.startswith("jwt/") for n in names)
    assert not any(n.startswith(("boto3/", "botocore/", "tests/", "node_modules/", "devstack/")) for n in names)


# The code the functions run; every other top-level package or module of the checkout is local-only.
PRODUCT = {"handler", "authorizer"}
# Local-only folders that hold no Python of their own.
LOCAL_ONLY_FOLDERS = {"templates", "scripts", "docs", "infra", "site", "node_modules"}


def local_only_names() -> set[str]:
    """Every top-level Python package or module of the checkout that is not the product (local_iam,
    stackfiles, ops, devstack, bench, tests, build_site.py, ...), and the folders above."""
    found = set(LOCAL_ONLY_FOLDERS)
    for entry in ROOT.iterdir():
        if entry.name.startswith(".") or entry.name in PRODUCT | LOCAL_ONLY_FOLDERS:
            continue
        if entry.suffix == ".py" or (entry.is_dir() and (entry / "__init__.py").exists()):
            found.add(entry.name)
    return found


def test_no_local_only_code_is_in_the_function_zips(packaged):
    local_only = local_only_names()
    assert {"local_iam", "stackfiles", "ops", "devstack", "bench", "tests", "build_site.py"} <= local_only
    # Every zip the package holds: the functions' (wschat.zip) and the framework's own custom resources'.
    archives = sorted(packaged.glob("*.zip"))
    assert packaged / "wschat.zip" in archives
    for archive in archives:
        tops = {name.split("/", 1)[0] for name in zipfile.ZipFile(archive).namelist()}
        assert not tops & local_only, f"{archive.name} holds local-only code: {sorted(tops & local_only)}"


def test_the_sweep_runs_on_a_schedule(resources):
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert any(rule["Properties"]["ScheduleExpression"] == "rate(1 minute)" for rule in rules)
