"""The stack's tables created in DynamoDB Local or moto, from their definitions in the stack files
(stackfiles/tables.py): the same tables `sls deploy` would create."""

from __future__ import annotations

from stackfiles.tables import table_definitions

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
