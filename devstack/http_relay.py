"""API Gateway's CORS handling for the local HTTP API: a relay in front of sls offline's HTTP port.

serverless-offline 13.10.1, whenever `httpApi.cors` is set, copies any request's `Origin` into
`Access-Control-Allow-Origin` on every response that is not a preflight. API Gateway does not (AWS
page "Configure CORS for HTTP APIs in API Gateway"): it answers preflights itself, adds the
configured CORS headers to a response only when the request's origin is allowed, and ignores the
CORS headers the integration returns. This relay does the same, so that a page from another origin
fails locally as it would on AWS.

    python -m devstack.http_relay --port 3000 --upstream-port 3006

The allowed origins come from WSCHAT_ALLOWED_ORIGINS (comma-separated), which LocalStack sets and
the local stage's `allowedOrigins` parameter in serverless.yml reads too; the allowed methods and
headers, max age and credentials come from `provider.httpApi.cors` in serverless.yml.

The CORS decisions (CorsRules and the functions below it) do no I/O. The relay forwards each
request from the client's own address (any 127.x address is local), so that sls offline still
reports the client as `requestContext.http.sourceIp`.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import sys
from dataclasses import dataclass

ORIGINS_VARIABLE = "WSCHAT_ALLOWED_ORIGINS"

# What the framework configures for `cors: true` (osls, lib/plugins/aws/package/compile/events/
# http-api.js); it also lists each route's method, which "*" stands for here.
FRAMEWORK_DEFAULT_HEADERS = (
    "Content-Type", "X-Amz-Date", "Authorization", "X-Api-Key", "X-Amz-Security-Token", "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
)

# Headers that describe one connection, not the message (RFC 9110, section 7.6.1): never relayed.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade",
})

# sls offline runs the local stage's functions with a 30 s timeout: wait a little longer for it.
UPSTREAM_TIMEOUT_SECONDS = 45


@dataclass(frozen=True)
class CorsRules:
    """An HTTP API's CORS configuration, with the names of API Gateway's `CorsConfiguration`."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ("*",)
    allow_headers: tuple[str, ...] = FRAMEWORK_DEFAULT_HEADERS
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def allows(self, origin: str | None) -> bool:
        """True if `origin` is allowed: listed exactly, or matched by "*" or "<scheme>://*"."""
        if not origin:
            return False
        for allowed in self.allow_origins:
            if allowed in ("*", origin):
                return True
            if allowed.endswith("://*") and origin.startswith(allowed[:-1]):
                return True
        return False


def origins_from_env(environ=os.environ) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in environ.get(ORIGINS_VARIABLE, "").split(",") if origin.strip())


def rules_from_config(cors, origins: tuple[str, ...]) -> CorsRules:
    """The rules for `provider.httpApi.cors` as serverless.yml writes it, with the local origins.

    No cors setting means no CORS headers at all, as on AWS. Settings the file leaves to a variable
    (anything but a literal) keep the framework's defaults.
    """
    if not cors:
        return CorsRules()
    if cors is True or not isinstance(cors, dict):
        return CorsRules(allow_origins=origins)

    def strings(name, default):
        value = cors.get(name)
        if isinstance(value, list) and all(isinstance(item, str) and "${" not in item for item in value):
            return tuple(value)
        return default

    max_age = cors.get("maxAge")
    return CorsRules(
        allow_origins=origins,
        allow_methods=strings("allowedMethods", ("*",)),
        allow_headers=strings("allowedHeaders", FRAMEWORK_DEFAULT_HEADERS),
        expose_headers=strings("exposedResponseHeaders", ()),
        max_age=max_age if isinstance(max_age, int) else None,
        allow_credentials=cors.get("allowCredentials") is True,
    )


def load_rules(environ=os.environ) -> CorsRules:
    from stackfiles.config import load_config

    cors = load_config().get("provider", {}).get("httpApi", {}).get("cors")
    return rules_from_config(cors, origins_from_env(environ))


def is_preflight(method: str, headers) -> bool:
    """API Gateway answers a preflight itself: OPTIONS with Origin and Access-Control-Request-Method."""
    return method == "OPTIONS" and bool(headers.get("Origin")) and bool(headers.get("Access-Control-Request-Method"))


def _allow_origin(rules: CorsRules, origin: str) -> dict[str, str]:
    value = "*" if "*" in rules.allow_origins and not rules.allow_credentials else origin
    headers = {"Access-Control-Allow-Origin": value}
    if rules.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def preflight_headers(rules: CorsRules, headers) -> dict[str, str]:
    """The CORS headers of the answer to a preflight: none for an origin that is not allowed."""
    origin = headers.get("Origin")
    if not rules.allows(origin):
        return {}
    answer = _allow_origin(rules, origin)
    answer["Access-Control-Allow-Methods"] = ",".join(rules.allow_methods)
    answer["Access-Control-Allow-Headers"] = ",".join(rules.allow_headers)
    if rules.max_age is not None:
        answer["Access-Control-Max-Age"] = str(rules.max_age)
    return answer


def response_headers(rules: CorsRules, headers) -> dict[str, str]:
    """The CORS headers added to any other response: none without an allowed Origin."""
    origin = headers.get("Origin")
    if not rules.allows(origin):
        return {}
    answer = _allow_origin(rules, origin)
    if rules.expose_headers:
        answer["Access-Control-Expose-Headers"] = ",".join(rules.expose_headers)
    return answer


def relayed_header(name: str) -> bool:
    """False for the upstream's CORS headers (API Gateway ignores the integration's) and for the
    headers of one connection."""
    lower = name.lower()
    return lower not in HOP_BY_HOP and not lower.startswith("access-control-") and lower != "content-length"


# -- the relay ---------------------------------------------------------------------------------------


class _RelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "RelayServer"

    def do_OPTIONS(self):
        if is_preflight(self.command, self.headers):
            self._answer(204, preflight_headers(self.server.rules, self.headers), b"")
        else:
            self._relay()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = lambda self: self._relay()

    def _relay(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # Browsers and the tests send a Content-Length; a chunked body is not worth relaying.
            self._answer(411, response_headers(self.server.rules, self.headers), b"", close=True)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.server.upstream_port, timeout=UPSTREAM_TIMEOUT_SECONDS,
            source_address=(self.client_address[0], 0),
        )
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            upstream = connection.getresponse()
            payload = upstream.read()
            status, reason, upstream_headers = upstream.status, upstream.reason, upstream.getheaders()
        except OSError as exc:
            # sls offline stopped or restarting: say so, as API Gateway would with its own error.
            self.log_error("upstream %s: %s", self.server.upstream_port, exc)
            status, reason = 502, "Bad Gateway"
            payload = json.dumps({"message": "the local HTTP API (sls offline) did not answer"}).encode()
            upstream_headers = [("Content-Type", "application/json")]
        finally:
            connection.close()
        kept = [(name, value) for name, value in upstream_headers if relayed_header(name)]
        self._answer(status, response_headers(self.server.rules, self.headers), payload, kept, reason)

    def _answer(self, status, cors, payload, headers=(), reason=None, close=False):
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "date" for name, _ in headers):
            self.send_header("Date", self.date_time_string())
        for name, value in cors.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)

    def log_message(self, format, *args):
        pass

    def log_error(self, format, *args):
        sys.stderr.write(f"http_relay: {format % args}\n")


class RelayServer(http.server.ThreadingHTTPServer):
    """The relay on 127.0.0.1:`port`, in front of sls offline's HTTP port on 127.0.0.1."""

    daemon_threads = True
    request_queue_size = 64  # a page's burst of requests must not meet a refused connection

    def __init__(self, port: int, upstream_port: int, rules: CorsRules):
        self.upstream_port = upstream_port
        self.rules = rules
        super().__init__(("127.0.0.1", port), _RelayHandler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.http_relay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="where clients connect (WSCHAT_HTTP_PORT)")
    parser.add_argument("--upstream-port", type=int, required=True, help="sls offline's own HTTP port")
    args = parser.parse_args(argv)
    rules = load_rules()
    server = RelayServer(args.port, args.upstream_port, rules)
    print(f"http_relay: 127.0.0.1:{args.port} -> 127.0.0.1:{args.upstream_port}, origins {list(rules.allow_origins)}",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
