"""One region for every tool (ops/region.py: the stage's own in ops/regions.json, else --region,
AWS_REGION, AWS_DEFAULT_REGION, the active profile's region, us-east-1): for the same environment,
the stack (serverless.yml, make deploy), its secret (make secret) and the site's lookup of its
outputs (build_site.py) all pick the same one. `qa` stands for any stage ops/regions.json does not
name; prod is named there, so CI and every operator's machine agree on it."""

import io
import json
import os
import subprocess
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

import build_site
from ops import secret
from ops.region import resolve_region, stage_region
from tests.stack.conftest import package

ROOT = Path(__file__).resolve().parents[2]
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE")


def environment(tmp_path: Path, **settings: str) -> dict:
    """os.environ without any region setting (and no ~/.aws/config), plus `settings`."""
    env = {key: value for key, value in os.environ.items() if key not in REGION_VARIABLES}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "no-config"), AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
               SLS_TELEMETRY_DISABLED="1", **settings)
    return env


@pytest.fixture(scope="module")
def eu_west_2(tmp_path_factory) -> tuple[dict, Path]:
    """A stack packaged where only AWS_DEFAULT_REGION says where to go, as a user's shell might."""
    tmp = tmp_path_factory.mktemp("region")
    env = environment(tmp, AWS_DEFAULT_REGION="eu-west-2")
    out = tmp / "package"
    result = subprocess.run([str(ROOT / "node_modules/.bin/sls"), "package", "--stage", "qa", "--package", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return env, out


def test_prod_goes_to_its_own_region_whatever_the_shell_says(tmp_path):
    pinned = stage_region("prod")
    other = "eu-west-2" if pinned != "eu-west-2" else "eu-west-3"
    result = package(tmp_path / "out", AWS_REGION=other, AWS_DEFAULT_REGION=other, AWS_CONFIG_FILE=str(tmp_path / "x"))
    assert result.returncode == 0, result.stdout + result.stderr
    state = json.loads((tmp_path / "out/serverless-state.json").read_text())
    assert state["service"]["provider"]["region"] == pinned == resolve_region(None, {"AWS_REGION": other}, stage="prod")
    with mock_aws():
        out = io.StringIO()
        assert secret.run("prod", out=out) == 0  # `make secret STAGE=prod` from that shell
        assert f"created /wschat/prod/jwt-secret in {pinned}" in out.getvalue()
        err = io.StringIO()
        assert secret.run("prod", region=other, err=err) == 2 and "ops/regions.json" in err.getvalue()
    assert build_site.stack_region(None, "prod") == pinned


def test_the_stack_goes_to_the_region_the_environment_names(eu_west_2):
    env, out = eu_west_2
    state = json.loads((out / "serverless-state.json").read_text())
    assert state["service"]["provider"]["region"] == "eu-west-2" == resolve_region(None, env)
    # The template itself names no region: every ARN takes ${AWS::Region} of the stack's own.
    assert "us-east-1" not in (out / "cloudformation-template-update-stack.json").read_text()


def test_make_secret_and_build_site_look_where_the_stack_went(eu_west_2, monkeypatch, tmp_path):
    env, _ = eu_west_2
    for key in REGION_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key in ("AWS_DEFAULT_REGION", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(key, env[key])
    assert build_site.stack_region() == "eu-west-2"
    with mock_aws():
        out = io.StringIO()
        assert secret.run("qa", ssm=boto3.client("ssm", region_name="eu-west-2"), out=out) == 0
        assert "created /wschat/qa/jwt-secret in eu-west-2" in out.getvalue()
        # build_site asks CloudFormation in that region (moto has no stack there: it says so).
        assert build_site.main(["--stage", "qa", "--out", str(tmp_path / "site")]) == 1


def test_build_site_names_the_region_it_looked_in(monkeypatch, tmp_path, capsys):
    for key in REGION_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    with mock_aws():
        assert build_site.main(["--stage", "qa", "--out", str(tmp_path / "site")]) == 1
    assert "not found in ap-south-1" in capsys.readouterr().err


@pytest.mark.parametrize("settings, make_args, expected", [
    ({"AWS_PROFILE": "work"}, [], "ap-southeast-2"),  # the profile's region: beyond sls alone
    ({"AWS_PROFILE": "work", "AWS_DEFAULT_REGION": "eu-west-3"}, [], "eu-west-3"),
    ({"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-west-3"}, [], "eu-central-1"),
    ({"AWS_REGION": "eu-central-1"}, ["REGION=sa-east-1"], "sa-east-1"),
    ({}, [], "us-east-1"),
])
def test_make_deploy_passes_the_resolved_region_to_sls(tmp_path, settings, make_args, expected):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "npx").write_text('#!/bin/sh\necho "npx $*"\n')
    (fake / "npx").chmod(0o755)
    config = tmp_path / "config"
    config.write_text("[profile work]\nregion = ap-southeast-2\n")
    env = environment(tmp_path, **settings)
    env.update(PATH=f"{fake}{os.pathsep}{env['PATH']}", AWS_CONFIG_FILE=str(config))
    # -o: never reinstall node_modules here, whatever the timestamps say; the checks before a
    # deploy are tests/stack/test_predeploy.py's.
    result = subprocess.run(["make", "-s", "-o", "node_modules/.installed", "-o", "predeploy", "deploy", "STAGE=qa",
                             *make_args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"npx sls deploy --stage qa --region {expected}" in result.stdout
    assert resolve_region(dict(a.split("=") for a in make_args).get("REGION"), env) == expected
