"""What would go wrong on a real account, checked on the packaged prod template: who may
invoke the functions, what the stack changes outside itself, the retained tables, the sweep's
overlap, function versions, and the site's origin a deploy ships."""

import json

from tests.stack.conftest import package

API_GATEWAY_SOURCES = {"WebsocketsApi", "HttpApi"}


def by_type(resources: dict, type_: str) -> dict:
    return {name: r for name, r in resources.items() if r["Type"] == type_}


def test_every_lambda_permission_names_its_source(resources):
    permissions = by_type(resources, "AWS::Lambda::Permission")
    assert len(permissions) == 19  # 14 WebSocket (13 functions and the authorizer), 4 HTTP, the schedule
    for name, permission in permissions.items():
        properties = permission["Properties"]
        assert "SourceArn" in properties, f"{name}: any {properties['Principal']} source may invoke it"
        source = json.dumps(properties["SourceArn"])
        if properties["Principal"] == "apigateway.amazonaws.com":
            # This stack's own API, in this account and region: no other API can invoke it.
            api = "WebsocketsApi" if name.endswith("Websockets") else "HttpApi"
            assert api in source and "AWS::AccountId" in source and "AWS::Region" in source, (name, source)
        else:
            assert properties["Principal"] == "events.amazonaws.com" and "SweepEventsRuleSchedule1" in source, name


def test_the_stack_changes_nothing_outside_itself(resources):
    # No custom resource: the framework's one for API Gateway's account-wide CloudWatch role would
    # overwrite the account's setting and needs iam:CreateRole on role/*; it is a one-time account
    # setting instead, which `make deploy` checks first (ops/predeploy.py).
    assert not [name for name, r in resources.items() if r["Type"].startswith("Custom::")]
    assert not [name for name in resources if name.startswith(("Custom", "IamRoleCustomResources"))]
    assert not by_type(resources, "AWS::ApiGateway::Account")


def test_retained_tables_are_deletion_protected(resources):
    tables = by_type(resources, "AWS::DynamoDB::Table")
    retained = {name for name, table in tables.items() if table.get("DeletionPolicy") == "Retain"}
    assert retained == {"UsersTable", "RoomsTable", "MessageHistoryTable", "SessionHistoryTable"}
    for name, table in tables.items():
        assert table["Properties"].get("DeletionProtectionEnabled", False) is (name in retained), name
        assert (table.get("UpdateReplacePolicy") == "Retain") is (name in retained), name


def test_the_sweep_runs_one_at_a_time(resources):
    assert resources["SweepLambdaFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1
    others = [name for name, r in by_type(resources, "AWS::Lambda::Function").items()
              if name != "SweepLambdaFunction" and "ReservedConcurrentExecutions" in r["Properties"]]
    assert others == []  # every other reservation would shrink the account's unreserved pool


def test_no_function_versions_are_published(resources):
    # Nothing invokes a version (no alias, no provisioned concurrency): each deploy would keep 20 more.
    assert not by_type(resources, "AWS::Lambda::Version")
    for name, config in by_type(resources, "AWS::Lambda::EventInvokeConfig").items():
        assert config["Properties"]["Qualifier"] == "$LATEST", name


def test_prod_is_not_packaged_without_the_sites_origin(tmp_path):
    result = package(tmp_path / "out", WSCHAT_SITE_ORIGIN=None)
    assert result.returncode != 0
    assert "params.prod.allowedOrigins" in result.stdout + result.stderr
    assert not (tmp_path / "out/cloudformation-template-update-stack.json").exists()

