"""`make secret` (ops/secret.py) against moto's SSM: create, already there, rotate with a grace period.

The stage is `qa`, one ops/regions.json does not name, so that the region rules can be shown
(prod lives in its own region: tests/stack/test_region.py)."""

import io
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from moto import mock_aws

from devstack import __main__ as devstack_main
from ops import secret

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
CURRENT, PREVIOUS = "/wschat/qa/jwt-secret", "/wschat/qa/jwt-secret-previous"
T0 = 1_800_000_000


@pytest.fixture
def ssm():
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def run(ssm, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    kwargs.setdefault("region", REGION)
    code = secret.run("qa", ssm=ssm, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def value(ssm, name):
    return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def exists(ssm, name):
    return bool(ssm.get_parameters(Names=[name])["Parameters"])


def test_parameter_names():
    assert secret.parameter_names("qa") == (CURRENT, PREVIOUS)
    assert secret.parameter_names("dev") == ("/wschat/dev/jwt-secret", "/wschat/dev/jwt-secret-previous")


def test_creates_a_secure_string_and_never_prints_it(ssm):
    code, out, err = run(ssm)
    assert code == 0 and err == ""
    parameter = ssm.get_parameter(Name=CURRENT, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert len(parameter["Value"]) == 64 and len(parameter["Value"].encode()) >= 32  # what handler/config.py requires
    assert f"created {CURRENT} in {REGION}" in out
    assert parameter["Value"] not in out
    assert not exists(ssm, PREVIOUS)


def test_an_existing_secret_is_left_alone(ssm):
    run(ssm)
    before = value(ssm, CURRENT)
    code, out, err = run(ssm)
    assert code == 0 and err == ""
    assert "exists already" in out and "ROTATE=1" in out
    assert value(ssm, CURRENT) == before
    assert not exists(ssm, PREVIOUS)


def test_rotation_keeps_the_previous_secret_for_the_grace_period(ssm):
    run(ssm)
    old = value(ssm, CURRENT)
    code, out, err = run(ssm, rotate=True, now=lambda: T0)
    assert code == 0 and err == ""
    new = value(ssm, CURRENT)
    assert new != old and len(new) == 64
    previous = ssm.get_parameter(Name=PREVIOUS, WithDecryption=True)["Parameter"]
    assert previous["Type"] == "SecureString"
    assert json.loads(previous["Value"]) == {
        "secret": old, "rotatedAt": T0, "acceptUntil": T0 + secret.DEFAULT_GRACE_SECONDS,
    }
    assert f"rotated {CURRENT}" in out and PREVIOUS in out and "2027-01-15 10:00:00 UTC" in out
    assert old not in out and new not in out


def test_the_grace_period_can_be_chosen(ssm):
    run(ssm)
    assert run(ssm, rotate=True, grace_seconds=600, now=lambda: T0)[0] == 0
    assert json.loads(value(ssm, PREVIOUS))["acceptUntil"] == T0 + 600


def test_a_second_rotation_within_the_grace_period_is_refused_unless_forced(ssm):
    run(ssm)
    first = value(ssm, CURRENT)
    run(ssm, rotate=True, now=lambda: T0)
    second = value(ssm, CURRENT)
    code, out, err = run(ssm, rotate=True, now=lambda: T0 + 60)
    assert code == 1 and "still accepted until" in err and "FORCE=1" in err
    assert value(ssm, CURRENT) == second and json.loads(value(ssm, PREVIOUS))["secret"] == first  # nothing changed
    code, out, err = run(ssm, rotate=True, force=True, now=lambda: T0 + 60)
    assert code == 0
    assert json.loads(value(ssm, PREVIOUS))["secret"] == second and value(ssm, CURRENT) not in (first, second)


def test_a_rotation_after_the_grace_period_needs_no_force(ssm):
    run(ssm)
    run(ssm, rotate=True, now=lambda: T0)
    second = value(ssm, CURRENT)
    code, _, _ = run(ssm, rotate=True, now=lambda: T0 + secret.DEFAULT_GRACE_SECONDS + 1)
    assert code == 0 and json.loads(value(ssm, PREVIOUS))["secret"] == second


def test_rotation_without_grace_drops_the_previous_secret(ssm):
    run(ssm)
    run(ssm, rotate=True, now=lambda: T0)
    assert exists(ssm, PREVIOUS)
    before = value(ssm, CURRENT)
    code, out, err = run(ssm, rotate=True, grace_seconds=0, now=lambda: T0 + 60)
    assert code == 0 and "no grace" in out
    assert not exists(ssm, PREVIOUS) and value(ssm, CURRENT) != before
    assert run(ssm, rotate=True, grace_seconds=0)[0] == 0  # with no previous parameter either


def test_a_previous_parameter_not_written_by_this_tool_is_not_overwritten_silently(ssm):
    run(ssm)
    ssm.put_parameter(Name=PREVIOUS, Value="hand-made", Type="SecureString")
    code, _, err = run(ssm, rotate=True, now=lambda: T0)
    assert code == 1 and "not the JSON" in err
    assert value(ssm, PREVIOUS) == "hand-made"
    assert run(ssm, rotate=True, force=True, now=lambda: T0)[0] == 0


def test_rotating_a_missing_secret_creates_it(ssm):
    code, out, _ = run(ssm, rotate=True)
    assert code == 0 and "nothing to rotate" in out
    assert exists(ssm, CURRENT) and not exists(ssm, PREVIOUS)


def test_the_region_comes_from_the_environment_when_not_given(ssm, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    out = io.StringIO()
    assert secret.run("qa", out=out, err=io.StringIO()) == 0  # its own client
    assert "in eu-central-1" in out.getvalue()
    assert exists(boto3.client("ssm", region_name="eu-central-1"), CURRENT)
    assert not exists(ssm, CURRENT)  # not in eu-west-1


def test_aws_errors_are_reported_without_a_traceback():
    class NoCredentials:
        def put_parameter(self, **kwargs):
            raise NoCredentialsError()

    out, err = io.StringIO(), io.StringIO()
    assert secret.run("qa", region=REGION, ssm=NoCredentials(), out=out, err=err) == 1
    assert "Unable to locate credentials" in err.getvalue() and "Traceback" not in err.getvalue()


def test_both_command_lines_take_the_same_options(ssm, monkeypatch):
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: ssm)
    assert devstack_main.main(["secret", "--stage", "qa", "--region", REGION]) == 0
    before = value(ssm, CURRENT)
    assert secret.main(["--stage", "qa", "--rotate", "--grace-seconds", "60"]) == 0
    assert value(ssm, CURRENT) != before and json.loads(value(ssm, PREVIOUS))["secret"] == before
    assert secret.main(["--stage", "qa", "--rotate", "--grace-seconds", "-1"]) == 2


def test_the_command_needs_nothing_but_boto3():
    code = ("import sys, ops.secret; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'yaml', 'jinja2', 'handler', 'authorizer', 'websockets', 'requests', 'moto', 'playwright'}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_make_secret_needs_no_java_npm_or_test_toolchain():
    result = subprocess.run(
        ["make", "-n", "secret", "STAGE=dev", "REGION=eu-west-1", "ROTATE=1", "GRACE=600", "FORCE=0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    commands = result.stdout
    assert "-m ops.secret --stage dev --region eu-west-1" in commands
    assert "--rotate" in commands and "--grace-seconds 600" in commands and "--force" not in commands
    assert "boto3==" in commands  # only boto3 gets installed, at the pinned version
    for unwanted in ("npm", "java", "requirements-dev.txt -r", "-r requirements-dev.txt", "chromium"):
        assert unwanted not in commands
    off = subprocess.run(["make", "-n", "secret", "ROTATE=0"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--rotate" not in off.stdout
