"""ops/region.py: --region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region, then us-east-1."""

import subprocess
import sys
from pathlib import Path

import pytest

from ops.region import DEFAULT_REGION, profile_region, resolve_region

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config"
    path.write_text(
        "[default]\nregion = eu-north-1\n\n"
        "[profile work]\nregion = ap-south-1\n\n"
        "[profile noregion]\noutput = json\n"
    )
    return str(path)


def test_the_explicit_region_wins_over_everything(config):
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2", "AWS_CONFIG_FILE": config}
    assert resolve_region("sa-east-1", env) == "sa-east-1"


def test_aws_region_comes_before_aws_default_region(config):
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2", "AWS_CONFIG_FILE": config}
    assert resolve_region(None, env) == "eu-west-1"


def test_aws_default_region_comes_before_the_profile(config):
    assert resolve_region(None, {"AWS_DEFAULT_REGION": "eu-west-2", "AWS_CONFIG_FILE": config}) == "eu-west-2"


def test_the_profile_region_comes_next(config):
    assert resolve_region(None, {"AWS_CONFIG_FILE": config}) == "eu-north-1"  # [default]
    assert resolve_region(None, {"AWS_CONFIG_FILE": config, "AWS_PROFILE": "work"}) == "ap-south-1"
    assert resolve_region(None, {"AWS_CONFIG_FILE": config, "AWS_DEFAULT_PROFILE": "work"}) == "ap-south-1"


def test_us_east_1_when_nothing_says_otherwise(config, tmp_path):
    assert resolve_region(None, {"AWS_CONFIG_FILE": config, "AWS_PROFILE": "noregion"}) == DEFAULT_REGION
    assert resolve_region(None, {"AWS_CONFIG_FILE": config, "AWS_PROFILE": "unknown"}) == DEFAULT_REGION
    assert resolve_region(None, {"AWS_CONFIG_FILE": str(tmp_path / "missing")}) == DEFAULT_REGION
    assert resolve_region(None, {"HOME": str(tmp_path)}) == DEFAULT_REGION  # no ~/.aws/config
    assert DEFAULT_REGION == "us-east-1"


def test_empty_values_count_as_unset(config):
    env = {"AWS_REGION": "", "AWS_DEFAULT_REGION": "  ", "AWS_CONFIG_FILE": config}
    assert resolve_region("", env) == "eu-north-1"


def test_the_config_file_defaults_to_home_aws_config(tmp_path):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[profile default]\nregion = ca-central-1\n")
    assert profile_region({"HOME": str(tmp_path)}) == "ca-central-1"


def test_a_broken_config_file_is_ignored(tmp_path):
    broken = tmp_path / "config"
    broken.write_text("region = no section header\n")
    assert resolve_region(None, {"AWS_CONFIG_FILE": str(broken)}) == DEFAULT_REGION
    broken.write_bytes(b"[default]\nregion = \xff\xfe\n")
    assert resolve_region(None, {"AWS_CONFIG_FILE": str(broken)}) == DEFAULT_REGION


def test_os_environ_is_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_REGION", "me-south-1")
    assert resolve_region() == "me-south-1"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing"))
    assert resolve_region() == DEFAULT_REGION


def test_importing_it_pulls_in_no_aws_sdk_and_nothing_from_the_handlers():
    code = "import sys, ops.region; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
           "{'boto3', 'botocore', 'handler', 'authorizer', 'yaml', 'jinja2'}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
