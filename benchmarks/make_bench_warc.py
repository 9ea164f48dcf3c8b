"""Build the curate benchmark's input: the sample crawl's response records, replicated under distinct URLs.

``python benchmarks/make_bench_warc.py [--copies 7] [--shards 4] [--out .bench/curate-input]``

Every response record of ``examples/sample_crawl/*.warc.gz`` (294 of them) is written ``copies`` times;
copy 0 keeps its URL, copy k gets ``gmbench=k`` added to the query string and a new WARC-Record-ID, so
every record is a distinct document (distinct id) for every system. The HTTP block is copied byte for
byte (LF-only ClueWeb headers, gzip'd bodies and all), so the WARC-Block/Payload-Digest headers stay
true. Records are dealt round robin into ``shards`` files, one gzip member per record, so every shard
holds the same mix of pages and two workers get equal work. Deterministic: the same sample gives the
same bytes. The output folder is under .bench/ (git-ignored).

Records get a ``WARC-Identified-Payload-Type`` header (the MIME type of their HTTP Content-Type), as
Common Crawl's WARCs carry one; ``--no-payload-type`` leaves it out. Readers that trust it (datatrove's
WarcReader) then skip content sniffing; without it datatrove runs libmagic on every body, which calls
many of these article pages "application/javascript" (they start with a <script>) and skips them.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fastwarc.warc import ArchiveIterator, WarcRecordType

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample_crawl"
DEFAULT_OUT = ROOT / ".bench" / "curate-input"
_NS = uuid.UUID("0b6a3c1e-6f0d-4e7b-9a55-2f3c8d1e4b77")  # fixed namespace: same input, same record ids


def copy_url(url: str, k: int) -> str:
    if k == 0:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&gmbench={k}" if parts.query else f"gmbench={k}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def sample_records(sample_dir: Path = SAMPLE) -> list[tuple[list[tuple[str, str]], bytes]]:
    """(WARC headers, block bytes) of every response record, in file then offset order."""
    out = []
    for path in sorted(glob.glob(str(sample_dir / "*.warc.gz"))):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=False):
                out.append((list(rec.headers.items()), rec.reader.read()))
    return out


def http_mime(block: bytes) -> str | None:
    """MIME type from the HTTP Content-Type header of a response block (CRLF or bare-LF headers)."""
    end = min((i for i in (block.find(b"\r\n\r\n"), block.find(b"\n\n")) if i >= 0), default=-1)
    for line in block[:end].split(b"\n")[1:] if end >= 0 else []:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"content-type":
            mime = value.split(b";")[0].strip().lower().decode("latin-1")
            return mime or None
    return None


def record_bytes(headers: list[tuple[str, str]], block: bytes, url: str, k: int, payload_type: bool = True) -> bytes:
    rid = "<urn:uuid:%s>" % uuid.uuid5(_NS, f"{url} {k}")
    lines = ["WARC/1.0"]
    for name, value in headers:
        low = name.lower()
        if low == "warc-target-uri":
            value = url
        elif low == "warc-record-id":
            value = rid
        elif low in ("content-length", "warc-concurrent-to", "warc-warcinfo-id"):
            continue  # Content-Length is rewritten below; the links point at records we do not copy
        lines.append(f"{name}: {value}")
    mime = http_mime(block) if payload_type else None
    if mime and not any(n.lower() == "warc-identified-payload-type" for n, _ in headers):
        lines.append(f"WARC-Identified-Payload-Type: {mime}")
    lines.append(f"Content-Length: {len(block)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    # mtime=0: gzip headers carry no timestamp, so rebuilding gives identical bytes.
    return gzip.compress(head + block + b"\r\n\r\n", compresslevel=6, mtime=0)


def build(out_dir: Path = DEFAULT_OUT, copies: int = 7, shards: int = 4,
          payload_type: bool = True) -> tuple[list[str], int]:
    """Write ``shards`` WARC files; return (paths, number of response records written)."""
    if copies < 1:
        raise ValueError(f"'copies' must be >= 1 (got {copies})")
    if shards < 1:
        raise ValueError(f"'shards' must be >= 1 (got {shards})")
    records = sample_records()
    if not records:
        raise FileNotFoundError(f"no response records under {SAMPLE}; run examples/build_sample_crawl.py")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"bench-{i:02d}.warc.gz" for i in range(shards)]
    members: list[list[bytes]] = [[] for _ in range(shards)]
    n = 0
    for k in range(copies):
        for headers, block in records:
            url = copy_url(dict((a.lower(), b) for a, b in headers).get("warc-target-uri", ""), k)
            members[n % shards].append(record_bytes(headers, block, url, k, payload_type))
            n += 1
    for path, parts in zip(paths, members):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(parts))
        tmp.replace(path)
    return [str(p) for p in paths], n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--copies", type=int, default=7)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--no-payload-type", action="store_true", help="omit WARC-Identified-Payload-Type")
    args = ap.parse_args()
    paths, n = build(args.out, args.copies, args.shards, payload_type=not args.no_payload_type)
    print(f"{n} response records in {len(paths)} files under {args.out}")


if __name__ == "__main__":
    main()
