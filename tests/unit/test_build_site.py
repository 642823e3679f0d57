"""build_site.py: endpoints from the stack's outputs (moto's CloudFormation), the rendered pages, and
the server's client contract as the pages' only source of patterns and limits."""

import json
import re
import shutil
import subprocess

import boto3
import pytest
from moto import mock_aws

import build_site
from handler import protocol

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


# -- the client contract ---------------------------------------------------------------------------

CONTRACT = protocol.client_contract()
ENDPOINTS = {"wsUrl": "wss://ws.example.com", "httpUrl": "https://api.example.com"}
PATTERNS = [key for key, value in CONTRACT.items() if key.endswith("Pattern")]
LIMITS = [key for key, value in CONTRACT.items() if isinstance(value, int) and not isinstance(value, bool)]


def without_config_block(html: str) -> str:
    start = html.index('id="wschat-config">')
    return html[:start] + html[html.index("</script>", start):]


def rendered_code(site) -> dict[str, str]:
    """Every rendered page (less its config block) and script: where no copy of a rule may be."""
    code = {page.name: without_config_block(page.read_text()) for page in site.glob("*.html")}
    scripts = site / "static/js"
    code.update({script.relative_to(scripts).as_posix(): script.read_text() for script in scripts.rglob("*.js")})
    return code


def test_every_page_carries_the_whole_client_contract(tmp_path):
    build_site.render_site(build_site.site_config(ENDPOINTS, "dev", 240), tmp_path / "site")
    for page in ("index.html", "chat.html"):
        config = config_block((tmp_path / "site" / page).read_text())
        assert {key: config[key] for key in CONTRACT} == CONTRACT


def test_pages_and_scripts_hold_no_copy_of_a_pattern_or_limit(tmp_path):
    # Rendered with stand-ins for every rule: the rules' real values must appear nowhere (a copy),
    # and the stand-ins must reach the form fields (the templates read them from the config).
    stand_ins = {key: f"stand-in-{key}" for key in PATTERNS}
    stand_ins.update({key: 90001 + n for n, key in enumerate(LIMITS)})
    site = tmp_path / "site"
    build_site.render_site({**build_site.site_config(ENDPOINTS, "dev", 240), **stand_ins}, site)
    code = rendered_code(site)

    for name, text in code.items():
        for key in PATTERNS:
            assert CONTRACT[key] not in text, f"{name} copies {key}"
            for char_class in re.findall(r"\[[^\]]+\]", CONTRACT[key]):
                assert char_class not in text, f"{name} copies {char_class} from {key}"
        for key in LIMITS:
            value = CONTRACT[key]
            assert f'="{value}"' not in text, f"{name} has an attribute copying {key}"
            # Single digits are too common in code (indexes, padding) to mean a copy; longer ones are not.
            if name.endswith(".js") and value >= 10:
                assert not re.search(rf"(?<![\w.]){value}(?![\w.])", text), f"{name} copies {key} ({value})"

    def field(page, selector):
        return re.search(rf'<input id="{selector}"[^>]*>', code[page]).group(0)

    expected = {
        ("chat.html", "room-input"): {"pattern": "roomPattern", "maxlength": "roomMaxChars"},
        # The rooms dialogs: a new room's name and topic, a username to invite or to message,
        # a ban's or mute's length.
        ("chat.html", "create-name"): {"pattern": "roomPattern", "maxlength": "roomMaxChars"},
        ("chat.html", "create-topic"): {"maxlength": "topicMaxChars"},
        ("chat.html", "invite-user"): {"pattern": "usernamePattern", "maxlength": "usernameMaxChars"},
        ("chat.html", "dm-user"): {"pattern": "usernamePattern", "maxlength": "usernameMaxChars"},
        ("chat.html", "moderate-minutes"): {"max": "moderationMaxMinutes"},
        ("index.html", "username"): {
            "pattern": "usernamePattern", "minlength": "usernameMinChars", "maxlength": "usernameMaxChars"},
        ("index.html", "password"): {"minlength": "passwordMinChars", "maxlength": "passwordMaxChars"},
    }
    for (page, input_id), attributes in expected.items():
        for attribute, key in attributes.items():
            assert f'{attribute}="{stand_ins[key]}"' in field(page, input_id), (input_id, attribute)
    assert f'maxlength="{stand_ins["messageMaxChars"]}"' in code["chat.html"]


def test_every_session_end_reason_has_a_login_notice():
    # The chat page maps the server's codes to the login page's ?reason= (session.js); a code
    # missing there would still work (read as expired) but say the wrong thing.
    session_js = (build_site.TEMPLATES / "static/js/session.js").read_text()
    for reason in CONTRACT["sessionEndReasons"]:
        assert f'["{reason}", ' in session_js


SAMPLES = {
    "roomPattern": ["general", "a", "A-b_9", "a" * 64, "a" * 65, "", "a b", "<img>", "caf\u00e9", "a\n"],
    "usernamePattern": ["alice", "bob.smith", "a-b_c", "ab", "x" * 32, "x" * 33, "al ice", "\u00e5sa", "abc\n"],
    "messageIdPattern": ["1795631234567a1b2c3", "1795631234567000000", "1795631234567A1B2C3", "179563123456a1b2c3", ""],
}


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_patterns_mean_the_same_in_python_and_in_the_browser():
    # Browsers compile a pattern attribute as ^(?:pattern)$ with the v flag; config.js does the same.
    assert set(SAMPLES) == set(PATTERNS)
    script = """
        const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
        console.log(JSON.stringify(cases.map(([p, s]) => new RegExp(`^(?:${p})$`, "v").test(s))));
    """
    cases = [(CONTRACT[key], sample) for key, samples in SAMPLES.items() for sample in samples]
    result = subprocess.run(["node", "-e", script], input=json.dumps(cases), capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [re.fullmatch(pattern, sample) is not None for pattern, sample in cases]


def test_the_message_features_read_their_limits_from_the_contract(tmp_path):
    # Edits, reactions, replies and typing (message_features/) follow the server's rules as the
    # config block gives them, never a number of their own.
    site = tmp_path / "site"
    build_site.render_site(build_site.site_config(ENDPOINTS, "dev", 240), site)
    scripts = "\n".join(path.read_text() for path in sorted((site / "static/js/message_features").glob("*.js")))
    for key in ("reactionKindsMax", "reactionNamesShown", "emojiMaxChars", "replyExcerptChars",
                "typingIntervalSeconds", "messageMaxChars"):
        assert f"config.{key}" in scripts, key


def test_every_action_the_page_sends_has_a_place_for_its_refusal():
    # An error frame names the action it answers (docs/protocol.md "Errors"); chat.js hands it to
    # the part of the page that sent it. An action sent but not routed would be refused in a
    # generic banner, and one routed to the wrong part would be said in the wrong place.
    js = build_site.TEMPLATES / "static/js"
    scripts = {path.relative_to(js).as_posix(): path.read_text() for path in js.rglob("*.js")}
    sent = {action for text in scripts.values() for action in re.findall(r'action: "([a-z]+)"', text)}
    assert sent <= {action.value for action in protocol.Action}

    def listed(script, name):
        body = re.search(rf"static {name} = \[(.*?)\];", scripts[script], re.S).group(1)
        return set(re.findall(r'"([a-z]+)"', body))

    chat = scripts["chat.js"]
    handlers = chat[chat.index("const refusalHandlers = {"):]
    handlers = handlers[:handlers.index("\n};")]
    own = set(re.findall(r"^  ([a-z]+)[(:]", handlers, re.M))
    features = listed("message_features/message_features.js", "ACTIONS")
    rooms = listed("rooms/rooms.js", "ACTIONS")
    assert not (own & features or own & rooms or features & rooms)
    # (Some actions are sent under a computed name: ban and mute share a dialog, invite and unban another.)
    assert sent <= own | features | rooms <= {action.value for action in protocol.Action}
