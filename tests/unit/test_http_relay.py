"""devstack/http_relay.py: API Gateway's CORS decisions, and the relay in front of a stand-in upstream."""

import http.server
import json
import socket
import threading

import pytest
import requests

from devstack import http_relay
from devstack.http_relay import CorsRules, RelayServer, preflight_headers, response_headers, rules_from_config

SITE = "http://127.0.0.1:8080"
OTHER = "http://evil.example"
RULES = CorsRules(allow_origins=(SITE,), allow_methods=("POST",), allow_headers=("Content-Type", "Authorization"),
                  max_age=600)


def test_only_listed_origins_are_allowed():
    assert RULES.allows(SITE)
    assert not RULES.allows(OTHER)
    assert not RULES.allows(None) and not RULES.allows("")
    assert not RULES.allows(SITE + ".evil.example")  # a prefix is not the origin
    assert CorsRules(allow_origins=("*",)).allows(OTHER)
    https_only = CorsRules(allow_origins=("https://*",))
    assert https_only.allows("https://a.example") and not https_only.allows("http://a.example")


def test_a_preflight_from_the_site_gets_the_configured_headers():
    assert preflight_headers(RULES, {"Origin": SITE, "Access-Control-Request-Method": "POST"}) == {
        "Access-Control-Allow-Origin": SITE,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type,Authorization",
        "Access-Control-Max-Age": "600",
    }


def test_a_preflight_or_a_response_for_another_origin_gets_no_cors_header():
    assert preflight_headers(RULES, {"Origin": OTHER, "Access-Control-Request-Method": "POST"}) == {}
    assert response_headers(RULES, {"Origin": OTHER}) == {}
    assert response_headers(RULES, {}) == {}


def test_a_response_for_the_site_names_the_site_only():
    assert response_headers(RULES, {"Origin": SITE}) == {"Access-Control-Allow-Origin": SITE}
    exposing = CorsRules(allow_origins=("*",), expose_headers=("Date",), allow_credentials=False)
    assert response_headers(exposing, {"Origin": OTHER}) == {
        "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Date"}
    with_credentials = CorsRules(allow_origins=("*",), allow_credentials=True)
    assert response_headers(with_credentials, {"Origin": OTHER}) == {
        "Access-Control-Allow-Origin": OTHER, "Access-Control-Allow-Credentials": "true"}


def test_a_preflight_needs_origin_and_requested_method():
    assert http_relay.is_preflight("OPTIONS", {"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert not http_relay.is_preflight("OPTIONS", {"Origin": SITE})
    assert not http_relay.is_preflight("POST", {"Origin": SITE, "Access-Control-Request-Method": "POST"})


def test_rules_follow_the_stack_file_with_the_local_origins():
    cors = {"allowedOrigins": "${param:allowedOrigins}", "allowedHeaders": ["Content-Type", "Authorization"],
            "allowedMethods": ["POST"], "maxAge": 600}
    assert rules_from_config(cors, (SITE,)) == RULES
    # `cors: true` is the framework's defaults; no cors setting at all means no CORS headers.
    assert rules_from_config(True, (SITE,)) == CorsRules(allow_origins=(SITE,))
    assert rules_from_config(None, (SITE,)) == CorsRules(allow_origins=())
    # A setting left to a variable keeps the default.
    assert rules_from_config({"allowedHeaders": "${param:headers}"}, (SITE,)).allow_headers == \
        http_relay.FRAMEWORK_DEFAULT_HEADERS


def test_origins_come_from_the_variable_the_stack_sets():
    assert http_relay.origins_from_env({"WSCHAT_ALLOWED_ORIGINS": f" {SITE}, https://a.example ,"}) == (
        SITE, "https://a.example")
    assert http_relay.origins_from_env({}) == ()


def test_upstream_cors_and_connection_headers_are_not_relayed():
    assert not http_relay.relayed_header("Access-Control-Allow-Origin")
    assert not http_relay.relayed_header("access-control-allow-credentials")
    assert not http_relay.relayed_header("Connection") and not http_relay.relayed_header("Transfer-Encoding")
    assert http_relay.relayed_header("Content-Type") and http_relay.relayed_header("Vary")


# -- the relay, in front of a stand-in for sls offline ------------------------------------------------


class _Upstream(http.server.BaseHTTPRequestHandler):
    """Answers like sls offline with `cors` set: any Origin copied into Access-Control-Allow-Origin."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = json.dumps({"sourceIp": self.client_address[0], "path": self.path, "body": body.decode(),
                             "authorization": self.headers.get("Authorization")}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args):
        pass


def _serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def relay():
    upstream = _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream))
    relay = _serve(RelayServer(0, upstream.server_address[1], RULES))
    yield f"http://127.0.0.1:{relay.server_address[1]}", upstream
    for server in (relay, upstream):
        server.shutdown()
        server.server_close()


def test_the_relay_passes_requests_through_with_api_gateways_cors_answers(relay):
    url, _ = relay
    response = requests.post(f"{url}/login?x=1", json={"a": 1}, headers={"Origin": SITE, "Authorization": "Bearer t"},
                             timeout=10)
    assert response.status_code == 201
    assert response.json() == {"sourceIp": "127.0.0.1", "path": "/login?x=1", "body": '{"a": 1}',
                               "authorization": "Bearer t"}
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "Access-Control-Allow-Credentials" not in response.headers  # the upstream's, dropped

    other = requests.post(f"{url}/login", json={}, headers={"Origin": OTHER}, timeout=10)
    assert other.status_code == 201 and not any(h.lower().startswith("access-control") for h in other.headers)

    preflight = requests.options(f"{url}/logout", headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"},
                                 timeout=10)
    assert preflight.status_code == 204 and "Access-Control-Allow-Origin" not in preflight.headers


def test_the_relay_keeps_the_clients_address(relay):
    # sls offline reports the TCP peer as sourceIp: per-address limits must still see the client.
    url, _ = relay
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter()
    session.mount("http://", adapter)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            pytest.skip("127.0.0.2 is not a local address here")
    adapter.init_poolmanager(1, 1, source_address=("127.0.0.2", 0))
    assert session.post(f"{url}/login", json={}, timeout=10).json()["sourceIp"] == "127.0.0.2"


def test_the_relay_answers_502_when_the_upstream_is_down(relay):
    url, upstream = relay
    upstream.shutdown()
    upstream.server_close()
    response = requests.post(f"{url}/login", json={}, headers={"Origin": SITE}, timeout=10)
    assert response.status_code == 502 and "did not answer" in response.json()["message"]
    assert response.headers["Access-Control-Allow-Origin"] == SITE
