"""Test doubles several unit test files share: a DynamoDB client that interleaves concurrent
callers at the moment that matters, and a real HTTP server standing in for API Gateway's
@connections API (for the real transport)."""

import json
import threading
import time

from botocore.exceptions import ClientError


class Interleaved:
    """A client that runs one call at a time (DynamoDB applies each request atomically). With
    `parties` (and run_all), it holds each thread at its first failed condition until all have got there (the
    moment both callers have found the window ended); from then on the threads finish one after
    the other, the interleaving in which a second caller acts on a window the first just started."""

    def __init__(self, client, parties=None):
        self.client = client
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(parties, timeout=10) if parties else None
        self.turn = threading.Lock()
        self.waiting = threading.local()

    def __getattr__(self, name):
        call = getattr(self.client, name)

        def run(**request):
            try:
                with self.lock:
                    return call(**request)
            except ClientError as exc:
                if self.barrier and exc.response["Error"]["Code"] == "ConditionalCheckFailedException" and \
                        not getattr(self.waiting, "done", False):
                    self.waiting.done = True
                    self.barrier.wait()
                    self.turn.acquire()
                raise

        return run

    def run_all(self, work, times: int) -> list:
        results = []

        def one():
            try:
                results.append(work())
            finally:
                if getattr(self.waiting, "done", False):
                    self.turn.release()

        threads = [threading.Thread(target=one) for _ in range(times)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        return results


class FakeManagementServer:
    """A real HTTP server standing in for API Gateway's @connections API."""

    def __init__(self, gone=(), delay=0.0, status=204):
        import http.server

        outer = self
        self.posts, self.deletes, self.gone, self.delay, self.status = [], [], set(gone), delay, status
        self.in_flight = self.most = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                with outer.lock:
                    outer.in_flight += 1
                    outer.most = max(outer.most, outer.in_flight)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(outer.delay)
                connection_id = self.path.rsplit("/", 1)[1]
                outer.posts.append((connection_id, json.loads(body), dict(self.headers)))
                self._answer(410 if connection_id in outer.gone else outer.status)
                with outer.lock:
                    outer.in_flight -= 1

            def do_DELETE(self):
                outer.deletes.append((self.path.rsplit("/", 1)[1], dict(self.headers)))
                self._answer(204)

            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # the transport opens many connections at once

        self.httpd = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}/local"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
