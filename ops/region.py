"""The AWS region every wschat tool uses, resolved one way everywhere.

A stage named in ops/regions.json lives in the region it gives there, whoever deploys it: the
deploy workflow on a runner, `make secret` on an operator's laptop whose profile says otherwise.
A `--region` that contradicts it is refused (RegionConflict); AWS_REGION and the profile, which are
ambient, do not count for such a stage. serverless.yml reads the same file.

Any other stage, or none: an explicit value (a `--region` flag), then `AWS_REGION`, then
`AWS_DEFAULT_REGION`, then the `region` of the active profile in the AWS config file (`AWS_PROFILE`,
else `AWS_DEFAULT_PROFILE`, else `default`; the file is `AWS_CONFIG_FILE`, else `~/.aws/config`),
then us-east-1.

Standard library only (no boto3, nothing from handler/), so any script can import it cheaply.
`python -m ops.region [--stage S] [--region R]` prints it (the Makefile passes it to `sls --region`).
"""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_REGION = "us-east-1"
# {stage: region} of the stages that live in one region whoever deploys them.
STAGE_REGIONS = Path(__file__).resolve().with_name("regions.json")


class RegionConflict(ValueError):
    """Raised when an explicit region contradicts the stage's own in ops/regions.json."""


def stage_region(stage: str | None, path: Path = STAGE_REGIONS) -> str | None:
    """The region ops/regions.json gives `stage`, or None."""
    if not stage:
        return None
    pinned = json.loads(path.read_text(encoding="utf-8"))
    return pinned.get(stage)


def resolve_region(explicit: str | None = None, environ: Mapping[str, str] | None = None,
                   stage: str | None = None) -> str:
    """The region to use: the stage's own (ops/regions.json), else `explicit`, AWS_REGION,
    AWS_DEFAULT_REGION, the profile's region, us-east-1.

    Empty values count as unset. `environ` defaults to os.environ (tests pass their own).
    """
    pinned = stage_region(stage)
    if pinned:
        if explicit and explicit.strip() and explicit.strip() != pinned:
            raise RegionConflict(f"stage {stage} lives in {pinned} (ops/regions.json), not {explicit.strip()}; "
                                 f"change ops/regions.json to move it")
        return pinned
    env = os.environ if environ is None else environ
    for candidate in (explicit, env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION"), profile_region(env)):
        if candidate and candidate.strip():
            return candidate.strip()
    return DEFAULT_REGION


def profile_region(environ: Mapping[str, str] | None = None) -> str | None:
    """The `region` of the active profile in the AWS config file, or None."""
    env = os.environ if environ is None else environ
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    config_file = env.get("AWS_CONFIG_FILE")
    if config_file:
        path = Path(config_file).expanduser()
    else:
        home = env.get("HOME")
        path = (Path(home) if home else Path.home()) / ".aws" / "config"
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    # The AWS CLI names profiles `[profile NAME]`; the default one may be `[default]` or `[profile default]`.
    sections = ["default", "profile default"] if profile == "default" else [f"profile {profile}"]
    for section in sections:
        if parser.has_section(section):
            region = parser.get(section, "region", fallback="").strip()
            if region:
                return region
    return None


def main(argv: list[str] | None = None) -> int:
    """`python -m ops.region [--stage S] [--region R]`: print the region (what `make deploy` passes to sls)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m ops.region", description=main.__doc__)
    parser.add_argument("--stage", help="a stage named in ops/regions.json lives in the region it gives")
    parser.add_argument("--region", help="wins over everything else, except a contradicted ops/regions.json")
    args = parser.parse_args(argv)
    try:
        print(resolve_region(args.region, stage=args.stage))
    except RegionConflict as exc:
        print(f"ops.region: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
