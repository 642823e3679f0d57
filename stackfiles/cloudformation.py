"""A CloudFormation template's resources evaluated for one account, without AWS: the intrinsics
(Ref, Fn::GetAtt, Fn::Sub, Fn::Join) and the statements that apply to a role.

Only Allow statements with Action and Resource are understood. Anything else (Deny, NotAction,
NotResource, Condition) raises UnsupportedPolicy rather than be enforced wrongly: teach this module
first. A resource that cannot be resolved here (the log groups the framework generates) stays a
`${Name.Attr}` placeholder, which matches no ARN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The account and WebSocket API id the local stack's ARNs use (nothing checks them against real ones).
DEFAULT_ACCOUNT = "000000000000"
LOCAL_API_ID = "local"
_SUB_VARIABLE = re.compile(r"\$\{([^{}!]+)\}")
POLICY_TYPES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")


class UnsupportedPolicy(ValueError):
    """Raised for a policy this module cannot resolve faithfully (Deny, conditions, outside references)."""


@dataclass(frozen=True)
class Where:
    """The account the ARNs are resolved for: what CloudFormation would put in ${AWS::...} and Ref."""

    region: str
    account: str = DEFAULT_ACCOUNT
    partition: str = "aws"
    websocket_api: str = LOCAL_API_ID  # Ref WebsocketsApi: the API id (the local stack has none of its own)
    url_suffix: str = "amazonaws.com"


class Template:
    """The resources of a template, evaluated where `where` says; a role's grants (`grants`)."""

    def __init__(self, resources: dict, where: Where):
        self.resources = resources
        self.where = where
        self.pseudo = {
            "AWS::Region": where.region, "AWS::AccountId": where.account, "AWS::Partition": where.partition,
            "AWS::URLSuffix": where.url_suffix, "WebsocketsApi": where.websocket_api,
        }

    def evaluate(self, value):
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, list):
            return [self.evaluate(item) for item in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise UnsupportedPolicy(f"cannot evaluate {value!r}")
        (key, inner), = value.items()
        if key == "Ref":
            return self.ref(inner)
        if key == "Fn::GetAtt":
            name, attribute = inner if isinstance(inner, list) else inner.split(".", 1)
            return self.get_att(name, attribute)
        if key == "Fn::Sub":
            text, variables = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
            return self.sub(text, {k: self.evaluate(v) for k, v in variables.items()})
        if key == "Fn::Join":
            separator, items = inner
            return separator.join(str(self.evaluate(item)) for item in items)
        raise UnsupportedPolicy(f"cannot evaluate {key}")

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        return "${%s}" % name

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.resources.get(name)
        if attribute == "Arn" and resource is not None:
            arn = self._arn(resource)
            if arn is not None:
                return arn
        return "${%s.%s}" % (name, attribute)

    def _arn(self, resource: dict) -> str | None:
        w, properties = self.where, resource.get("Properties", {})
        prefix = f"arn:{w.partition}:%s:{w.region}:{w.account}:"
        kind = resource.get("Type")
        if kind == "AWS::DynamoDB::Table" and "TableName" in properties:
            return prefix % "dynamodb" + f"table/{self.evaluate(properties['TableName'])}"
        if kind == "AWS::SQS::Queue" and "QueueName" in properties:
            return prefix % "sqs" + str(self.evaluate(properties["QueueName"]))
        if kind == "AWS::Logs::LogGroup" and "LogGroupName" in properties:
            return prefix % "logs" + f"log-group:{self.evaluate(properties['LogGroupName'])}:*"
        if kind == "AWS::Lambda::Function" and "FunctionName" in properties:
            return prefix % "lambda" + f"function:{self.evaluate(properties['FunctionName'])}"
        return None

    def sub(self, text: str, variables: dict) -> str:
        def replace(match):
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    # -- roles ---------------------------------------------------------------------------------------

    def statements(self, role: str) -> list[dict]:
        """Every statement that applies to the role: its own policies, and the policies attached to it."""
        resource = self.resources.get(role)
        if resource is None or resource.get("Type") != "AWS::IAM::Role":
            raise UnsupportedPolicy(f"no role {role} in the stack")
        properties = resource.get("Properties", {})
        if properties.get("PermissionsBoundary"):
            raise UnsupportedPolicy(f"{role}: permissions boundaries are not modelled")
        found = []
        for policy in properties.get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
        for arn in properties.get("ManagedPolicyArns", []):
            if not (isinstance(arn, dict) and set(arn) == {"Ref"} and
                    self.resources.get(arn["Ref"], {}).get("Type") == "AWS::IAM::ManagedPolicy"):
                raise UnsupportedPolicy(f"{role}: a managed policy from outside the stack: {arn!r}")
            found += self.resources[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        for name, other in self.resources.items():
            if other.get("Type") in POLICY_TYPES and {"Ref": role} in other.get("Properties", {}).get("Roles", []):
                found += other["Properties"]["PolicyDocument"]["Statement"]
        return found

    def grants(self, role: str) -> list[tuple[str, str]]:
        """(action, resource pattern) of every Allow that applies to the role, sorted, without repeats."""
        pairs = set()
        for statement in self.statements(role):
            unknown = set(statement) - {"Effect", "Action", "Resource", "Sid"}
            if statement.get("Effect") != "Allow" or unknown:
                raise UnsupportedPolicy(f"{role}: only Allow with Action and Resource is modelled, got {statement!r}")
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                for resource in resources:
                    pairs.add((str(action), str(self.evaluate(resource))))
        return sorted(pairs)
