"""docs/deploy.md, "Teardown" and "Deploying again after a teardown": the commands parse, step 1 turns
the packaged template into a valid resource import (exactly the retained tables, no outputs, static
names), the teardown and the fresh start name every retained table and lift its deletion protection
before deleting it, and every AWS command in the guide names its region."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs/deploy.md").read_text()
SECTION = GUIDE.split("### Deploying again after a teardown", 1)[1].split("\n## ", 1)[0]
TEARDOWN = GUIDE.split("\n## Teardown\n", 1)[1].split("### Deploying again after a teardown", 1)[0]


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
    assert blocks[0].rstrip().endswith("make deploy STAGE=prod")  # its checks first (ops/predeploy.py)


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


def retained_tables(template: dict) -> set[str]:
    return {resource["Properties"]["TableName"] for resource in template["Resources"].values()
            if resource["Type"] == "AWS::DynamoDB::Table" and resource.get("DeletionPolicy") == "Retain"}


def test_step_one_on_the_packaged_prod_template(packaged, template, tmp_path):
    (tmp_path / ".serverless").mkdir()
    shutil.copy(packaged / "cloudformation-template-update-stack.json", tmp_path / ".serverless")
    result = subprocess.run([sys.executable, "-c", step_one()], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    names = set(result.stdout.split()[2:])
    assert names == retained_tables(template) == {"wschat-prod-Users", "wschat-prod-Rooms", "wschat-prod-MessageHistory",
                                                  "wschat-prod-SessionHistory"}
    imported = json.loads((tmp_path / ".serverless/import-template.json").read_text())
    text = json.dumps(imported)
    assert "Ref" not in text and "Fn::" not in text
    for resource in imported["Resources"].values():
        assert resource["Properties"]["DeletionProtectionEnabled"] is True  # kept through the import


def loops(text: str) -> list[tuple[set[str], str]]:
    """Each `for t in A B C; do ... done` of the text's bash blocks: the table names and the body."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for names, body in re.findall(r"for t in ([A-Za-z ]+); do\n(.*?)\ndone", block, flags=re.S):
            found.append(({f"wschat-prod-{name}" for name in names.split()}, body))
    return found


def test_deleting_the_retained_tables_names_each_and_lifts_its_protection_first(template):
    # The teardown, and the fresh start in "Deploying again after a teardown".
    found = loops(TEARDOWN) + loops(SECTION)
    assert len(found) == 2
    for names, body in found:
        assert names == retained_tables(template)
        lift, delete = body.index("--no-deletion-protection-enabled"), body.index("aws dynamodb delete-table")
        assert lift < delete
    assert "aws ssm delete-parameters --names /wschat/prod/jwt-secret /wschat/prod/jwt-secret-previous" in TEARDOWN


def commands(text: str) -> list[str]:
    """Every `aws ...` and `sls ...` command of the text's bash blocks: a line that starts with one,
    or one inside `$(...)`; continuation lines joined, comments left out."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().split(" # ", 1)[0]
            if re.match(r"(npx )?(aws|sls) ", line):
                found.append(line)
            for start in [m.end() for m in re.finditer(r"\$\((?=(npx )?(aws|sls) )", line)]:
                depth, end = 1, start
                while depth and end < len(line):
                    depth += {"(": 1, ")": -1}.get(line[end], 0)
                    end += 1
                found.append(line[start:end - 1])
    return found


def test_every_aws_command_in_the_guide_names_its_region():
    found = commands(GUIDE)
    assert len(found) >= 25  # the parser sees them
    assert [command for command in found if "--region" not in command] == []
