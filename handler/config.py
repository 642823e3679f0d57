"""Settings read once per cold start from the environment that serverless.yml sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

TOKEN_ISSUER = "wschat"
# The secret signs every token; anything shorter than this is too easy to brute-force offline.
JWT_SECRET_MIN_BYTES = 32


class ConfigError(Exception):
    """Raised when a required setting is missing or malformed."""


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    stage: str
    connections_table: str
    sessions_table: str
    messages_table: str
    users_table: str
    limits_table: str
    allow_registration: bool
    allow_guests: bool
    token_ttl_seconds: int
    guest_token_ttl_seconds: int
    guest_session_limit_seconds: int
    member_session_limit_seconds: int
    message_retention_days: int
    session_retention_days: int
    ddb_endpoint: str | None
    management_endpoint: str | None
    jwt_secret_param: str

    @property
    def audience(self) -> str:
        # Tokens of one stage are useless on another.
        return f"wschat-{self.stage}"

    @classmethod
    def from_env(cls) -> "Settings":
        stage = os.environ.get("WSCHAT_STAGE", "local")
        return cls(
            stage=stage,
            connections_table=os.environ.get("WSCHAT_CONNECTIONS_TABLE", f"wschat-{stage}-ActiveConnections"),
            sessions_table=os.environ.get("WSCHAT_SESSIONS_TABLE", f"wschat-{stage}-SessionHistory"),
            messages_table=os.environ.get("WSCHAT_MESSAGES_TABLE", f"wschat-{stage}-MessageHistory"),
            users_table=os.environ.get("WSCHAT_USERS_TABLE", f"wschat-{stage}-Users"),
            limits_table=os.environ.get("WSCHAT_LIMITS_TABLE", f"wschat-{stage}-Limits"),
            allow_registration=_flag("WSCHAT_ALLOW_REGISTRATION", True),
            allow_guests=_flag("WSCHAT_ALLOW_GUESTS", True),
            token_ttl_seconds=_int("WSCHAT_TOKEN_TTL_SECONDS", 3600),
            guest_token_ttl_seconds=_int("WSCHAT_GUEST_TOKEN_TTL_SECONDS", 900),
            guest_session_limit_seconds=_int("WSCHAT_GUEST_SESSION_LIMIT_SECONDS", 900),
            member_session_limit_seconds=_int("WSCHAT_MEMBER_SESSION_LIMIT_SECONDS", 0),
            message_retention_days=_int("WSCHAT_MESSAGE_RETENTION_DAYS", 30),
            session_retention_days=_int("WSCHAT_SESSION_RETENTION_DAYS", 90),
            ddb_endpoint=os.environ.get("WSCHAT_DDB_ENDPOINT") or None,
            management_endpoint=os.environ.get("WSCHAT_MANAGEMENT_ENDPOINT") or None,
            jwt_secret_param=os.environ.get("WSCHAT_JWT_SECRET_PARAM", f"/wschat/{stage}/jwt-secret"),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def jwt_secret() -> bytes:
    """The token signing secret: inline for the local stage, from SSM Parameter Store on AWS.

    Cached for the life of the process, so SSM is asked once per cold start.
    """
    inline = os.environ.get("WSCHAT_JWT_SECRET", "")
    if inline:
        secret = inline
    else:
        secret = _secret_from_ssm(settings().jwt_secret_param)
    encoded = secret.encode("utf-8")
    if len(encoded) < JWT_SECRET_MIN_BYTES:
        raise ConfigError(f"the JWT secret must be at least {JWT_SECRET_MIN_BYTES} bytes")
    return encoded


def _secret_from_ssm(name: str) -> str:
    import boto3  # imported here: only AWS stages pay for it, and only once
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)
    except (BotoCoreError, ClientError) as exc:
        raise ConfigError(f"cannot read the JWT secret parameter {name}: {exc.__class__.__name__}") from None
    return response["Parameter"]["Value"]
