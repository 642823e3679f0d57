"""Table definitions read from serverless.yml, and their creation in a local or mocked DynamoDB.

serverless.yml is the one place the tables are defined. Its `resources` section uses only
`${self:...}` and `${sls:stage}` variables, which this module resolves itself, so that the unit
tests (moto) and the local stack build exactly the tables that `sls deploy` would, without Node.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS_YML = ROOT / "serverless.yml"

_VARIABLE = re.compile(r"\$\{([^{}]+)\}")


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !GetAtt, ...) as their long form."""


def _intrinsic(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_config(path: Path = SERVERLESS_YML) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CloudFormationLoader)


def _resolve(value, config: dict, stage: str):
    if isinstance(value, dict):
        return {key: _resolve(item, config, stage) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, config, stage) for item in value]
    if not isinstance(value, str):
        return value

    def lookup(expression: str):
        expression = expression.strip()
        if expression == "sls:stage":
            return stage
        if expression.startswith("self:"):
            node = config
            for part in expression[len("self:"):].split("."):
                node = node[part]
            return _resolve(node, config, stage)
        if expression.startswith("param:"):
            name = expression[len("param:"):]
            params = config.get("params", {})
            for scope in (params.get(stage, {}), params.get("default", {})):
                if name in scope:
                    return _resolve(scope[name], config, stage)
        raise ValueError(f"serverless.yml: cannot resolve ${{{expression}}} outside the framework")

    whole = _VARIABLE.fullmatch(value)
    if whole:
        return lookup(whole.group(1))  # keeps a boolean or number as what it is
    # Repeat: a resolved value may hold variables itself.
    while _VARIABLE.search(value):
        value = _VARIABLE.sub(lambda match: str(lookup(match.group(1))), value)
    return value


def table_definitions(stage: str, path: Path = SERVERLESS_YML) -> dict[str, dict]:
    """{logical id: resolved Properties} of every AWS::DynamoDB::Table in serverless.yml."""
    config = load_config(path)
    resources = config["resources"]["Resources"]
    return {
        logical_id: _resolve(resource["Properties"], config, stage)
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::DynamoDB::Table"
    }


# Properties that CreateTable takes; the rest (TTL, PITR, SSE, tags) are applied separately or
# mean nothing to a local DynamoDB.
_CREATE_TABLE_KEYS = (
    "TableName", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode",
)


def create_tables(client, stage: str) -> list[str]:
    """Create every table that does not exist yet (idempotent); return their names."""
    existing = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    names = []
    for properties in table_definitions(stage).values():
        name = properties["TableName"]
        names.append(name)
        if name in existing:
            continue
        client.create_table(**{key: properties[key] for key in _CREATE_TABLE_KEYS if key in properties})
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return names
