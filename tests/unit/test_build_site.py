"""build_site.py: endpoints from the stack's outputs (moto's CloudFormation), the rendered pages."""

import json

import boto3
import pytest
from moto import mock_aws

import build_site

TEMPLATE_WITH_OUTPUTS = {
    "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "WebSocketUrl": {"Value": "wss://abc123.execute-api.us-east-1.amazonaws.com/dev"},
        "HttpApiUrl": {"Value": "https://def456.execute-api.us-east-1.amazonaws.com"},
    },
}


@pytest.fixture
def cloudformation():
    with mock_aws():
        yield boto3.client("cloudformation", region_name="us-east-1")


def config_block(html: str) -> dict:
    start = html.index('id="wschat-config">') + len('id="wschat-config">')
    return json.loads(html[start:html.index("</script>", start)])


def test_site_is_built_from_the_stack_outputs(cloudformation, tmp_path):
    cloudformation.create_stack(StackName="wschat-dev", TemplateBody=json.dumps(TEMPLATE_WITH_OUTPUTS))
    assert build_site.main(["--stage", "dev", "--region", "us-east-1", "--out", str(tmp_path / "site")]) == 0
    site = tmp_path / "site"
    assert (site / ".nojekyll").exists()
    assert (site / "static/js/chat.js").exists() and (site / "static/css/app.css").exists()
    for page in ("index.html", "chat.html"):
        html = (site / page).read_text()
        config = config_block(html)
        assert config["wsUrl"] == "wss://abc123.execute-api.us-east-1.amazonaws.com/dev"
        assert config["httpUrl"] == "https://def456.execute-api.us-east-1.amazonaws.com"
        assert config["stage"] == "dev" and config["heartbeatSeconds"] == 240
        # Relative links only, so the site works under any GitHub Pages path.
        assert 'href="/' not in html and 'src="/' not in html
        assert "connect-src https://def456.execute-api.us-east-1.amazonaws.com wss://abc123" in html


def test_missing_stack_is_a_one_line_error(cloudformation, tmp_path, capsys):
    assert build_site.main(["--stage", "nope", "--region", "us-east-1", "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("build_site: stack wschat-nope not found") and "\n" not in err


def test_missing_output_is_named(cloudformation, tmp_path, capsys):
    template = {"Resources": TEMPLATE_WITH_OUTPUTS["Resources"],
                "Outputs": {"WebSocketUrl": TEMPLATE_WITH_OUTPUTS["Outputs"]["WebSocketUrl"]}}
    cloudformation.create_stack(StackName="wschat-half", TemplateBody=json.dumps(template))
    assert build_site.main(["--stage", "half", "--region", "us-east-1", "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "build_site: stack wschat-half has no output HttpApiUrl: redeploy it with this serverless.yml"


def test_local_build_uses_local_ports(tmp_path, monkeypatch):
    monkeypatch.setenv("WSCHAT_HTTP_PORT", "4000")
    monkeypatch.setenv("WSCHAT_WS_PORT", "4001")
    assert build_site.main(["--local", "--out", str(tmp_path / "site")]) == 0
    config = config_block((tmp_path / "site/chat.html").read_text())
    assert config["wsUrl"] == "ws://127.0.0.1:4001" and config["httpUrl"] == "http://127.0.0.1:4000"


def test_config_cannot_break_out_of_its_script_block(tmp_path):
    evil = {"wsUrl": "ws://x</script><script>alert(1)</script>", "httpUrl": "http://y"}
    build_site.render_site(build_site.site_config(evil, "dev", 240), tmp_path / "site")
    html = (tmp_path / "site/index.html").read_text()
    assert "<script>alert(1)" not in html
    assert config_block(html)["wsUrl"] == evil["wsUrl"]


def test_custom_domain_urls_override_the_outputs(cloudformation, tmp_path):
    cloudformation.create_stack(StackName="wschat-prod", TemplateBody=json.dumps(TEMPLATE_WITH_OUTPUTS))
    assert build_site.main(["--stage", "prod", "--region", "us-east-1", "--out", str(tmp_path / "site"),
                            "--ws-url", "wss://ws.chat.example.com", "--http-url", "https://api.chat.example.com"]) == 0
    config = config_block((tmp_path / "site/index.html").read_text())
    assert config["wsUrl"] == "wss://ws.chat.example.com" and config["httpUrl"] == "https://api.chat.example.com"
