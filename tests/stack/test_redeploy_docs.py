"""docs/deploy.md, "Deploying again after a teardown": its commands parse, and its step 1 turns a packaged
template into a valid resource import (only the retained tables, no outputs, static names)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = (ROOT / "docs/deploy.md").read_text().split("### Deploying again after a teardown", 1)[1].split("\n## ", 1)[0]


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", SECTION, flags=re.S)


def step_one() -> str:
    return re.search(r"python3 - <<'PY'\n(.*?)\nPY\n", bash_blocks()[0], flags=re.S).group(1)


def table(name: str, retain: bool) -> dict:
    resource = {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
    }}
    if retain:
        resource["DeletionPolicy"] = resource["UpdateReplacePolicy"] = "Retain"
    return resource


def test_the_commands_are_valid_bash():
    blocks = bash_blocks()
    assert len(blocks) == 2
    for block in blocks:
        result = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
    assert "--change-set-type IMPORT" in blocks[0] and "wait stack-import-complete" in blocks[0]
    assert blocks[0].rstrip().endswith('npx sls deploy --stage prod --region "$AWS_REGION"')


def test_step_one_imports_exactly_the_retained_tables(tmp_path):
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "UsersTable": table("wschat-prod-Users", retain=True),
            "MessageHistoryTable": table("wschat-prod-MessageHistory", retain=True),
            "LimitsTable": table("wschat-prod-Limits", retain=False),
            "KeptLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "Properties": {}},
            "ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"},
        },
        "Outputs": {"ServerlessDeploymentBucketName": {"Value": {"Ref": "ServerlessDeploymentBucket"}}},
    }
    (tmp_path / ".serverless").mkdir()
    (tmp_path / ".serverless/cloudformation-template-update-stack.json").write_text(json.dumps(template))
    result = subprocess.run([sys.executable, "-c", step_one()], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["to", "import:", "wschat-prod-Users", "wschat-prod-MessageHistory"]

    imported = json.loads((tmp_path / ".serverless/import-template.json").read_text())
    assert set(imported) == {"AWSTemplateFormatVersion", "Description", "Resources"}  # an import adds no Outputs
    assert imported["Resources"] == {name: template["Resources"][name] for name in ("UsersTable", "MessageHistoryTable")}
    for resource in imported["Resources"].values():
        assert resource["DeletionPolicy"] == "Retain"  # an import requires one
        assert isinstance(resource["Properties"]["TableName"], str)  # a static name, the import's identifier
        assert "Ref" not in json.dumps(resource) and "Fn::" not in json.dumps(resource)  # nothing outside the import
    assert json.loads((tmp_path / ".serverless/import-resources.json").read_text()) == [
        {"ResourceType": "AWS::DynamoDB::Table", "LogicalResourceId": "UsersTable",
         "ResourceIdentifier": {"TableName": "wschat-prod-Users"}},
        {"ResourceType": "AWS::DynamoDB::Table", "LogicalResourceId": "MessageHistoryTable",
         "ResourceIdentifier": {"TableName": "wschat-prod-MessageHistory"}},
    ]


def test_step_one_on_the_packaged_prod_template_if_there_is_one(tmp_path):
    """`make package STAGE=prod` leaves one in .serverless/; without it, the synthetic test above suffices."""
    packaged = ROOT / ".serverless/cloudformation-template-update-stack.json"
    if not packaged.exists() or "wschat-prod-" not in packaged.read_text():
        return
    (tmp_path / ".serverless").mkdir()
    shutil.copy(packaged, tmp_path / ".serverless" / packaged.name)
    result = subprocess.run([sys.executable, "-c", step_one()], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    names = set(result.stdout.split()[2:])
    assert names == {"wschat-prod-Users", "wschat-prod-MessageHistory", "wschat-prod-SessionHistory"}
    imported = json.loads((tmp_path / ".serverless/import-template.json").read_text())
    text = json.dumps(imported)
    assert "Ref" not in text and "Fn::" not in text
