"""The DynamoDB tables as the stack files define them: infra/tables.yml, included by serverless.yml,
is the one place the tables are defined; the local stack and the unit tests build theirs from here."""

from __future__ import annotations

from pathlib import Path

from stackfiles.config import SERVERLESS_YML, load_config, resolve_variables


def table_definitions(stage: str, path: Path = SERVERLESS_YML) -> dict[str, dict]:
    """{logical id: resolved Properties} of every AWS::DynamoDB::Table in the stack's resources."""
    config = load_config(path)
    resources = config["resources"]["Resources"]
    return {
        logical_id: resolve_variables(resource["Properties"], config, stage)
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::DynamoDB::Table"
    }
