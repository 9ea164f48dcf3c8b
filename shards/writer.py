"""Write token shards: rows in, Arrow IPC files out, atomically, rolled at a token budget per file."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipelines.io.atomic import write_atomic
from shards.format import ShardMeta, table


def to_bytes(tbl: pa.Table) -> bytes:
    """One record batch, uncompressed (memory-mappable), no timestamps: same table, same bytes."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, tbl.schema) as w:
        w.write_table(tbl, max_chunksize=max(tbl.num_rows, 1))
    return sink.getvalue().to_pybytes()


def write_shard(path: str, ids: list[str], tokens: np.ndarray, lengths: np.ndarray, meta: ShardMeta) -> str:
    """Write one shard file atomically; return its sha256."""
    if len(ids) != len(lengths) or int(lengths.sum()) != len(tokens):
        raise ValueError(f"shard {path}: {len(ids)} ids, {len(lengths)} lengths summing to {int(lengths.sum())}, "
                         f"{len(tokens)} tokens: they must agree")
    data = to_bytes(table(ids, tokens, lengths, meta))
    return write_atomic(path, lambda f: f.write(data))


def split_points(lengths: np.ndarray, max_tokens: int) -> list[tuple[int, int]]:
    """Document ranges [a, b) whose tokens stay within ``max_tokens`` (a single longer document gets
    a file of its own; documents are never cut)."""
    if max_tokens < 1:
        raise ValueError(f"'max_tokens_per_file' must be >= 1 (got {max_tokens})")
    ranges, start, acc = [], 0, 0
    for i, n in enumerate(lengths.tolist()):
        if acc and acc + n > max_tokens:
            ranges.append((start, i))
            start, acc = i, 0
        acc += n
    if start < len(lengths):
        ranges.append((start, len(lengths)))
    return ranges
