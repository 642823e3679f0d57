"""Settings from the environment, and the JWT signing keys: inline locally, from SSM Parameter
Store (moto) on AWS, cached for a while, refreshed after a rotation, the previous one accepted."""

import boto3
import pytest
from moto import mock_aws

from handler.limits import Budget
from handler.settings import ConfigError, Settings
from handler.signing_keys import SigningKeys

PARAM = "/wschat/test/jwt-secret"
SSM_SECRET = "s" * 48


def keys_from(env: dict, ssm=None, clock=lambda: 0.0, wall_clock=lambda: 1_000_000.0) -> SigningKeys:
    return SigningKeys(Settings.from_env(env).accounts, lambda: ssm, clock, wall_clock)


@pytest.fixture
def ssm():
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1")
        client.put_parameter(Name=PARAM, Value=SSM_SECRET, Type="SecureString")
        yield client


def test_settings_are_grouped_and_defaulted():
    settings = Settings.from_env({"WSCHAT_STAGE": "prod", "AWS_REGION": "eu-west-1", "WSCHAT_MESSAGE_BURST": "3"})
    assert settings.tables.connections == "wschat-prod-ActiveConnections"
    assert settings.region == "eu-west-1" and settings.audience == "wschat-prod"
    assert (settings.limits.message.burst, settings.limits.message.rate) == (3, 2)
    limits = settings.limits
    assert (limits.join, limits.history) == (Budget(5, 0.5), Budget(10, 1))
    assert limits.presence == Budget(4, 0.2)
    assert (limits.max_connections_per_user, limits.client_msg_id_seconds) == (5, 600)
    assert settings.fanout.batch_size == 250 and settings.fanout.function_name is None
    assert settings.accounts.jwt_secret_param == "/wschat/prod/jwt-secret"


@pytest.mark.parametrize("name, value", [("WSCHAT_TOKEN_TTL_SECONDS", "an hour"), ("WSCHAT_MESSAGE_RATE", "fast"),
                                         ("WSCHAT_FANOUT_BATCH_SIZE", "0"), ("WSCHAT_MESSAGE_RATE", "0"),
                                         ("WSCHAT_JOIN_BURST", "0.5"), ("WSCHAT_MAX_CONNECTIONS_PER_USER", "0")])
def test_a_bad_setting_is_named(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_inline_secret_is_used_and_checked():
    assert keys_from({"WSCHAT_JWT_SECRET": SSM_SECRET}).current() == SSM_SECRET.encode()
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        keys_from({"WSCHAT_JWT_SECRET": "too-short"}).current()


def test_secret_comes_from_ssm_when_not_inline(ssm):
    assert keys_from({"WSCHAT_JWT_SECRET_PARAM": PARAM}, ssm).accepted() == [SSM_SECRET.encode()]


def test_a_rotation_by_make_secret_takes_effect_after_the_cache_and_keeps_the_old_secret_for_its_grace(ssm):
    from ops.secret import run

    now, wall = [0.0], [1_000_000.0]
    keys = keys_from({"WSCHAT_JWT_SECRET_PARAM": PARAM, "WSCHAT_JWT_SECRET_CACHE_SECONDS": "300"}, ssm,
                     lambda: now[0], lambda: wall[0])
    assert keys.current() == SSM_SECRET.encode()
    assert run("test", rotate=True, grace_seconds=7200, ssm=ssm, now=lambda: wall[0], out=open("/dev/null", "w")) == 0
    rotated = ssm.get_parameter(Name=PARAM, WithDecryption=True)["Parameter"]["Value"].encode()
    now[0] = 299.0
    assert keys.current() == SSM_SECRET.encode()  # cached: no SSM call per request
    now[0] = 300.0
    assert keys.accepted() == [rotated, SSM_SECRET.encode()]  # the new one signs, the old one still passes
    wall[0] += 7200
    assert keys.accepted() == [rotated]  # the grace period is over


def test_a_failed_refresh_keeps_the_cached_secret(ssm):
    now = [0.0]
    calls = []

    def client():
        calls.append(1)
        if len(calls) > 1:
            ssm.delete_parameter(Name=PARAM)
        return ssm

    keys = SigningKeys(Settings.from_env({"WSCHAT_JWT_SECRET_PARAM": PARAM}).accounts, client, lambda: now[0])
    assert keys.current() == SSM_SECRET.encode()
    now[0] = 10_000.0
    assert keys.current() == SSM_SECRET.encode()
    assert len(calls) == 2


def test_missing_parameter_is_a_config_error_naming_it(ssm):
    with pytest.raises(ConfigError, match="/wschat/test/nothing-here"):
        keys_from({"WSCHAT_JWT_SECRET_PARAM": "/wschat/test/nothing-here"}, ssm).current()


def test_login_without_a_usable_secret_is_a_500_not_a_crash(ssm, monkeypatch, dynamodb):
    import json

    from handler import http_auth
    from tests.unit.conftest import install_app, load_event

    # The stage's own parameter (the role may read it), missing.
    ssm.delete_parameter(Name=PARAM)
    monkeypatch.setenv("WSCHAT_JWT_SECRET", "")
    monkeypatch.setenv("WSCHAT_JWT_SECRET_PARAM", PARAM)
    install_app(ssm_client=ssm)
    event = load_event("http_login")
    event["body"] = json.dumps({})
    response = http_auth.guest(event)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "server misconfigured"}


def test_login_limits_and_the_guest_name_hold_have_defaults_and_env_names():
    limits, accounts = Settings.from_env({}).limits, Settings.from_env({}).accounts
    assert (limits.login_max_failures, limits.login_window_seconds, limits.login_address_max_failures) == (5, 900, 100)
    assert (limits.login_slowdown_after, limits.login_slowdown_window_seconds, limits.login_slowdown_base_seconds,
            limits.login_slowdown_max_seconds, limits.login_known_address_days) == (10, 86400, 1, 900, 30)
    assert accounts.guest_name_hold_days == 92  # max(30, 90) days of retention, and 2 for TTL's delay
    env = {"WSCHAT_LOGIN_ADDRESS_MAX_FAILURES": "7", "WSCHAT_LOGIN_SLOWDOWN_AFTER": "3",
           "WSCHAT_LOGIN_SLOWDOWN_WINDOW_SECONDS": "600", "WSCHAT_LOGIN_SLOWDOWN_BASE_SECONDS": "2",
           "WSCHAT_LOGIN_SLOWDOWN_MAX_SECONDS": "60", "WSCHAT_LOGIN_KNOWN_ADDRESS_DAYS": "0",
           "WSCHAT_SESSION_RETENTION_DAYS": "365", "WSCHAT_GUEST_NAME_HOLD_DAYS": ""}
    settings = Settings.from_env(env)
    assert (settings.limits.login_address_max_failures, settings.limits.login_slowdown_after,
            settings.limits.login_slowdown_window_seconds, settings.limits.login_slowdown_base_seconds,
            settings.limits.login_slowdown_max_seconds, settings.limits.login_known_address_days) == (7, 3, 600, 2, 60, 0)
    assert settings.accounts.guest_name_hold_days == 367
    assert Settings.from_env({"WSCHAT_GUEST_NAME_HOLD_DAYS": "400"}).accounts.guest_name_hold_days == 400
