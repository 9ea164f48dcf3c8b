"""Crawl throughput on loopback across many virtual hosts, against a plain asyncio HTTP loop (the floor).

    flock /tmp/gristmill-bench.lock python benchmarks/crawl.py --hosts 50 --pages 20 --delays 0 0.2

A server process (asyncio, one listening port per virtual host, HTTP/1.1 keep-alive) serves, per host,
``/robots.txt``, ``/`` linking ``pages - 1`` article pages taken from the bundled sample crawl (their own
links neutralised so every host has exactly ``pages`` pages), and logs the arrival time of every request.
For each delay, in one run and on the same server:

* **gristmill crawl** (DirectRunner, multi_processing, 2 workers) from the 50 index pages, depth 1:
  robots.txt, address checks, caps, WARC writing, the full report, and Beam's start-up included;
* **floor**: a plain asyncio loop fetching the same URLs (robots.txt + index + pages of every host),
  one connection per host, the same delay between requests to a host, nothing else.

pages/s = pages fetched / wall seconds. Politeness violations = pairs of consecutive requests to one host
whose arrival times at the server are closer than the delay (must be 0 for gristmill).
"""
from __future__ import annotations

import os
import sys

# `python benchmarks/crawl.py` puts benchmarks/ first on sys.path, where benchmarks/tokenize.py would
# shadow the standard library's tokenize (imported by asyncio via logging): drop that entry.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "examples", "sample_crawl", "articles-0.warc.gz")


# --- server (runs in its own process: `python benchmarks/crawl.py --serve ...`) -----------------------

def load_bodies(n: int) -> list[bytes]:
    from warcio.archiveiterator import ArchiveIterator
    bodies = []
    with open(SAMPLE, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response" and rec.http_headers:
                body = rec.content_stream().read()
                # Neutralise the article's own links so each host has exactly the pages we serve.
                bodies.append(re.sub(rb"(?i)\bhref\s*=", b"data-href=", body))
                if len(bodies) == n:
                    break
    return bodies


def serve(hosts: int, pages: int, ports_file: str, log_file: str) -> None:
    bodies = load_bodies(pages - 1)
    index = ("<html><body>" + "".join(f'<a href="/p{i}.html">p{i}</a>' for i in range(len(bodies)))
             + "</body></html>").encode()
    routes = {"/robots.txt": (b"User-agent: *\nDisallow: /private/\n", b"text/plain"), "/": (index, b"text/html")}
    routes.update({f"/p{i}.html": (b, b"text/html; charset=utf-8") for i, b in enumerate(bodies)})
    log: list[str] = []

    async def handle(reader, writer, port):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                log.append(f"{port} {time.time():.6f}\n")
                path = line.split()[1].decode() if len(line.split()) > 1 else "/"
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                body, ctype = routes.get(path, (b"not found", b"text/plain"))
                status = b"200 OK" if path in routes else b"404 Not Found"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main():
        servers, ports = [], []
        for _ in range(hosts):
            box: dict = {}
            s = await asyncio.start_server(lambda r, w, box=box: handle(r, w, box["port"]), "127.0.0.1", 0)
            box["port"] = s.sockets[0].getsockname()[1]
            servers.append(s)
            ports.append(box["port"])
        with open(ports_file + ".tmp", "w") as f:
            json.dump(ports, f)
        os.replace(ports_file + ".tmp", ports_file)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        with open(log_file, "w") as f:
            f.writelines(log)

    asyncio.run(main())


# --- the floor: a plain asyncio HTTP/1.1 client --------------------------------------------------------

async def _fetch_host(port: int, paths: list[str], delay: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    for i, path in enumerate(paths):
        if i and delay:
            await asyncio.sleep(delay)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: floor\r\n\r\n".encode())
        await writer.drain()
        length = 0
        while (h := await reader.readline()) not in (b"\r\n", b""):
            if h.lower().startswith(b"content-length:"):
                length = int(h.split(b":")[1])
        await reader.readexactly(length)
        n += 1
    writer.close()
    return n


async def floor(ports: list[int], paths: list[str], delay: float) -> int:
    return sum(await asyncio.gather(*(_fetch_host(p, paths, delay) for p in ports)))


# --- driver ------------------------------------------------------------------------------------------

def start_server(hosts: int, pages: int, tmp: str, tag: str):
    ports_file, log_file = os.path.join(tmp, f"ports-{tag}.json"), os.path.join(tmp, f"log-{tag}.txt")
    proc = subprocess.Popen([sys.executable, __file__, "--serve", "--hosts", str(hosts), "--pages", str(pages),
                             "--ports-file", ports_file, "--log-file", log_file])
    for _ in range(300):
        if os.path.exists(ports_file):
            break
        time.sleep(0.1)
    with open(ports_file) as f:
        return proc, json.load(f), log_file


def stop_server(proc, log_file: str) -> dict[int, list[float]]:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    by_port: dict[int, list[float]] = {}
    with open(log_file) as f:
        for line in f:
            port, t = line.split()
            by_port.setdefault(int(port), []).append(float(t))
    return by_port


def violations(by_port: dict[int, list[float]], delay: float) -> tuple[int, float]:
    bad, smallest = 0, float("inf")
    for times in by_port.values():
        times.sort()
        for a, b in zip(times, times[1:]):
            smallest = min(smallest, b - a)
            bad += (b - a) < delay
    return bad, smallest


def run_gristmill(ports: list[int], delay: float, tmp: str, tag: str, threads: int,
                  max_depth: int = 1) -> tuple[int, float]:
    from pipelines import crawl
    seeds = os.path.join(tmp, f"seeds-{tag}.txt")
    with open(seeds, "w") as f:
        f.writelines(f"http://127.0.0.1:{p}/\n" for p in ports)
    t = time.time()
    report = crawl.run(["--seeds", seeds, "--output", os.path.join(tmp, f"out-{tag}"), "--allow-loopback",
                        "--max-depth", str(max_depth), "--max-pages", "100000", "--max-pages-per-host", "1000",
                        "--delay", str(delay), "--threads", str(threads),
                        "--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    return report["pages"], time.time() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--pages", type=int, default=20, help="pages per host, index included")
    ap.add_argument("--delays", type=float, nargs="+", default=[0.0, 0.2])
    ap.add_argument("--threads", type=int, default=32, help="gristmill hosts fetched at once per worker")
    ap.add_argument("--json", help="write the results here as JSON")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ports-file", help=argparse.SUPPRESS)
    ap.add_argument("--log-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.hosts, args.pages, args.ports_file, args.log_file)
        return 0
    sys.path.insert(0, ROOT)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = ["/robots.txt", "/"] + [f"/p{i}.html" for i in range(args.pages - 1)]
        # Fixed cost: the same job (same rounds) on one host with two pages: Beam start-up, shuffles, report.
        proc, ports, log = start_server(1, 2, tmp, "fixed")
        try:
            fixed_pages, fixed = run_gristmill(ports, 0.0, tmp, "fixed", args.threads)
        finally:
            stop_server(proc, log)
        for delay in args.delays:
            tag = f"g{delay}"
            proc, ports, log = start_server(args.hosts, args.pages, tmp, tag)
            try:
                pages, secs = run_gristmill(ports, delay, tmp, tag, args.threads)
            finally:
                by_port = stop_server(proc, log)
            bad, gap = violations(by_port, delay)
            rows.append({"system": "gristmill crawl (Beam, 2 workers)", "delay": delay, "pages": pages,
                         "requests": sum(map(len, by_port.values())), "seconds": round(secs, 2),
                         "pages_per_s": round(pages / secs, 1), "violations": bad, "min_gap_s": round(gap, 4),
                         "pages_per_s_after_fixed_cost": round(pages / max(1e-9, secs - fixed), 1)})
            tag = f"f{delay}"
            proc, ports, log = start_server(args.hosts, args.pages, tmp, tag)
            try:
                t = time.time()
                n = asyncio.run(floor(ports, paths, delay))
                secs = time.time() - t
            finally:
                by_port = stop_server(proc, log)
            bad, gap = violations(by_port, delay)
            pages = n - len(ports)  # robots.txt is not a page
            rows.append({"system": "floor: plain asyncio loop", "delay": delay, "pages": pages,
                         "requests": sum(map(len, by_port.values())), "seconds": round(secs, 2),
                         "pages_per_s": round(pages / secs, 1), "violations": bad, "min_gap_s": round(gap, 4)})
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": platform.platform(),
              "cpus": os.cpu_count(), "python": platform.python_version(),
              "command": "python benchmarks/crawl.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "hosts": args.hosts, "pages_per_host": args.pages, "rows": rows,
              "fixed_cost_seconds": round(fixed, 2), "fixed_cost_pages": fixed_pages}
    print("| system | delay s | pages | requests | seconds | pages/s | politeness violations | min gap s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['system']} | {r['delay']} | {r['pages']} | {r['requests']} | {r['seconds']} | "
              f"{r['pages_per_s']} | {r['violations']} | {r['min_gap_s']} |")
    print(f"fixed cost (1 host, 2 pages, same job): {fixed:.2f} s")
    for delay in args.delays:
        g = next(r for r in rows if r["delay"] == delay and r["system"].startswith("gristmill"))
        f = next(r for r in rows if r["delay"] == delay and r["system"].startswith("floor"))
        print(f"delay {delay}: gristmill / floor = {g['pages_per_s'] / f['pages_per_s']:.3f} "
              f"(after the fixed cost: {g['pages_per_s_after_fixed_cost'] / f['pages_per_s']:.3f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
