"""Build the site for the local stack and serve it over HTTP (what GitHub Pages does when deployed)."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import build_site
from devstack.stack import LocalStack


def build_local_site(stack: LocalStack, out: Path, **overrides) -> Path:
    endpoints = {"wsUrl": stack.ws_url, "httpUrl": stack.http_url}
    config = build_site.site_config(endpoints, "local", build_site.DEFAULT_HEARTBEAT_SECONDS)
    config.update(overrides)
    build_site.render_site(config, out)
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        # Always the current build: a rebuilt site must not meet a stale cached script.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):
        pass


class SiteServer:
    """A static file server on 127.0.0.1 in a background thread."""

    def __init__(self, directory: Path, port: int):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "SiteServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
