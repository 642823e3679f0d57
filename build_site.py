"""Render the wschat site (login and chat pages) into site/, ready for GitHub Pages.

    python build_site.py --stage prod [--region eu-west-1]   # endpoints from the deployed stack's outputs
    python build_site.py --local                             # endpoints of the local stack (make dev)

The endpoints reach the pages as one JSON block (see templates/base.html), never spliced into code.
The stack is looked up in the region every wschat tool uses (ops/region.py): --region, then
AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1; the same as `make deploy`'s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT / "templates"
PAGES = ("index.html", "chat.html")
STACK_OUTPUTS = {"wsUrl": "WebSocketUrl", "httpUrl": "HttpApiUrl"}

# API Gateway drops a connection after 10 idle minutes; a heartbeat every 4 minutes keeps it with
# 15 frames an hour per idle client (a 30-second ping would cost 120).
DEFAULT_HEARTBEAT_SECONDS = 240


class BuildError(Exception):
    """Raised with a one-line explanation when the site cannot be built."""


def stack_endpoints(stage: str, region: str | None, cloudformation=None) -> dict[str, str]:
    """{wsUrl, httpUrl} from the outputs of the CloudFormation stack wschat-<stage>."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    name = f"wschat-{stage}"
    try:
        client = cloudformation or boto3.client("cloudformation", region_name=region)
        stacks = client.describe_stacks(StackName=name)["Stacks"]
    except NoCredentialsError:
        raise BuildError("no AWS credentials: configure them (aws configure) or use --local") from None
    except NoRegionError:
        raise BuildError("no AWS region: pass --region or set AWS_REGION") from None
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if "does not exist" in message:
            raise BuildError(f"stack {name} not found{_in(region)}: deploy it first (make deploy STAGE={stage})") from None
        raise BuildError(f"cannot read stack {name}: {message}") from None
    except BotoCoreError as exc:
        raise BuildError(f"cannot read stack {name}: {exc}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    missing = [key for key in STACK_OUTPUTS.values() if not outputs.get(key)]
    if missing:
        raise BuildError(f"stack {name} has no output {', '.join(missing)}: redeploy it with this serverless.yml")
    return {config_key: outputs[output_key] for config_key, output_key in STACK_OUTPUTS.items()}


def stack_region(explicit: str | None = None, stage: str | None = None) -> str:
    """The region the stack was deployed to, by the rule `make deploy` and `make secret` follow."""
    sys.path.insert(0, str(ROOT))
    from ops.region import RegionConflict, resolve_region

    try:
        return resolve_region(explicit, stage=stage)
    except RegionConflict as exc:
        raise BuildError(str(exc)) from None


def _in(region: str | None) -> str:
    return f" in {region}" if region else ""


def local_endpoints() -> dict[str, str]:
    http_port = os.environ.get("WSCHAT_HTTP_PORT", "3000")
    ws_port = os.environ.get("WSCHAT_WS_PORT", "3001")
    return {"wsUrl": f"ws://127.0.0.1:{ws_port}", "httpUrl": f"http://127.0.0.1:{http_port}"}


def stage_flags(stage: str) -> dict[str, bool]:
    """Whether the stage lets people register or come as guests (serverless.yml params), so the
    login page shows only what works."""
    import yaml

    from stackfiles.config import load_config

    try:
        params = load_config().get("params", {})
    except (OSError, yaml.YAMLError):
        return {"allowRegistration": True, "allowGuests": True}
    merged = {**params.get("default", {}), **params.get(stage, {})}

    def flag(name):
        return str(merged.get(name, "true")).lower() == "true"

    return {"allowRegistration": flag("allowRegistration"), "allowGuests": flag("allowGuests")}


def site_config(endpoints: dict[str, str], stage: str, heartbeat_seconds: int) -> dict:
    """The pages' config block: endpoints, stage flags, client timing, and the server's whole client
    contract (patterns, limits, session-end codes), so the templates and scripts hold no copy of a rule."""
    from handler import protocol

    return {
        **endpoints,
        "stage": stage,
        "heartbeatSeconds": heartbeat_seconds,
        "reconnectBaseMs": 1000,
        "reconnectMaxMs": 30000,
        **protocol.client_contract(),
        **stage_flags(stage),
    }


def render_site(config: dict, out: Path) -> list[Path]:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True
    )
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    written = []
    for page in PAGES:
        target = out / page
        target.write_text(environment.get_template(page).render(config=config), encoding="utf-8")
        written.append(target)
    shutil.copytree(TEMPLATES / "static", out / "static")
    # GitHub Pages: serve the files as they are (no Jekyll processing).
    (out / ".nojekyll").write_text("")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the wschat site for a deployed stage or the local stack.")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stage", help="deployed stage whose stack (wschat-<stage>) gives the endpoints")
    where.add_argument("--local", action="store_true", help="use the local stack's endpoints (make dev)")
    parser.add_argument("--region", help="else AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1")
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    parser.add_argument("--heartbeat-seconds", type=int, default=DEFAULT_HEARTBEAT_SECONDS)
    parser.add_argument("--ws-url", help="use this WebSocket URL (a custom domain) instead of the stack's")
    parser.add_argument("--http-url", help="use this HTTP API URL (a custom domain) instead of the stack's")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    try:
        if args.local:
            stage, endpoints = "local", local_endpoints()
        else:
            stage, endpoints = args.stage, stack_endpoints(args.stage, stack_region(args.region, args.stage))
        endpoints.update({key: value for key, value in (("wsUrl", args.ws_url), ("httpUrl", args.http_url)) if value})
        render_site(site_config(endpoints, stage, args.heartbeat_seconds), args.out)
    except BuildError as exc:
        print(f"build_site: {exc}", file=sys.stderr)
        return 1
    print(f"build_site: wrote {args.out} for stage {stage} (WebSocket {endpoints['wsUrl']}, HTTP {endpoints['httpUrl']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
