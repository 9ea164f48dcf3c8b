"""Local test web sites for the crawler: real threaded HTTP servers on 127.0.0.1, one port per host,
each keeping its own request log (the ground truth the tests assert on).

Pages come from tests/fixtures/crawl_site/ (see README-crawl.md); a navigation block of links is
appended before ``</body>`` so the crawler can walk between them.
"""
from __future__ import annotations

import gzip
import json
import os
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "crawl_site")


def load_pages() -> list[dict]:
    """[{file, id, url, text, html(bytes)}] for the fixture pages, in file order."""
    pages = []
    with open(os.path.join(FIXTURES, "pages.jsonl"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            with gzip.open(os.path.join(FIXTURES, row["file"]), "rb") as g:
                row["html"] = g.read()
            pages.append(row)
    return pages


def with_links(html: bytes, hrefs: list[str]) -> bytes:
    nav = ("<nav>" + "".join(f'<a href="{h}">{h}</a> ' for h in hrefs) + "</nav>").encode()
    i = html.lower().rfind(b"</body>")
    return html[:i] + nav + html[i:] if i >= 0 else html + nav


def gzip_bomb(decoded_bytes: int) -> bytes:
    """``decoded_bytes`` of zeros, gzip'd (about 1000:1)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    out = [c.compress(block) for _ in range(decoded_bytes // len(block))]
    return b"".join(out) + c.flush()


class Site:
    """One host: ``routes`` maps a path to ``fn(handler) -> None`` that writes the whole response."""

    def __init__(self, routes: dict[str, Callable] | None = None) -> None:
        self.routes = dict(routes or {})
        self.log: list[dict] = []  # {"path", "start", "end", "sent", "outcome"}
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                entry = {"path": self.path, "start": time.time(), "sent": 0, "outcome": "ok",
                         "headers": dict(self.headers)}
                with site.lock:
                    site.log.append(entry)
                self.entry = entry
                fn = site.routes.get(self.path.split("?", 1)[0])
                try:
                    if fn is None:
                        self.respond(404, b"<html><body>not found</body></html>")
                    else:
                        fn(self)
                except (BrokenPipeError, ConnectionResetError):
                    entry["outcome"] = "client_closed"
                    self.close_connection = True
                entry["end"] = time.time()

            def respond(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
                        headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.entry["sent"] += len(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> "Site":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        with self.lock:
            return [e["path"] for e in self.log]

    def starts(self) -> list[float]:
        with self.lock:
            return sorted(e["start"] for e in self.log)


# Route helpers --------------------------------------------------------------------------------------

def page(body: bytes, ctype: str = "text/html; charset=utf-8"):
    return lambda h: h.respond(200, body, ctype)


def status(code: int, body: bytes = b"<html><body>error</body></html>"):
    return lambda h: h.respond(code, body)


def redirect(location: str, code: int = 301):
    return lambda h: h.respond(code, b"", headers={"Location": location})


def slow(seconds: float, body: bytes = b"<html><body>late</body></html>"):
    def fn(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        time.sleep(seconds)
        h.wfile.write(body)
    return fn


def gzipped(data: bytes):
    return lambda h: h.respond(200, data, headers={"Content-Encoding": "gzip"})


def endless(limit_bytes: int):
    """A body with no length that never ends (until ``limit_bytes``, a safety bound for the test)."""
    def fn(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        chunk = b"<p>" + b"x" * 65530 + b"</p>"
        h.wfile.write(b"<html><body>")
        while h.entry["sent"] < limit_bytes:
            h.wfile.write(chunk)
            h.entry["sent"] += len(chunk)
        h.entry["outcome"] = "limit_reached"
    return fn
