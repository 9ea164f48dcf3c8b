"""Serve pages of the bundled sample crawl as small local web sites, so ``gristmill crawl`` has something
to crawl without touching the internet.

    python examples/crawl/serve_sample.py --sites 3 --pages 30 --seeds seeds.txt

Each site is a threaded HTTP server on 127.0.0.1 (its own port, so its own host for politeness) with:
``/`` an index linking its pages, ``/pages/N.html`` article pages from
``examples/sample_crawl/articles-0.warc.gz`` with a link to the next page and to the next site's index
appended, ``/robots.txt`` disallowing ``/private/`` with a ``Crawl-delay``, and ``/private/`` pages that
the crawler must never request (the log line printed for each request shows it does not).
The seed file lists the first site's index only: the other sites are reached by following links.
Runs until interrupted (Ctrl-C or kill).
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from warcio.archiveiterator import ArchiveIterator

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WARC = os.path.join(HERE, "..", "sample_crawl", "articles-0.warc.gz")


def sample_pages(path: str, limit: int) -> list[bytes]:
    pages = []
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type != "response" or not rec.http_headers:
                continue
            if "html" not in (rec.http_headers.get_header("Content-Type") or "text/html"):
                continue
            pages.append(rec.content_stream().read())
            if len(pages) == limit:
                break
    return pages


def with_nav(html: bytes, links: list[str]) -> bytes:
    nav = ("<nav>" + " ".join(f'<a href="{h}">{h}</a>' for h in links) + "</nav>").encode()
    i = html.lower().rfind(b"</body>")
    return html[:i] + nav + html[i:] if i >= 0 else html + nav


def make_handler(routes: dict[str, tuple[bytes, str]], name: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write(f"[{name}] {self.command} {self.path} {args[1] if len(args) > 1 else ''}\n")

        def do_GET(self):
            body, ctype = routes.get(self.path, (b"<html><body>not found</body></html>", "text/html"))
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=3, help="number of local sites (ports)")
    ap.add_argument("--pages", type=int, default=30, help="article pages in all, spread over the sites")
    ap.add_argument("--warc", default=DEFAULT_WARC, help="WARC to take pages from")
    ap.add_argument("--crawl-delay", type=float, default=0.2, help="Crawl-delay in each robots.txt")
    ap.add_argument("--seeds", default="seeds.txt", help="where to write the seed list")
    args = ap.parse_args(argv)
    if args.sites < 1 or args.pages < 1:
        ap.error(f"--sites and --pages must be >= 1 (got {args.sites}, {args.pages})")
    pages = sample_pages(args.warc, args.pages)
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) for _ in range(args.sites)]
    bases = [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    for i, server in enumerate(servers):
        mine = list(range(i, len(pages), args.sites))
        next_index = bases[(i + 1) % len(bases)] + "/"
        routes = {"/robots.txt": (f"User-agent: *\nDisallow: /private/\nCrawl-delay: {args.crawl_delay}\n".encode(),
                                  "text/plain"),
                  "/private/keep-out.html": (b"<html><body>crawlers must not see this</body></html>", "text/html")}
        index_links = [f"/pages/{n}.html" for n in mine] + ["/private/keep-out.html", next_index]
        routes["/"] = (with_nav(b"<html><head><title>index</title></head><body><h1>Index</h1></body></html>",
                                index_links), "text/html; charset=utf-8")
        for k, n in enumerate(mine):
            nxt = f"/pages/{mine[(k + 1) % len(mine)]}.html"
            routes[f"/pages/{n}.html"] = (with_nav(pages[n], [nxt, "/", next_index]), "text/html; charset=utf-8")
        server.RequestHandlerClass = make_handler(routes, f"site{i + 1}")
        threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(args.seeds, "w", encoding="utf-8") as f:
        f.write(f"# local sample sites served by examples/crawl/serve_sample.py\n{bases[0]}/\n")
    print(f"serving {len(pages)} pages on {len(bases)} sites: {' '.join(bases)}; seeds in {args.seeds}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
