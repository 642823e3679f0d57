"""`python -m ops.admin --stage prod --user alice [--revoke]`: make a member a site admin of a
stage, or no longer one (what `make admin` runs).

A site admin moderates every room, public rooms nobody owns included (handler/rooms.py). The role
is the `role` attribute of the user's row in the stage's Users table; the functions read it at
`$connect` and keep it on the connection row, so a change takes effect on the user's next
connection. Needs only Python and boto3 (and AWS credentials, except for the local stage, whose
DynamoDB Local it finds at WSCHAT_DDB_PORT).
"""

from __future__ import annotations

import argparse
import os
import sys

from ops.region import RegionConflict, resolve_region


def run(stage: str, user: str, *, revoke: bool = False, region: str | None = None, dynamodb=None,
        out=None, err=None) -> int:
    from handler.errors import StorageUnavailable
    from handler.settings import Settings
    from handler.store.accounts import AccountsStore

    out, err = out or sys.stdout, err or sys.stderr
    try:
        region = resolve_region(region, stage=stage)
    except RegionConflict as exc:
        print(f"make admin: {exc}", file=err)
        return 2
    env = {"WSCHAT_STAGE": stage, "AWS_REGION": region}
    if dynamodb is None:
        import boto3

        endpoint = None
        if stage == "local":
            endpoint = f"http://127.0.0.1:{os.environ.get('WSCHAT_DDB_PORT', '8000')}"
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)
    store = AccountsStore(dynamodb, Settings.from_env(env).tables)
    try:
        changed = store.set_admin(user, not revoke)
    except StorageUnavailable as exc:
        print(f"make admin: could not update the Users table of stage {stage} in {region}: {exc}", file=err)
        return 1
    if not changed:
        print(f"make admin: no member {user!r} in stage {stage} (guests cannot be admins)", file=err)
        return 1
    what = "is no longer a site admin" if revoke else "is a site admin"
    print(f"{user} {what} of stage {stage} (from their next connection)", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.admin", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--region")
    parser.add_argument("--revoke", action="store_true", help="take the role away")
    args = parser.parse_args(argv)
    return run(args.stage, args.user, revoke=args.revoke, region=args.region)


if __name__ == "__main__":
    sys.exit(main())
