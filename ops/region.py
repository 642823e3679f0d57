"""The AWS region every wschat tool uses, resolved one way everywhere.

Order: an explicit value (a `--region` flag), then `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the
`region` of the active profile in the AWS config file (`AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`,
else `default`; the file is `AWS_CONFIG_FILE`, else `~/.aws/config`), then us-east-1.

Standard library only (no boto3, nothing from handler/), so any script can import it cheaply.
`python -m ops.region [--region R]` prints it (the Makefile passes it to `sls --region`).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_REGION = "us-east-1"


def resolve_region(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The region to use: `explicit`, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1.

    Empty values count as unset. `environ` defaults to os.environ (tests pass their own).
    """
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
    """`python -m ops.region [--region R]`: print the region (what `make deploy` passes to sls)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ops.region", description=main.__doc__)
    parser.add_argument("--region", help="wins over everything else")
    print(resolve_region(parser.parse_args(argv).region))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
