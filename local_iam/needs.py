"""What each AWS call needs: the (action, resource ARN) pairs IAM authorizes it by.

    DynamoDB   dynamodb:<Operation> on table/<name>, or table/<name>/index/<index> for a Query or Scan
               of an index; a batch on each of its tables; a transaction's parts by their own actions
    Lambda     lambda:InvokeFunction (Invoke) on function:<name>[:<qualifier>]
    SSM        ssm:<Operation> on parameter/<name>, each name of a GetParameters call
    @connections  execute-api:ManageConnections on <api-id>/<stage>/<METHOD>/@connections/<id>

A call that cannot be mapped raises UnknownCall: teach `needs` the new operation.
"""

from __future__ import annotations

import urllib.parse
from typing import Mapping

from handler.errors import WschatError
from local_iam.policy import Policy

# The service prefixes this module checks; a role's other grants (logs, sqs) are used by Lambda itself.
SERVICES = ("dynamodb", "execute-api", "lambda", "ssm")


class UnknownCall(WschatError):
    """Raised when a call cannot be mapped to the IAM action and resource it needs (teach `needs`)."""


def api_operation(operation: str) -> str:
    """The API's name of a boto3 operation: get_item -> GetItem."""
    return "".join(part.capitalize() for part in operation.split("_"))


_TRANSACT_PARTS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                   "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


class Arns:
    """ARNs of the resources calls name, in the policy's partition and account and the client's region."""

    def __init__(self, policy: Policy, region: str):
        self.policy = policy
        self.region = region

    def _arn(self, service: str, resource: str, region: str | None = None) -> str:
        return f"arn:{self.policy.partition}:{service}:{region or self.region}:{self.policy.account}:{resource}"

    def table(self, name: str, index: str | None = None) -> str:
        if name.startswith("arn:"):
            return name + (f"/index/{index}" if index else "")
        return self._arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))

    def function(self, name: str, qualifier: str | None = None) -> str:
        arn = name if name.startswith("arn:") else self._arn("lambda", f"function:{name}")
        return arn + (f":{qualifier}" if qualifier else "")

    def parameter(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return self._arn("ssm", "parameter/" + name.split(":", 1)[0].lstrip("/"))

    def connection(self, method: str, url: str) -> str | None:
        """The @connections resource of a management API URL; None if the URL is not one.

        An API Gateway URL (https://{api-id}.execute-api.{region}.amazonaws.com/{stage}) names its
        API, region and stage; any other host is the local stack's stand-in for this stage's API.
        """
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return None
        prefix, marker, connection_id = parts.path.rpartition("/@connections/")
        if not marker:
            return None
        api, region, stage = self.policy.websocket_api, self.region, self.policy.stage
        labels = host.split(".")
        if len(labels) >= 4 and labels[1] == "execute-api":
            api, region = labels[0], labels[2]
            stage = prefix.strip("/")
        connection_id = urllib.parse.unquote(connection_id)
        return self._arn("execute-api", f"{api}/{stage}/{method.upper()}/@connections/{connection_id}", region)


def needs(service: str, operation: str, request: Mapping, arns: Arns) -> list[tuple[str, str]]:
    """The (action, resource) pairs IAM checks for one SDK call (`operation` as boto3 names it)."""
    if service == "dynamodb":
        return _dynamodb_needs(operation, request, arns)
    if service == "lambda":
        action = "lambda:InvokeFunction" if operation in ("invoke", "invoke_async", "invoke_with_response_stream") \
            else "lambda:" + api_operation(operation)
        if "FunctionName" not in request:
            raise UnknownCall(f"lambda {operation}: no FunctionName")
        return [(action, arns.function(str(request["FunctionName"]), request.get("Qualifier")))]
    if service == "ssm":
        action = "ssm:" + api_operation(operation)
        if "Names" in request:
            return [(action, arns.parameter(str(name))) for name in request["Names"]]
        if "Name" in request:
            return [(action, arns.parameter(str(request["Name"])))]
        raise UnknownCall(f"ssm {operation}: no Name or Names")
    raise UnknownCall(f"no IAM mapping for {service} {operation}")


def _dynamodb_needs(operation: str, request: Mapping, arns: Arns) -> list[tuple[str, str]]:
    action = "dynamodb:" + api_operation(operation)
    if operation in ("batch_write_item", "batch_get_item"):
        return [(action, arns.table(str(table))) for table in request.get("RequestItems", {})]
    if operation in ("transact_write_items", "transact_get_items"):
        pairs = []
        for item in request.get("TransactItems", []):
            for part, body in item.items():
                if part not in _TRANSACT_PARTS:
                    raise UnknownCall(f"dynamodb {operation}: unknown part {part}")
                pairs.append(("dynamodb:" + _TRANSACT_PARTS[part], arns.table(str(body["TableName"]))))
        return pairs
    if "TableName" not in request:
        raise UnknownCall(f"dynamodb {operation}: no TableName")
    index = request.get("IndexName") if operation in ("query", "scan") else None
    return [(action, arns.table(str(request["TableName"]), index))]
