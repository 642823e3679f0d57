"""ops/predeploy.py, which `make deploy` runs before `sls deploy`: a deploy that would ship the
placeholder origin, miss its secret in its region, meet an account with no API Gateway logging role
or no room for the sweep's reservation stops here, in seconds, instead of on AWS."""

import io
import os
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ops import predeploy
from ops.region import stage_region

ROOT = Path(__file__).resolve().parents[2]
PROD_REGION = stage_region("prod")
ORIGIN = "https://chat.example.org"


class LambdaAccount:
    """Lambda's account settings (moto does not serve them): this many unreserved executions, and
    the sweep's reservation if an earlier deploy made it."""

    def __init__(self, unreserved: int, sweep_reserved: int | None = None):
        self.unreserved, self.sweep_reserved = unreserved, sweep_reserved

    def get_account_settings(self):
        return {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": self.unreserved}}

    def get_function_concurrency(self, FunctionName):
        if self.sweep_reserved is None:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": FunctionName}},
                              "GetFunctionConcurrency")
        return {"ReservedConcurrentExecutions": self.sweep_reserved}


@pytest.fixture
def aws(monkeypatch, tmp_path):
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def ready(region: str = PROD_REGION) -> None:
    """An account and region where prod may be deployed: the secret and the logging role set."""
    boto3.client("ssm", region_name=region).put_parameter(Name="/wschat/prod/jwt-secret", Value="s" * 64,
                                                          Type="SecureString")
    boto3.client("apigateway", region_name=region).update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/apigw-logs"}])


def check(stage="prod", *, region=None, lambda_client=None, **environ) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = predeploy.run(stage, region=region, environ={"WSCHAT_SITE_ORIGIN": ORIGIN, **environ},
                         lambda_client=lambda_client or LambdaAccount(unreserved=990), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("origin", [None, "", "https://owner.github.io", "http://chat.example.org",
                                    "https://chat.example.org/", "https://chat.example.org/wschat",
                                    "https://Chat.Example.org", "https://localhost", "chat.example.org"])
def test_a_site_origin_that_cannot_be_the_sites_is_refused(origin):
    assert predeploy.origin_problem(origin)


@pytest.mark.parametrize("origin", ["https://chat.example.org", "https://owner.github.io:8443",
                                    "https://my-org.github.io"])
def test_a_sites_https_origin_is_accepted(origin):
    assert predeploy.origin_problem(origin) is None


def test_a_ready_account_may_be_deployed(aws):
    ready()
    code, out, err = check()
    assert (code, err) == (0, "") and f"stage prod can be deployed to {PROD_REGION}" in out


def test_the_placeholder_origin_stops_the_deploy_before_any_aws_call(aws):
    code, _, err = check(WSCHAT_SITE_ORIGIN="https://owner.github.io")  # and nothing is ready: not even asked
    assert code == 1 and "placeholder" in err and "jwt-secret" not in err


def test_a_secret_made_in_another_region_stops_the_deploy(aws):
    # The operator's shell says eu-west-1, where `make secret` used to follow it; prod lives in its own.
    ready(region="eu-west-1")
    code, _, err = check(AWS_REGION="eu-west-1")
    assert code == 1
    assert f"/wschat/prod/jwt-secret does not exist in {PROD_REGION}: make secret STAGE=prod REGION={PROD_REGION}" in err
    assert "no CloudWatch role" in err  # every problem is reported, not only the first


def test_an_account_without_api_gateways_logging_role_stops_the_deploy(aws):
    ready()
    boto3.client("apigateway", region_name=PROD_REGION).update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}])
    code, _, err = check()
    assert code == 1 and "no CloudWatch role" in err and "The account's API Gateway logging role" in err


@pytest.mark.parametrize("account, ok", [
    (LambdaAccount(unreserved=10), False),  # a new account's quota: no room for a reservation
    (LambdaAccount(unreserved=11), True),
    (LambdaAccount(unreserved=10, sweep_reserved=1), True),  # an earlier deploy reserved it already
])
def test_the_sweeps_reservation_needs_room_in_the_accounts_concurrency(aws, account, ok):
    ready()
    code, _, err = check(lambda_client=account)
    assert (code == 0) is ok, err
    assert ok or "Concurrent executions" in err


def test_a_region_that_contradicts_the_stages_own_is_refused(aws):
    other = "eu-west-1" if PROD_REGION != "eu-west-1" else "eu-west-2"
    code, _, err = check(region=other)
    assert code == 2 and "ops/regions.json" in err


def test_the_local_stage_is_not_deployed(aws):
    assert check("local")[0] == 2


def fake_npx(tmp_path: Path) -> dict:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "npx").write_text('#!/bin/sh\necho "npx $*"\n')
    (fake / "npx").chmod(0o755)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "WSCHAT_"))}
    env.update(PATH=f"{fake}{os.pathsep}{env['PATH']}", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    return env


@pytest.mark.parametrize("origin", [None, "https://owner.github.io"])
def test_make_deploy_stops_before_sls_without_the_sites_origin(tmp_path, origin):
    env = fake_npx(tmp_path)
    if origin:
        env["WSCHAT_SITE_ORIGIN"] = origin
    # -o: never reinstall node_modules or .venv here, whatever the timestamps say.
    result = subprocess.run(["make", "-s", "-o", "node_modules/.installed", "-o", "secret-deps", "deploy", "STAGE=prod"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "WSCHAT_SITE_ORIGIN" in result.stderr and "stage prod not deployed" in result.stderr
    assert "sls deploy" not in result.stdout
