"""`python -m ops.secret --stage prod [--rotate]`: a deployed stage's JWT secret in SSM (what `make secret` runs).

Needs only Python and boto3. Two SecureString parameters per stage:

- `/wschat/<stage>/jwt-secret`: the current secret, the raw string (64 URL-safe characters). Tokens are
  signed with it and checked against it.
- `/wschat/<stage>/jwt-secret-previous`: written by a rotation, JSON
  `{"secret": "<the secret before>", "rotatedAt": <epoch s>, "acceptUntil": <epoch s>}`. Tokens signed
  with `secret` may still be accepted (never issued) until `acceptUntil`; after that, or when the
  parameter is missing, only the current secret counts.

A rotation writes the previous parameter first and the new current value second, so a reader that
fetches both always finds every secret still in use. A second rotation while the previous secret is
still accepted would cut off the tokens signed with it: refused unless --force. `--grace-seconds 0`
rotates with no grace (a leaked secret): the previous parameter is deleted and every token issued so
far stops working as soon as the functions re-read the parameters.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from datetime import datetime, timezone

from ops.region import RegionConflict, resolve_region

# The longest token lifetime (tokenTtlSeconds, 3600) plus time for every warm function to re-read
# the parameters: tokens issued just before a rotation keep working until they expire.
DEFAULT_GRACE_SECONDS = 7200
DESCRIPTION = "wschat: signs and checks login tokens"
PREVIOUS_DESCRIPTION = "wschat: the JWT secret before the last rotation, accepted until acceptUntil (JSON)"


def parameter_names(stage: str) -> tuple[str, str]:
    """(current, previous) parameter names of a stage."""
    return f"/wschat/{stage}/jwt-secret", f"/wschat/{stage}/jwt-secret-previous"


def new_secret() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, 384 random bits


def _utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _code(exc) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _message(exc) -> str:
    return exc.response.get("Error", {}).get("Message") or str(exc)


def run(stage: str, *, region: str | None = None, rotate: bool = False, grace_seconds: int = DEFAULT_GRACE_SECONDS,
        force: bool = False, ssm=None, now=time.time, out=None, err=None) -> int:
    """Create (or with rotate=True, replace) the stage's secret; print names, never values. Returns an exit code."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    out = out or sys.stdout
    err = err or sys.stderr
    current, previous = parameter_names(stage)
    try:
        region = resolve_region(region, stage=stage)
    except RegionConflict as exc:
        print(f"make secret: {exc}", file=err)
        return 2

    def say(text: str) -> None:
        print(f"make secret: {text}", file=out)

    def fail(text: str) -> int:
        print(f"make secret: {text}", file=err)
        return 1

    try:
        ssm = ssm or boto3.client("ssm", region_name=region)
        if not rotate:
            try:
                ssm.put_parameter(Name=current, Value=new_secret(), Type="SecureString", Overwrite=False,
                                  Description=DESCRIPTION)
            except ClientError as exc:
                if _code(exc) != "ParameterAlreadyExists":
                    raise
                say(f"{current} exists already in {region}; pass ROTATE=1 to replace it "
                    f"(the old one stays accepted for {grace_seconds} s)")
                return 0
            say(f"created {current} in {region}")
            return 0

        try:
            old = ssm.get_parameter(Name=current, WithDecryption=True)["Parameter"]["Value"]
        except ClientError as exc:
            if _code(exc) != "ParameterNotFound":
                raise
            ssm.put_parameter(Name=current, Value=new_secret(), Type="SecureString", Overwrite=False,
                              Description=DESCRIPTION)
            say(f"created {current} in {region} (there was nothing to rotate)")
            return 0

        at = int(now())
        if grace_seconds > 0:
            if not force:
                until = _accepted_until(ssm, previous, ClientError)
                if until is None:
                    return fail(f"{previous} is not the JSON this tool writes; check it, or pass FORCE=1 to replace it")
                if until > at:
                    return fail(
                        f"the secret before the last rotation is still accepted until {_utc(until)}; rotating again "
                        f"now would cut off the tokens signed with it. Wait until then, or pass FORCE=1"
                    )
            until = at + grace_seconds
            ssm.put_parameter(
                Name=previous, Type="SecureString", Overwrite=True, Description=PREVIOUS_DESCRIPTION,
                Value=json.dumps({"secret": old, "rotatedAt": at, "acceptUntil": until}),
            )
        else:
            try:
                ssm.delete_parameter(Name=previous)
            except ClientError as exc:
                if _code(exc) != "ParameterNotFound":
                    raise
        ssm.put_parameter(Name=current, Value=new_secret(), Type="SecureString", Overwrite=True,
                          Description=DESCRIPTION)
    except ClientError as exc:
        return fail(f"cannot write the secret of stage {stage} in {region}: {_code(exc)}: {_message(exc)}")
    except BotoCoreError as exc:
        return fail(f"cannot write the secret of stage {stage} in {region}: {exc}")
    if grace_seconds > 0:
        say(f"rotated {current} in {region}; the one before stays accepted until {_utc(until)} ({previous})")
    else:
        say(f"rotated {current} in {region} with no grace: every token issued so far stops working")
    return 0


def _accepted_until(ssm, name: str, client_error) -> int | None:
    """acceptUntil of an existing previous parameter; 0 if there is none; None if it is not our JSON."""
    try:
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except client_error as exc:
        if _code(exc) == "ParameterNotFound":
            return 0
        raise
    try:
        until = json.loads(value)["acceptUntil"]
    except (ValueError, KeyError, TypeError):
        return None
    return until if isinstance(until, int) else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", help="else AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1")
    parser.add_argument("--rotate", action="store_true", help="replace the secret; the old one stays accepted for a while")
    parser.add_argument("--grace-seconds", type=int, default=DEFAULT_GRACE_SECONDS,
                        help=f"how long the old secret stays accepted after --rotate (default {DEFAULT_GRACE_SECONDS}; "
                             "0: not at all, for a leaked secret)")
    parser.add_argument("--force", action="store_true",
                        help="rotate even while the secret before the last rotation is still accepted")


def run_args(args: argparse.Namespace, ssm=None) -> int:
    # Options added after --stage/--region/--rotate default when a caller's Namespace lacks them.
    grace_seconds = getattr(args, "grace_seconds", DEFAULT_GRACE_SECONDS)
    if grace_seconds < 0:
        print("make secret: --grace-seconds must be 0 or more", file=sys.stderr)
        return 2
    return run(args.stage, region=getattr(args, "region", None), rotate=getattr(args, "rotate", False),
               grace_seconds=grace_seconds, force=getattr(args, "force", False), ssm=ssm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.secret", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
