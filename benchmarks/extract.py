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


def isolation_cost(pages, repeat):
    """Seconds per page through the child process vs in-process, on already decoded HTML."""
    htmls = [(gristmill_html(p), p["url"]) for p in pages]
    result = {}
    for name, isolate in (("in-process", False), ("child process", True)):
        ex = Extractor(parse_config({"isolate": isolate, "timeout_s": 60.0}))
        ex.text(*htmls[0])  # warm up
        t0 = time.perf_counter()
        for _ in range(repeat):
            for html, url in htmls:
                ex.text(html, url)
        result[name] = (time.perf_counter() - t0) / (repeat * len(htmls))
        ex.close()
    result["overhead_ms_per_page"] = round(1000 * (result["child process"] - result["in-process"]), 2)
    result["in-process"] = round(1000 * result["in-process"], 2)
    result["child process"] = round(1000 * result["child process"], 2)
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    pages = load(args.data)
    report = {"date": datetime.date.today().isoformat(), "machine": machine(),
              "command": "python benchmarks/extract.py " + " ".join(argv or sys.argv[1:]),
              "gristmill_options": TRAFILATURA_OPTIONS, "pages": len(pages), "results": {}}
    for name, fn in configs().items():
        report["results"][name] = r = score(pages, fn, args.repeat)
        print(f"{name:36s} {r['pages_per_s']:6.1f} pages/s  F1 dev {r['dev']['f1']:.4f}  "
              f"held-out {r['held-out']['f1']:.4f}  all {r['all']['f1']:.4f}", flush=True)
    report["isolation_ms_per_page"] = iso = isolation_cost(pages, args.repeat)
    print(f"extraction in-process {iso['in-process']} ms/page, in the child process {iso['child process']} "
          f"ms/page: IPC overhead {iso['overhead_ms_per_page']} ms/page")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
