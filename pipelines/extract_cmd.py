"""``gristmill extract PATH... [--output FILE]``: HTML or WARC files -> JSON lines {source, url, text}.

The very decode and extract stages that ``gristmill curate`` runs (filters.decode, filters.extract:
charset handling, trafilatura options, per-page time limit in a child process), without Beam and
without the later filters, so that what curate extracts can be inspected and scored page by page.

- An HTML file (plain or gzip'd) gives one line: ``source`` is its path, ``url`` is --url or null,
  ``text`` is "" when nothing was extracted (so every input file has its line).
- A WARC/ARC/WET file gives one line per record that decoded as HTML (or carried WET text), with
  ``source`` = ``PATH@OFFSET``; other records are counted, not printed.
Counts per stage go to stderr at the end.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import zlib
from typing import Callable, Iterator

from pipelines.stages import StageCounts, run_chain

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wet", ".wet.gz", ".warc.wet.gz")


def _head(path: str, n: int = 64) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read(4096)
    except OSError:
        return b""  # reported (and counted) when the file is read as HTML
    if raw.startswith(b"\x1f\x8b"):
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, n)
        except zlib.error:
            return b""
    return raw[:n]


def is_warc(path: str) -> bool:
    """By name, else by the first bytes: 'WARC/' (WARC, WET) or 'filedesc://' (ARC)."""
    if path.lower().endswith(WARC_SUFFIXES):
        return True
    return _head(path).lstrip().startswith((b"WARC/", b"filedesc://"))


def read_html_file(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\x1f\x8b"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            # A truncated or damaged .gz: keep what decompresses before the damage (gzip.decompress
            # refuses partial members); decode then counts an empty or binary result.
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                return d.decompress(data)
            except zlib.error:
                return b""
    return data


def build_stages(config: dict | None = None) -> list:
    from filters import decode, extract

    config = config or {}
    return [decode.stage(config.get("decode", {})), extract.stage(config.get("extract", {}))]


def extract_paths(paths: list[str], stages: list, counts: StageCounts, url: str | None = None
                  ) -> Iterator[dict]:
    """Yield {"source", "url", "text"} for each HTML file and each HTML/WET record of each WARC file."""
    for path in paths:
        if is_warc(path):
            from pipelines.io.warc import read_warc  # imports Beam's filesystem layer: only when needed

            for doc, _bad in read_warc(path, counts):
                if doc is None:
                    continue
                source = f"{path}@{doc.get('warc_offset')}"
                if doc.get("_text") is not None:  # WET: text extracted by Common Crawl already
                    counts.enter("extract")
                    counts.out("extract")
                    yield {"source": source, "url": doc.get("url"), "text": doc["_text"]}
                    continue
                kept, rejected = run_chain(doc, stages, counts)
                if kept is not None:
                    yield {"source": source, "url": kept.get("url"), "text": kept["text"]}
                elif rejected["stage"] == "extract":
                    yield {"source": source, "url": rejected.get("url"), "text": ""}
        else:
            counts.enter("read")
            try:
                body = read_html_file(path)
            except OSError as e:
                counts.fail("read", "read.unreadable")
                print(f"gristmill extract: {path}: {e.strerror or e}", file=sys.stderr)
                continue
            counts.out("read")
            # The user says it is HTML: label it so, and let decode still refuse binary bytes.
            doc = {"url": url, "_body": body, "_content_type": "text/html"}
            kept, _ = run_chain(doc, stages, counts)
            yield {"source": path, "url": url, "text": kept["text"] if kept is not None else ""}


def write_lines(records: Iterator[dict], write: Callable[[str], object]) -> int:
    n = 0
    for rec in records:
        write(json.dumps(rec, ensure_ascii=False) + "\n")
        n += 1
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gristmill extract", description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+", metavar="PATH", help="HTML files (.html, .html.gz) or WARC/ARC/WET files")
    p.add_argument("--output", "-o", metavar="FILE", help="write JSON lines here (default: stdout)")
    p.add_argument("--url", help="page URL to pass to trafilatura for HTML files (helps link resolution)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="per-page extraction time limit (default: the extract stage's, 5 s)")
    p.add_argument("--max-html-bytes", type=int, default=None, help="skip bodies larger than this (default 5 MiB)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config: dict = {"decode": {}, "extract": {}}
    if args.timeout is not None:
        config["extract"]["timeout_s"] = args.timeout
    if args.max_html_bytes is not None:
        config["decode"]["max_html_bytes"] = args.max_html_bytes
    try:
        stages = build_stages(config)
    except ValueError as e:
        print(f"gristmill extract: {e}", file=sys.stderr)
        return 2
    counts = StageCounts()
    records = extract_paths(args.paths, stages, counts, url=args.url)
    try:
        if args.output:
            from pipelines.io.atomic import write_atomic

            written = 0

            def write(f) -> None:  # streamed into a temporary file, renamed when complete
                nonlocal written
                written = write_lines(records, lambda line: f.write(line.encode("utf-8")))

            write_atomic(args.output, write)
        else:
            written = write_lines(records, sys.stdout.write)
    finally:
        stages[1].fn.close()
    counts.check()
    summary = ", ".join(
        f"{name}: in {c['in']} out {c['out']}"
        + "".join(f" {r}={n}" for r, n in {**c["dropped"], **c["failed"]}.items())
        for name, c in counts.to_dict().items())
    print(f"gristmill extract: {written} lines; {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
