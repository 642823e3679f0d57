"""`python -m ops.predeploy --stage prod`: what a deploy needs and CloudFormation cannot check, checked
before `sls deploy` starts (`make deploy` runs it first; so does the deploy workflow, through make).

Each of these would otherwise show only on AWS, after minutes, as a rollback or a broken stage:

- the site's origin (WSCHAT_SITE_ORIGIN): the one origin the HTTP API allows (CORS). Without it, or
  with serverless.yml's placeholder, the published site cannot sign anyone in;
- the stage's JWT secret in SSM, in the region the stack goes to: without it every sign-in and
  every connection fails (the functions read it there);
- API Gateway's CloudWatch role, a one-time setting of the account and region: without it the
  WebSocket stage (access logs on) fails to create ("CloudWatch Logs role ARN must be set in
  account settings") and the first deploy rolls back;
- room in the account's Lambda concurrency for the sweep's reservation of 1: Lambda refuses a
  reservation that leaves fewer than 10 unreserved (a new account's quota can be 10).

Needs Python and boto3 only, and read-only calls (the deploy role grants them: ops/deploy-role/).
Every failure is reported, not just the first; the exit code is 1 if any.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping

from ops.region import RegionConflict, resolve_region
from ops.secret import parameter_names

# serverless.yml's default for a stage packaged for a look; never deployed.
PLACEHOLDER_ORIGIN = "https://owner.github.io"
# scheme://host[:port], lower case, no path: what API Gateway compares a browser's Origin with.
ORIGIN = re.compile(r"https://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:[0-9]{1,5})?")
# Lambda keeps this much of the account's concurrency unreserved; a reservation may not eat into it.
UNRESERVED_MINIMUM = 10
SWEEP_RESERVATION = 1
# Where the API Gateway setting is explained (and the commands that make it).
LOGGING_ROLE_DOCS = "docs/deploy.md, \"The account's API Gateway logging role\""


def origin_problem(origin: str | None) -> str | None:
    """Why `origin` cannot be a deployed stage's site origin, or None."""
    if not origin:
        return "WSCHAT_SITE_ORIGIN is not set: export the site's origin, e.g. https://<owner>.github.io"
    if origin == PLACEHOLDER_ORIGIN:
        return f"WSCHAT_SITE_ORIGIN is serverless.yml's placeholder {PLACEHOLDER_ORIGIN}, not your site's origin"
    if not ORIGIN.fullmatch(origin):
        return f"WSCHAT_SITE_ORIGIN {origin!r} is not https://host[:port] (lower case, no path, no trailing slash)"
    return None


def _code(exc) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def secret_problem(stage: str, region: str, ssm) -> str | None:
    from botocore.exceptions import ClientError

    current, _ = parameter_names(stage)
    try:
        ssm.get_parameter(Name=current)  # not decrypted: only whether it is there
    except ClientError as exc:
        if _code(exc) == "ParameterNotFound":
            return f"the JWT secret {current} does not exist in {region}: make secret STAGE={stage} REGION={region}"
        return f"cannot read {current} in {region}: {_code(exc)}"
    return None


def logging_role_problem(region: str, apigateway) -> str | None:
    from botocore.exceptions import ClientError

    try:
        role = apigateway.get_account().get("cloudwatchRoleArn")
    except ClientError as exc:
        return f"cannot read API Gateway's account settings in {region}: {_code(exc)}"
    if not role:
        return (f"API Gateway in {region} has no CloudWatch role (its account settings), which the WebSocket "
                f"access logs need: set it once ({LOGGING_ROLE_DOCS})")
    return None


def concurrency_problem(stage: str, region: str, lambda_client) -> str | None:
    from botocore.exceptions import ClientError

    try:
        try:
            reserved = lambda_client.get_function_concurrency(FunctionName=f"wschat-{stage}-sweep")
            if reserved.get("ReservedConcurrentExecutions") == SWEEP_RESERVATION:
                return None  # an earlier deploy holds it already
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
        unreserved = lambda_client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    except ClientError as exc:
        return f"cannot read Lambda's account settings in {region}: {_code(exc)}"
    if unreserved - SWEEP_RESERVATION < UNRESERVED_MINIMUM:
        return (f"Lambda in {region} has {unreserved} unreserved concurrent executions; the sweep reserves "
                f"{SWEEP_RESERVATION} and Lambda keeps {UNRESERVED_MINIMUM} unreserved: ask for a higher "
                f"\"Concurrent executions\" quota (Service Quotas) first")
    return None


def run(stage: str, *, region: str | None = None, environ: Mapping[str, str] | None = None, ssm=None,
        apigateway=None, lambda_client=None, out=None, err=None) -> int:
    """Check everything; print each problem. 0 when the stage may be deployed, 1 when not, 2 on bad use."""
    out, err = out or sys.stdout, err or sys.stderr
    env = os.environ if environ is None else environ
    if stage == "local":
        print("make deploy: the local stage is not deployed (make dev runs it)", file=err)
        return 2
    try:
        region = resolve_region(region, env, stage=stage)
    except RegionConflict as exc:
        print(f"make deploy: {exc}", file=err)
        return 2
    # The origin first: it needs no AWS call, so a shell with no credentials learns it at once.
    problems = [problem for problem in [origin_problem(env.get("WSCHAT_SITE_ORIGIN"))] if problem]
    if not problems:
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            ssm = ssm or boto3.client("ssm", region_name=region)
            apigateway = apigateway or boto3.client("apigateway", region_name=region)
            lambda_client = lambda_client or boto3.client("lambda", region_name=region)
            problems += [problem for problem in (
                secret_problem(stage, region, ssm),
                logging_role_problem(region, apigateway),
                concurrency_problem(stage, region, lambda_client),
            ) if problem]
        except BotoCoreError as exc:  # no credentials, no network
            problems.append(f"cannot reach AWS in {region}: {exc}")
    for problem in problems:
        print(f"make deploy: {problem}", file=err)
    if problems:
        print(f"make deploy: stage {stage} not deployed to {region}", file=err)
        return 1
    print(f"make deploy: stage {stage} can be deployed to {region} (site origin {env['WSCHAT_SITE_ORIGIN']})", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.predeploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", help="else the stage's own (ops/regions.json), AWS_REGION, ... (ops/region.py)")
    args = parser.parse_args(argv)
    return run(args.stage, region=args.region)


if __name__ == "__main__":
    sys.exit(main())
