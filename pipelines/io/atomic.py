"""Atomic output files with a completion record, so reruns skip finished work and retries are harmless.

A file is written under a temporary name and renamed into place; then a small ``<file>.done.json``
records its row count, sha256 and whatever the job wants to remember (per-file stage counts). A file
counts as finished only when both exist and the checksum matches, so a worker killed mid-write leaves
nothing that looks finished. Beam may run a bundle twice: the second run writes the same bytes to the
same name. Paths go through Beam's FileSystems, so gs:// and s3:// outputs work on Dataflow as well.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import uuid
from typing import Any, Callable

from apache_beam.io.filesystems import FileSystems

DONE_SUFFIX = ".done.json"


def join(*parts: str) -> str:
    return FileSystems.join(*parts) if "://" in parts[0] else os.path.join(*parts)


def makedirs(path: str) -> None:
    if "://" not in path:
        os.makedirs(path, exist_ok=True)


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with FileSystems.open(path, compression_type="uncompressed") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: str, write: Callable[[Any], None]) -> str:
    """Call ``write(fileobj)`` on a temporary file, rename it to ``path``; return its sha256."""
    makedirs(os.path.dirname(path) if "://" not in path else posixpath.dirname(path))
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    with FileSystems.create(tmp, compression_type="uncompressed") as f:
        write(f)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])
    return sha256_of(path)


def write_bytes_atomic(path: str, data: bytes) -> str:
    return write_atomic(path, lambda f: f.write(data))


def write_json_atomic(path: str, obj: Any) -> str:
    return write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def mark_done(path: str, rows: int, sha256: str, **extra: Any) -> dict:
    """Record that ``path`` is complete. Call only after the file itself is in place."""
    record = {"path": path, "rows": rows, "sha256": sha256, **extra}
    write_json_atomic(path + DONE_SUFFIX, record)
    return record


def read_done(path: str) -> dict | None:
    """The completion record of ``path`` if the file is finished and intact, else None."""
    marker = path + DONE_SUFFIX
    if not (FileSystems.exists(marker) and FileSystems.exists(path)):
        return None
    with FileSystems.open(marker, compression_type="uncompressed") as f:
        record = json.loads(f.read().decode())
    if record.get("sha256") != sha256_of(path):
        return None
    return record


def output_name(input_path: str, suffix: str) -> str:
    """A stable output name for one input file: its stem plus a short hash of its full path.

    The hash keeps ``a/x.warc.gz`` and ``b/x.warc.gz`` apart; the stem keeps names readable.
    """
    base = posixpath.basename(input_path.rstrip("/"))
    for ext in (".gz", ".warc", ".arc", ".wet", ".parquet", ".jsonl", ".html", ".htm"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in base)[:80] or "input"
    digest = hashlib.sha1(input_path.encode()).hexdigest()[:8]
    return f"{safe}-{digest}{suffix}"
