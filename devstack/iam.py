"""Each function's IAM grants, resolved from the stack files (or a packaged template) without Node.

infra/functions.yml names each function's role; infra/roles.yml holds the roles and the managed
policies attached to them. This module follows a role to every statement that applies to it (its
own `Policies`, its `ManagedPolicyArns`, and any policy that lists it in `Roles`), resolves the
framework's variables (devstack/tables.py) and then CloudFormation's intrinsics (Ref, Fn::GetAtt,
Fn::Sub, Fn::Join) for one stage, region and account, and writes the result as the policy document
handler/iam.py enforces:

    python -m devstack.iam --stage local [--region us-east-1] [--account 000000000000] [--out FILE]

The local stack writes one at start (.wschat/iam/) and the functions load it (WSCHAT_ENFORCE_IAM,
WSCHAT_IAM_POLICY_FILE); the unit tests write one for their stage; tests/stack resolves the packaged
template with `template_grants` and compares.

Only Allow statements with Action and Resource are understood. Anything else (Deny, NotAction,
NotResource, Condition) raises UnsupportedPolicy rather than be enforced wrongly: teach this module
first. A resource that cannot be resolved here (the log groups the framework generates) stays a
`${Name.Attr}` placeholder, which matches no ARN.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devstack.tables import SERVERLESS_YML, _resolve, load_config

# The version of the document handler/iam.py reads (handler.iam.POLICY_VERSION).
POLICY_VERSION = 1
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


@dataclass(frozen=True)
class Function:
    key: str  # as infra/functions.yml names it: `connect`
    name: str  # the Lambda function's name: `wschat-<stage>-connect`
    role: str  # the role's logical id
    handler: str  # `handler/connect.handler`


# -- CloudFormation intrinsics ---------------------------------------------------------------------


class _Template:
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


# -- the stack files -------------------------------------------------------------------------------


def stack_functions(stage: str, path: Path = SERVERLESS_YML) -> list[Function]:
    """The functions of infra/functions.yml with their Lambda names and roles, for a stage."""
    config = load_config(path)
    service = config["service"]
    found = []
    for key, spec in config["functions"].items():
        role = spec.get("role")
        if not isinstance(role, str):
            raise UnsupportedPolicy(f"function {key}: its role must be a role of the stack, by logical id")
        name = _resolve(spec.get("name"), config, stage) if spec.get("name") else f"{service}-{stage}-{key}"
        found.append(Function(key=key, name=name, role=role, handler=spec["handler"]))
    return found


def stack_grants(stage: str, where: Where, path: Path = SERVERLESS_YML) -> dict[str, list[tuple[str, str]]]:
    """{function key: grants} resolved from the stack files."""
    config = load_config(path)
    resources = _resolve(config["resources"]["Resources"], config, stage, keep_unknown=True)
    template = _Template(resources, where)
    return {function.key: template.grants(function.role) for function in stack_functions(stage, path)}


def template_grants(template: dict, where: Where, functions: list[Function]) -> dict[str, list[tuple[str, str]]]:
    """{function key: grants} from a packaged CloudFormation template, found by each function's Lambda name."""
    resources = template["Resources"]
    resolver = _Template(resources, where)
    by_name = {resource["Properties"].get("FunctionName"): resource for resource in resources.values()
               if resource.get("Type") == "AWS::Lambda::Function"}
    grants = {}
    for function in functions:
        role = by_name[function.name]["Properties"]["Role"]
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise UnsupportedPolicy(f"{function.name}: its role is not a role of the stack")
        grants[function.key] = resolver.grants(role["Fn::GetAtt"][0])
    return grants


def policy_document(stage: str, where: Where, path: Path = SERVERLESS_YML) -> dict:
    """The document handler/iam.py enforces, for every function of the stage."""
    functions = stack_functions(stage, path)
    grants = stack_grants(stage, where, path)
    return {
        "version": POLICY_VERSION,
        "stage": stage,
        "partition": where.partition,
        "region": where.region,
        "account": where.account,
        "websocketApi": where.websocket_api,
        "deployedNames": {f.key: f.name for f in functions},
        "roles": {f.key: f.role for f in functions},
        "functions": {key: [list(pair) for pair in pairs] for key, pairs in grants.items()},
    }


def write_policy_file(target: Path, stage: str, where: Where, path: Path = SERVERLESS_YML) -> Path:
    return write_document(target, policy_document(stage, where, path))


def write_document(target: Path, document: dict) -> Path:
    """Write a policy document atomically (functions of a running stack may be reading the old one)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(json.dumps(document, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, target)
    return target


def main(argv: list[str] | None = None) -> int:
    from devstack.region import resolve_region

    parser = argparse.ArgumentParser(prog="python -m devstack.iam", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", help="else AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1")
    parser.add_argument("--account", default=DEFAULT_ACCOUNT)
    parser.add_argument("--websocket-api", default=LOCAL_API_ID, help="the WebSocket API's id (Ref WebsocketsApi)")
    parser.add_argument("--out", type=Path, help="write here instead of printing")
    args = parser.parse_args(argv)
    where = Where(region=resolve_region(args.region), account=args.account, websocket_api=args.websocket_api)
    try:
        if args.out:
            write_policy_file(args.out, args.stage, where)
        else:
            print(json.dumps(policy_document(args.stage, where), indent=1, sort_keys=True))
    except UnsupportedPolicy as exc:
        print(f"devstack.iam: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
