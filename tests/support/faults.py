"""An HTTP relay in front of an S3 server that fails, stalls or slows chosen requests.

It understands just enough of S3's REST API to tell the kinds of request apart
(`KINDS`), forwards everything else unchanged, and records every request it saw.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

# fail: 503 SlowDown; stall: hold, never answer; slow: forward after `delay` s;
# ignore-conditions: forward without If-None-Match/If-Match, as a store that ignores them.
Action = Literal["fail", "stall", "slow", "ignore-conditions"]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>injected by the test relay</Message></Error>"
)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-request (an aborted upload) is expected here."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    @property
    def params(self) -> set[str]:
        return {p.split("=", 1)[0] for p in self.query.split("&") if p}


def _is_delete_objects(r: Request) -> bool:
    return r.method == "POST" and "delete" in r.params


KINDS: dict[str, Callable[[Request], bool]] = {
    "put-part": lambda r: r.method == "PUT" and "partNumber" in r.params,
    "complete-multipart": lambda r: r.method == "POST" and "uploadId" in r.params,
    "copy": lambda r: r.method == "PUT" and "x-amz-copy-source" in r.headers,
    "stale-delete": lambda r: _is_delete_objects(r) and b".parquet<" in r.body,
    "staged-delete": lambda r: _is_delete_objects(r) and b".staged<" in r.body,
    "manifest-put": lambda r: r.method == "PUT" and "/_manifests/" in r.path,
    # delta-rs writing the table's next log entry (put-if-absent): the commit itself.
    "commit": lambda r: r.method == "PUT" and "/_delta_log/" in r.path and r.path.endswith(".json"),
    "staged-put": lambda r: r.method == "PUT" and r.path.endswith(".staged") and not r.query,
    "lease-put": lambda r: r.method == "PUT" and "/_leases/" in r.path,
}


@dataclass
class Rule:
    kind: str
    action: Action
    delay: float = 0.0  # "slow": seconds before forwarding
    times: int | None = None  # None: every matching request
    hits: int = 0

    def applies(self, request: Request) -> bool:
        if not KINDS[self.kind](request) or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


@dataclass
class FaultRelay:
    upstream: str  # http://127.0.0.1:PORT
    rules: list[Rule] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)  # (kind or method, path)
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                relay._handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve  # noqa: N815

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(
        self, kind: str, action: Action, *, delay: float = 0.0, times: int | None = None
    ) -> Rule:
        assert kind in KINDS, kind
        rule = Rule(kind, action, delay, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.seen if k == kind)

    def release(self) -> None:
        """End every stalled request (its connection closes unanswered); later ones pass."""
        self._release.set()

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def _read_body(self, handler: BaseHTTPRequestHandler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(handler.rfile.readline().strip().split(b";")[0], 16)
                chunk = handler.rfile.read(size + 2)[:size]
                if not size:
                    break
                body += chunk
            return body
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        headers = {k.lower(): v for k, v in handler.headers.items()}
        request = Request(handler.command, path, query, headers, self._read_body(handler))
        kind = next((k for k, match in KINDS.items() if match(request)), request.method)
        with self._lock:
            self.seen.append((kind, path))
            rule = next((r for r in self.rules if r.applies(request)), None)
        if rule is not None and rule.action == "fail":
            handler.send_response(503)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(SLOW_DOWN)))
            handler.end_headers()
            handler.wfile.write(SLOW_DOWN)
            return
        if rule is not None and rule.action == "stall":
            self._release.wait(120)
            handler.close_connection = True
            return
        if rule is not None and rule.action == "slow":
            time.sleep(rule.delay)
        self._forward(
            handler,
            request,
            drop_conditions=rule is not None and rule.action == "ignore-conditions",
        )

    def _forward(
        self, handler: BaseHTTPRequestHandler, request: Request, *, drop_conditions: bool = False
    ) -> None:
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
        dropped = HOP_BY_HOP | ({"if-none-match", "if-match"} if drop_conditions else set())
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in dropped}
        headers["Content-Length"] = str(len(request.body))
        url = request.path + (f"?{request.query}" if request.query else "")
        conn.request(request.method, url, body=request.body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                handler.send_header(name, value)
        length = response.getheader("Content-Length") if request.method == "HEAD" else None
        handler.send_header("Content-Length", length or str(len(payload)))
        handler.end_headers()
        if request.method != "HEAD":
            handler.wfile.write(payload)
        conn.close()
