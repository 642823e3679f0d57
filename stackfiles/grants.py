"""Each function's IAM grants, resolved from the stack files (or a packaged template) without Node.

infra/functions.yml names each function's role; infra/roles.yml holds the roles and the managed
policies attached to them. This module follows a role to every statement that applies to it (its
own `Policies`, its `ManagedPolicyArns`, and any policy that lists it in `Roles`), resolves the
framework's variables (stackfiles/config.py) and then CloudFormation's intrinsics
(stackfiles/cloudformation.py) for one stage, region and account, and writes the result as the
policy document the local IAM stand-in (local_iam/) enforces:

    python -m stackfiles.grants --stage local [--region us-east-1] [--account 000000000000] [--out FILE]

The local stack writes one at start (.wschat/iam/) and the functions load it (WSCHAT_ENFORCE_IAM,
WSCHAT_IAM_POLICY_FILE); the unit tests write one for their stage; tests/stack resolves the packaged
template with `template_grants` and compares.

What is understood of a policy, and what is refused: stackfiles/cloudformation.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stackfiles.cloudformation import DEFAULT_ACCOUNT, LOCAL_API_ID, Template, UnsupportedPolicy, Where
from stackfiles.config import SERVERLESS_YML, load_config, resolve_variables

# The version of the document local_iam/ reads (local_iam.POLICY_VERSION).
POLICY_VERSION = 1


@dataclass(frozen=True)
class Function:
    """A function of the stack, as infra/functions.yml and serverless.yml make it for a stage."""

    key: str  # as infra/functions.yml names it: `connect`
    name: str  # the Lambda function's name: `wschat-<stage>-connect`
    role: str  # the role's logical id
    handler: str  # `handler/connect.handler`


def stack_functions(stage: str, path: Path = SERVERLESS_YML) -> list[Function]:
    """The functions of infra/functions.yml with their Lambda names and roles, for a stage."""
    config = load_config(path)
    service = config["service"]
    found = []
    for key, spec in config["functions"].items():
        role = spec.get("role")
        if not isinstance(role, str):
            raise UnsupportedPolicy(f"function {key}: its role must be a role of the stack, by logical id")
        name = resolve_variables(spec.get("name"), config, stage) if spec.get("name") else f"{service}-{stage}-{key}"
        found.append(Function(key=key, name=name, role=role, handler=spec["handler"]))
    return found


def stack_grants(stage: str, where: Where, path: Path = SERVERLESS_YML) -> dict[str, list[tuple[str, str]]]:
    """{function key: grants} resolved from the stack files."""
    config = load_config(path)
    resources = resolve_variables(config["resources"]["Resources"], config, stage, keep_unknown=True)
    template = Template(resources, where)
    return {function.key: template.grants(function.role) for function in stack_functions(stage, path)}


def template_grants(template: dict, where: Where, functions: list[Function]) -> dict[str, list[tuple[str, str]]]:
    """{function key: grants} from a packaged CloudFormation template, found by each function's Lambda name."""
    resources = template["Resources"]
    resolver = Template(resources, where)
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
    """The document local_iam/ enforces, for every function of the stage."""
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
    from ops.region import resolve_region

    parser = argparse.ArgumentParser(prog="python -m stackfiles.grants", description=__doc__.split("\n\n")[0])
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
        print(f"stackfiles.grants: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
