"""Extraction quality and speed: gristmill's decode+extract vs trafilatura's defaults, in one run.

On the scrapinghub article pages (shared/data/extraction/scrapinghub), split by page id into a
development half (first id byte even: used to choose the trafilatura options) and a held-out half
(odd: only reported). For each configuration: token precision / recall / F1 against the ground truth
(whitespace tokens, as bags) and pages per second on one core. Also the cost of isolating extraction
in a child process (filters.extract_worker): the same pages through the worker vs in-process.

    flock /tmp/gristmill-bench.lock python benchmarks/extract.py [--data DIR] [--repeat N] [--json OUT]
"""
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts benchmarks/ first on sys.path, where benchmarks/tokenize.py would
# shadow the standard library's tokenize module (imported by inspect, numpy...): use the repo root.
ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "benchmarks":
    sys.path[0] = str(ROOT)

import argparse
import datetime
import os
import gzip
import json
import time

from benchmarks.peers import machine  # noqa: E402
from filters import decode  # noqa: E402
from filters.extract import TRAFILATURA_OPTIONS, Extractor, extract_text, parse_config, token_f1  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "extraction" / "scrapinghub"


def load(data: Path) -> list[dict]:
    pages = []
    for line in open(data / "ground_truth.jsonl", encoding="utf-8"):
        g = json.loads(line)
        g["body"] = gzip.decompress((data / "html" / f"{g['id']}.html.gz").read_bytes())
        g["split"] = "held-out" if int(g["id"][:2], 16) % 2 else "dev"
        pages.append(g)
    return pages


def gristmill_html(page: dict) -> str:
    doc = {"_body": page["body"], "_content_type": None}
    v = decode.decode(doc)
    return doc["_html"] if v.keep else ""


def configs():
    import trafilatura

    return {
        # what `gristmill extract` and curate run (decode + extract with TRAFILATURA_OPTIONS)
        "gristmill": lambda p: extract_text(gristmill_html(p), p["url"]),
        # trafilatura as a user would call it: raw bytes, its own decoding, all defaults
        "trafilatura defaults": lambda p: trafilatura.extract(p["body"], url=p["url"]) or "",
        "trafilatura fast=True": lambda p: trafilatura.extract(p["body"], url=p["url"], fast=True) or "",
        "trafilatura include_comments=False": lambda p: trafilatura.extract(
            p["body"], url=p["url"], include_comments=False) or "",
    }


def score(pages, fn, repeat):
    out = {}
    t0 = time.perf_counter()
    for _ in range(repeat):
        texts = [fn(p) for p in pages]
    seconds = (time.perf_counter() - t0) / repeat
    for split in ("dev", "held-out", "all"):
        rows = [token_f1(t, p["text"]) for t, p in zip(texts, pages) if split == "all" or p["split"] == split]
        out[split] = {"n": len(rows), **{k: round(sum(r[i] for r in rows) / len(rows), 4)
                                         for i, k in enumerate(("precision", "recall", "f1"))}}
    out["pages_per_s"] = round(len(pages) / seconds, 1)
    return out


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of another process, from /proc (Linux)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def isolation_cost(pages, repeat):
    """What running trafilatura in the child process costs, on the same decoded HTML.

    CPU: the parent's CPU per page in child mode is the IPC work (encode, pipe, decode); the child's
    CPU per page is the extraction. Wall: child vs in-process, interleaved page by page so load from
    other processes hits both alike (on a loaded machine each page costs two process wake-ups).
    """
    import statistics

    htmls = [(gristmill_html(p), p["url"]) for p in pages]
    local = Extractor(parse_config({"isolate": False}))
    child = Extractor(parse_config({"isolate": True, "timeout_s": 60.0}))
    pid = child.worker.proc.pid
    local.text(*htmls[0])
    child.text(*htmls[0])  # warm up both
    cpu = {"in-process": 0.0, "parent": 0.0, "child": 0.0}
    diffs = []
    for _ in range(repeat):
        for html, url in htmls:
            c0, t0 = time.process_time(), time.perf_counter()
            local.text(html, url)
            c1, t1, k1 = time.process_time(), time.perf_counter(), _cpu_of(pid)
            child.text(html, url)
            c2, t2, k2 = time.process_time(), time.perf_counter(), _cpu_of(pid)
            cpu["in-process"] += c1 - c0
            cpu["parent"] += c2 - c1
            cpu["child"] += k2 - k1
            diffs.append((t2 - t1) - (t1 - t0))
    child.close()
    n = repeat * len(htmls)
    ms = lambda x: round(1000 * x, 2)  # noqa: E731
    return {"cpu_in_process_ms": ms(cpu["in-process"] / n), "cpu_child_ms": ms(cpu["child"] / n),
            "cpu_parent_ipc_ms": ms(cpu["parent"] / n),
            "wall_overhead_ms_mean": ms(statistics.mean(diffs)), "wall_overhead_ms_median": ms(statistics.median(diffs))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only-isolation", action="store_true", help="skip the F1 / speed table")
    args = ap.parse_args(argv)
    pages = load(args.data)
    report = {"date": datetime.date.today().isoformat(), "machine": machine(),
              "command": "python benchmarks/extract.py " + " ".join(argv or sys.argv[1:]),
              "gristmill_options": TRAFILATURA_OPTIONS, "pages": len(pages), "results": {}}
    for name, fn in ({} if args.only_isolation else configs()).items():
        report["results"][name] = r = score(pages, fn, args.repeat)
        print(f"{name:36s} {r['pages_per_s']:6.1f} pages/s  F1 dev {r['dev']['f1']:.4f}  "
              f"held-out {r['held-out']['f1']:.4f}  all {r['all']['f1']:.4f}", flush=True)
    report["isolation_ms_per_page"] = iso = isolation_cost(pages, args.repeat)
    print(f"CPU ms/page: in-process {iso['cpu_in_process_ms']}, in the child {iso['cpu_child_ms']} + IPC in the "
          f"parent {iso['cpu_parent_ipc_ms']}; wall overhead of the child (interleaved) mean "
          f"{iso['wall_overhead_ms_mean']}, median {iso['wall_overhead_ms_median']} ms/page")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
