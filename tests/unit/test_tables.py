"""The tables come from the stack files (serverless.yml and the infra/ files it includes), and no
per-message or per-connection path scans."""

import ast
from pathlib import Path

import pytest

from stackfiles.config import load_config, read_yaml
from stackfiles.tables import table_definitions

ROOT = Path(__file__).resolve().parents[2]


def test_tables_are_read_from_serverless_yml_with_stage_names():
    tables = {props["TableName"]: props for props in table_definitions("qa").values()}
    assert set(tables) == {
        "wschat-qa-ActiveConnections", "wschat-qa-SessionHistory", "wschat-qa-MessageHistory", "wschat-qa-Users",
        "wschat-qa-Limits", "wschat-qa-Rooms",
    }
    for props in tables.values():
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    room_index = tables["wschat-qa-ActiveConnections"]["GlobalSecondaryIndexes"][0]
    assert room_index["IndexName"] == "by-room"
    assert room_index["KeySchema"][0] == {"AttributeName": "room", "KeyType": "HASH"}


def test_moto_tables_match_the_definitions(dynamodb):
    described = dynamodb.describe_table(TableName="wschat-test-MessageHistory")["Table"]
    assert described["KeySchema"] == [
        {"AttributeName": "room", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}
    ]


def test_no_code_path_scans_a_table():
    for path in list((ROOT / "handler").glob("*.py")) + list((ROOT / "authorizer").glob("*.py")):
        tree = ast.parse(path.read_text())
        calls = [node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
        assert "scan" not in calls, f"{path.name} scans a table"


def test_the_tables_are_those_of_the_included_tables_file():
    raw = read_yaml(ROOT / "serverless.yml")
    assert "${file(infra/tables.yml)}" in raw["resources"]  # included, not written out here
    tables_file = read_yaml(ROOT / "infra/tables.yml")["Resources"]
    definitions = table_definitions("prod")
    assert set(definitions) == set(tables_file)
    # Resolved in serverless.yml's context: its custom names and its prod params.
    assert definitions["UsersTable"]["TableName"] == "wschat-prod-Users"
    assert definitions["UsersTable"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table_definitions("dev")["UsersTable"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": False}
    # The other fragments are merged beside them, as the framework merges them.
    resources = load_config()["resources"]
    assert {"BroadcastPolicy", "SendmessageRole", "ActiveConnectionsTable"} <= set(resources["Resources"])
    assert set(resources["Outputs"]) == {"WebSocketUrl", "HttpApiUrl"}
    assert load_config()["functions"]["sendmessage"]["handler"] == "handler/messages.send_message"


def test_includes_are_followed_and_fragments_merged_like_the_framework(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "serverless.yml").write_text("""
service: demo
custom:
  names:
    things: ${self:service}-${sls:stage}-Things
params:
  default: {pitr: false}
  prod: {pitr: true}
functions: ${file(parts/functions.yml)}
resources:
  - ${file(parts/tables.yml)}
  - ${file(parts/more.yml):fragment}
  - Resources:
      ThingsTable:
        Properties:
          BillingMode: PAY_PER_REQUEST
""")
    (tmp_path / "parts/functions.yml").write_text("one: {handler: a.b}\n")
    (tmp_path / "parts/tables.yml").write_text("""
Resources:
  ThingsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: ${self:custom.names.things}
      BillingMode: PROVISIONED
      PointInTimeRecoverySpecification:
        PointInTimeRecoveryEnabled: ${param:pitr}
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
""")
    # Paths inside an included file are relative to the service folder, as the framework has it.
    (tmp_path / "parts/more.yml").write_text("""
fragment:
  Resources:
    Role: {Type: AWS::IAM::Role, Properties: {Path: !Sub "/${AWS::Region}/"}}
    Nested: ${file(parts/nested.yml)}
""")
    (tmp_path / "parts/nested.yml").write_text("Type: AWS::DynamoDB::Table\nProperties: {TableName: nested}\n")
    config = load_config(tmp_path / "serverless.yml")
    assert config["functions"] == {"one": {"handler": "a.b"}}
    assert config["resources"]["Resources"]["Role"]["Properties"]["Path"] == {"Fn::Sub": "/${AWS::Region}/"}
    definitions = table_definitions("prod", tmp_path / "serverless.yml")
    assert definitions["ThingsTable"] == {
        "TableName": "demo-prod-Things", "BillingMode": "PAY_PER_REQUEST",  # the later fragment wins
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    }
    assert definitions["Nested"] == {"TableName": "nested"}

    (tmp_path / "serverless.yml").write_text("service: demo\nresources:\n  - ${file(parts/missing.yml)}\n")
    with pytest.raises(FileNotFoundError, match="missing.yml"):
        load_config(tmp_path / "serverless.yml")


def test_the_bench_config_is_serverless_yml_with_only_its_sendmessage_changed():
    main = load_config(ROOT / "serverless.yml")
    bench = load_config(ROOT / "serverless.bench.yml")
    assert set(bench) == set(main)  # a section added to serverless.yml must be included there too
    for section in main:
        if section != "functions":
            assert bench[section] == main[section], section
    assert set(bench["functions"]) == set(main["functions"])
    for name, function in main["functions"].items():
        if name != "sendmessage":
            assert bench["functions"][name] == function, name
    assert bench["functions"]["sendmessage"] == {
        **main["functions"]["sendmessage"], "handler": "bench/strategy.send_message", "timeout": 30}
