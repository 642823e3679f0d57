"""`make secret`: the stage's JWT secret as an SSM SecureString, never printed."""

import boto3
from moto import mock_aws


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
