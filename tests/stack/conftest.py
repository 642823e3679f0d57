"""The prod stack packaged once for every test of tests/stack (`sls package` takes 10-20 s)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import local_iam as iam
from stackfiles import grants as stack_iam
from stackfiles.cloudformation import Where
from tests import iam_scenarios

ROOT = Path(__file__).resolve().parents[2]
STAGE = "prod"
# The site's origin a deploy must be given (serverless.yml has no default for prod).
SITE_ORIGIN = "https://chat.example.org"
# Where the packaged roles' ARNs are resolved: the scenarios' account, region and WebSocket API.
WHERE = Where(region=iam_scenarios.REGION, account=iam_scenarios.ACCOUNT, websocket_api=iam_scenarios.API_ID)


def package(out: Path, stage: str = STAGE, **env: str) -> subprocess.CompletedProcess:
    """`sls package --stage <stage>` into `out` with dummy credentials and `env` (no AWS account)."""
    full = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1",
                SLS_TELEMETRY_DISABLED="1", WSCHAT_SITE_ORIGIN=SITE_ORIGIN)
    full.pop("WSCHAT_JWT_SECRET", None)
    full.update(env)
    for key in [key for key, value in full.items() if value is None]:
        del full[key]
    return subprocess.run([str(ROOT / "node_modules/.bin/sls"), "package", "--stage", stage, "--package", str(out)],
                          cwd=ROOT, env=full, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def packaged(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    result = package(out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="session")
def template(packaged):
    return json.loads((packaged / "cloudformation-template-update-stack.json").read_text())


@pytest.fixture(scope="session")
def resources(template):
    return template["Resources"]


@pytest.fixture(scope="session")
def functions():
    return stack_iam.stack_functions(STAGE)


@pytest.fixture(scope="session")
def grants(template, functions) -> dict:
    """{function: [(action, resource pattern)]} of the packaged roles, managed policies included."""
    return stack_iam.template_grants(template, WHERE, functions)


@pytest.fixture(scope="session")
def scenario_calls(grants, functions) -> list:
    """Every call the functions' scenarios make, recorded against the packaged roles (nothing refused)."""
    policy = iam.Policy(grants, account=WHERE.account, websocket_api=WHERE.websocket_api, stage=STAGE,
                        deployed_names={f.key: f.name for f in functions}, roles={f.key: f.role for f in functions})
    return iam_scenarios.run(STAGE, policy, enforce=False).calls
