"""The tables come from serverless.yml, and no per-message or per-connection path scans."""

import ast
from pathlib import Path

from devstack.tables import table_definitions

ROOT = Path(__file__).resolve().parents[2]


def test_tables_are_read_from_serverless_yml_with_stage_names():
    tables = {props["TableName"]: props for props in table_definitions("qa").values()}
    assert set(tables) == {
        "wschat-qa-ActiveConnections", "wschat-qa-SessionHistory", "wschat-qa-MessageHistory", "wschat-qa-Users",
        "wschat-qa-Limits",
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
