"""handler/signing_keys.py under a cold-start storm: SSM throttles GetParameters (40 per second per
account and region); a throttled read is retried with capped exponential backoff and full jitter,
and only a read that keeps failing, or fails for another reason, is a ConfigError."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from handler import signing_keys
from handler.settings import ConfigError, Settings
from handler.signing_keys import SigningKeys

PARAM = "/wschat/test/jwt-secret"
SECRET = "s" * 64


class ThrottledSsm:
    """moto's SSM behind SSM's answer to too many calls, the first `throttled` times."""

    def __init__(self, ssm, throttled: int, code: str = "ThrottlingException"):
        self.ssm, self.throttled, self.code, self.calls = ssm, throttled, code, 0

    def get_parameters(self, **kwargs):
        self.calls += 1
        if self.calls <= self.throttled:
            raise ClientError({"Error": {"Code": self.code, "Message": "Rate exceeded"}}, "GetParameters")
        return self.ssm.get_parameters(**kwargs)


@pytest.fixture
def ssm():
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        client.put_parameter(Name=PARAM, Value=SECRET, Type="SecureString")
        yield client


def keys(client, waits: list) -> SigningKeys:
    # The jitter's upper bound is recorded as the wait: what the backoff allows, not a random draw.
    return SigningKeys(Settings.from_env({"WSCHAT_JWT_SECRET_PARAM": PARAM}).accounts, lambda: client,
                       sleep=waits.append, jitter=lambda low, high: high)


def test_a_throttled_read_is_retried_with_growing_capped_waits(ssm):
    waits = []
    throttled = ThrottledSsm(ssm, throttled=5)
    assert keys(throttled, waits).current() == SECRET.encode()
    assert throttled.calls == 6
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert sum(waits) < 10  # inside the function's timeout


def test_the_waits_are_jittered_between_zero_and_the_backoff():
    bounds = []
    client = ThrottledSsm(None, throttled=signing_keys.READ_ATTEMPTS)
    keys_ = SigningKeys(Settings.from_env({"WSCHAT_JWT_SECRET_PARAM": PARAM}).accounts, lambda: client,
                        sleep=lambda seconds: None, jitter=lambda low, high: bounds.append((low, high)) or low)
    with pytest.raises(ConfigError, match="ThrottlingException"):
        keys_.current()
    assert bounds == [(0, 0.1), (0, 0.2), (0, 0.4), (0, 0.8), (0, 1.6)]  # full jitter: anywhere from 0


def test_a_read_throttled_every_time_is_a_config_error_after_the_last_attempt(ssm):
    waits = []
    throttled = ThrottledSsm(ssm, throttled=100, code="TooManyRequestsException")
    with pytest.raises(ConfigError, match=f"{PARAM}: TooManyRequestsException"):
        keys(throttled, waits).current()
    assert throttled.calls == signing_keys.READ_ATTEMPTS and len(waits) == signing_keys.READ_ATTEMPTS - 1


def test_other_errors_are_not_retried(ssm):
    waits = []
    denied = ThrottledSsm(ssm, throttled=1, code="AccessDeniedException")
    with pytest.raises(ConfigError, match="AccessDeniedException"):
        keys(denied, waits).current()
    assert denied.calls == 1 and waits == []
