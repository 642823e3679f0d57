"""Each function's environment as packaged, not the one the test world gives every function alike.

The IAM scenarios (tests/iam_scenarios/) run every function with one environment that names the
WebSocket API's management endpoint; on AWS only the functions whose infra/functions.yml entry says
so get it. A function with no WebSocket event to name the API (an HTTP route, the schedule) cannot
post to or close a connection without it: the chat service refuses to build (ConfigError) and the
route answers 500. Once that was `refresh`: a stolen refresh token's reuse answered 500
on AWS and left the thief's connections open."""

import json

from moto import mock_aws

import local_iam as iam
from handler import app as app_module
from handler.auth import passwords
from handler.settings import Settings
from tests import iam_harness, iam_scenarios
import tests.iam_scenarios.accounts  # noqa: F401  (the refresh scenario, run under the packaged role)
from tests.stack.conftest import STAGE, WHERE

API_URL = f"https://{WHERE.websocket_api}.execute-api.{WHERE.region}.amazonaws.com/{STAGE}"
# What the Lambda service and the stack give a function at run time, for resolving the template.
PSEUDO = {"AWS::Region": WHERE.region, "AWS::URLSuffix": "amazonaws.com", "AWS::AccountId": WHERE.account,
          "AWS::Partition": "aws", "WebsocketsApi": WHERE.websocket_api}
# Functions that post to connections with an endpoint their event names: fanout's payload carries
# the sender's (handler/broadcast.py, parse_fanout_event).
ENDPOINT_IN_THE_EVENT = {"fanout"}


def resolve(value):
    """A template value as the function sees it: Ref and Fn::Join of the stack's own names resolved."""
    if isinstance(value, str):
        return value
    (key, inner), = value.items()
    if key == "Ref":
        return PSEUDO[inner]
    if key == "Fn::Join":
        return inner[0].join(resolve(item) for item in inner[1])
    raise AssertionError(f"unexpected expression in a function's environment: {value}")


def packaged_environment(resources: dict, function_name: str) -> dict[str, str]:
    """The function's environment variables in the packaged template, plus what Lambda sets."""
    function = next(r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"
                    and r["Properties"].get("FunctionName") == function_name)
    variables = function["Properties"]["Environment"]["Variables"]
    return {"AWS_REGION": WHERE.region, **{name: resolve(value) for name, value in variables.items()}}


def invoked_by_the_websocket_api(resources: dict) -> set[str]:
    """Logical ids of the functions API Gateway's WebSocket API invokes (its events carry apiId and stage)."""
    websocket = [r["Properties"] for r in resources.values() if r["Type"] in (
        "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Authorizer") and r["Properties"]["ApiId"] == {"Ref": "WebsocketsApi"}]
    uris = [p.get("IntegrationUri", p.get("AuthorizerUri")) for p in websocket]
    assert len(uris) == 13  # 12 functions' integrations and the authorizer
    return {name for name in resources if resources[name]["Type"] == "AWS::Lambda::Function"
            and any(f'"{name}"' in json.dumps(uri) for uri in uris)}


def test_every_function_that_manages_connections_can_name_the_api(resources, functions, scenario_calls):
    managing = {call.function for call in scenario_calls if call.action.startswith("execute-api:")}
    assert {"sweep", "logout", "refresh", "sendmessage"} <= managing  # the scenarios do show them
    websocket = invoked_by_the_websocket_api(resources)
    missing = []
    for function in functions:
        if function.key not in managing or function.key in ENDPOINT_IN_THE_EVENT:
            continue
        logical = next(name for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"
                       and r["Properties"].get("FunctionName") == function.name)
        if logical in websocket:
            continue
        endpoint = Settings.from_env(packaged_environment(resources, function.name)).delivery.endpoint
        if endpoint != API_URL:
            missing.append((function.key, endpoint))
    assert missing == [], "functions that post to or close connections with no endpoint (infra/functions.yml, " \
                          f"WSCHAT_WS_API_URL): {missing}"


def test_a_reused_refresh_token_closes_the_sign_in_with_the_packaged_environment(resources, grants, functions,
                                                                                 monkeypatch):
    # The scenario of tests/iam_scenarios/accounts.py, in refresh's packaged environment and under its packaged role.
    env = packaged_environment(resources, f"wschat-{STAGE}-refresh")
    env["WSCHAT_DDB_CLIENT"] = "boto3"  # the test world's DynamoDB is moto's, through boto3
    policy = iam.Policy(grants, account=WHERE.account, websocket_api=WHERE.websocket_api, stage=STAGE,
                        deployed_names={f.key: f.name for f in functions}, roles={f.key: f.role for f in functions})
    iam_harness.wrap_entry_points()
    monkeypatch.setattr(passwords, "N", 2**10)  # the hashing cost is not what this is about
    try:
        with mock_aws():
            world = iam_scenarios.World(STAGE, iam.Enforcer(policy, region=WHERE.region, enforce=True)).create()
            world.env = env
            iam_scenarios.accounts.refresh_rotates_and_a_reuse_ends_the_sign_in(world)  # 401, and the connection closed
    finally:
        app_module.install(None)
