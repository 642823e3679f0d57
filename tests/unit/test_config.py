"""Settings and the JWT secret: inline locally, from SSM Parameter Store (moto) on AWS, read once."""

import boto3
import pytest
from moto import mock_aws

from handler import config
from handler.config import ConfigError

PARAM = "/wschat/test/jwt-secret"
SSM_SECRET = "s" * 48


@pytest.fixture
def ssm_secret(monkeypatch):
    monkeypatch.setenv("WSCHAT_JWT_SECRET", "")
    monkeypatch.setenv("WSCHAT_JWT_SECRET_PARAM", PARAM)
    config.settings.cache_clear()
    config.jwt_secret.cache_clear()
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name=PARAM, Value=SSM_SECRET, Type="SecureString")
        yield ssm


def test_secret_comes_from_ssm_when_not_inline(ssm_secret):
    assert config.jwt_secret() == SSM_SECRET.encode()


def test_secret_is_read_once_per_process(ssm_secret):
    assert config.jwt_secret() == SSM_SECRET.encode()
    ssm_secret.put_parameter(Name=PARAM, Value="t" * 48, Type="SecureString", Overwrite=True)
    assert config.jwt_secret() == SSM_SECRET.encode()  # cached: no SSM call per request


def test_missing_parameter_is_a_config_error_naming_it(ssm_secret, monkeypatch):
    monkeypatch.setenv("WSCHAT_JWT_SECRET_PARAM", "/wschat/test/nothing-here")
    config.settings.cache_clear()
    with pytest.raises(ConfigError, match="/wschat/test/nothing-here"):
        config.jwt_secret()


def test_short_secret_is_refused(monkeypatch):
    monkeypatch.setenv("WSCHAT_JWT_SECRET", "too-short")
    config.jwt_secret.cache_clear()
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        config.jwt_secret()


def test_login_without_a_usable_secret_is_a_500_not_a_crash(ssm_secret, monkeypatch, dynamodb):
    import json

    from handler import http_auth
    from tests.unit.conftest import load_event

    monkeypatch.setenv("WSCHAT_JWT_SECRET_PARAM", "/wschat/test/nothing-here")
    config.settings.cache_clear()
    event = load_event("http_login")
    event["body"] = json.dumps({})
    response = http_auth.guest(event)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "server misconfigured"}


def test_bad_integer_setting_is_named(monkeypatch):
    monkeypatch.setenv("WSCHAT_TOKEN_TTL_SECONDS", "an hour")
    with pytest.raises(ConfigError, match="WSCHAT_TOKEN_TTL_SECONDS"):
        config.Settings.from_env()


def test_make_secret_creates_a_secure_string_once(monkeypatch, capsys):
    import argparse

    from devstack.__main__ import secret

    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        args = argparse.Namespace(stage="prod", region="us-east-1", rotate=False)
        assert secret(args, ssm) == 0
        stored = ssm.get_parameter(Name="/wschat/prod/jwt-secret", WithDecryption=True)["Parameter"]
        assert stored["Type"] == "SecureString" and len(stored["Value"]) >= 48
        assert secret(args, ssm) == 0  # a second run keeps the secret
        assert ssm.get_parameter(Name="/wschat/prod/jwt-secret", WithDecryption=True)["Parameter"]["Value"] == stored["Value"]
        assert secret(argparse.Namespace(stage="prod", region="us-east-1", rotate=True), ssm) == 0
        assert ssm.get_parameter(Name="/wschat/prod/jwt-secret", WithDecryption=True)["Parameter"]["Value"] != stored["Value"]
    out = capsys.readouterr().out
    assert stored["Value"] not in out and "exists already" in out
