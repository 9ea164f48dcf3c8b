"""The token-shard format: one Arrow IPC file, one record batch, one row per document.

Columns: ``id`` (the document id, string) and ``tokens`` (list<uint16|uint32>, the document's tokens
followed by the end-of-document token). A list column keeps all tokens of a file in ONE contiguous
values buffer, so the file's token stream (documents separated by the end token) is a zero-copy numpy
view of the memory-mapped file, while the row structure still says where each document starts.
Files are written uncompressed: compression would force a copy on read.

The schema metadata carries everything a reader must check before trusting the tokens (the
modded-nanogpt lesson: a versioned, validated header). Metadata values are strings (Arrow requires it).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

MAGIC = "gristmill-tokens"
FORMAT_VERSION = 1
DTYPES = {"uint16": pa.uint16(), "uint32": pa.uint32()}
SPLITS = ("train", "val")


class ShardError(ValueError):
    """A shard file is not what it claims, or does not match the others it is read with."""


@dataclass(frozen=True)
class ShardMeta:
    tokenizer_hash: str
    vocab_size: int
    eot_id: int
    dtype: str           # "uint16" | "uint32"
    num_tokens: int      # including one end token per document
    num_docs: int
    group: str
    split: str           # "train" | "val"
    source: dict         # {"path", "sha256", "rows"} of the input file the shard was made from
    format: str = MAGIC
    format_version: int = FORMAT_VERSION

    def to_metadata(self) -> dict[bytes, bytes]:
        d = asdict(self)
        return {f"gristmill.{k}".encode(): (json.dumps(v, sort_keys=True) if isinstance(v, dict) else str(v)).encode()
                for k, v in d.items()}

    @classmethod
    def from_metadata(cls, md: dict[bytes, bytes] | None, where: str) -> "ShardMeta":
        md = md or {}
        raw = {k.decode()[len("gristmill."):]: v.decode() for k, v in md.items() if k.startswith(b"gristmill.")}
        if raw.get("format") != MAGIC:
            raise ShardError(f"{where}: not a gristmill token shard (metadata 'gristmill.format' is "
                             f"{raw.get('format')!r}, expected {MAGIC!r}); write shards with gristmill tokenize")
        version = _int(raw, "format_version", where)
        if version != FORMAT_VERSION:
            raise ShardError(f"{where}: 'format_version' is {version} but this reader reads {FORMAT_VERSION}; "
                             f"re-tokenize with this gristmill version or read it with the version that wrote it")
        missing = [k for k in ("tokenizer_hash", "vocab_size", "eot_id", "dtype", "num_tokens", "num_docs",
                               "group", "split", "source") if k not in raw]
        if missing:
            raise ShardError(f"{where}: metadata lacks {missing}; the file is damaged or not written by gristmill")
        meta = cls(tokenizer_hash=raw["tokenizer_hash"], vocab_size=_int(raw, "vocab_size", where),
                   eot_id=_int(raw, "eot_id", where), dtype=raw["dtype"],
                   num_tokens=_int(raw, "num_tokens", where), num_docs=_int(raw, "num_docs", where),
                   group=raw["group"], split=raw["split"], source=json.loads(raw["source"]))
        meta.check(where)
        return meta

    def check(self, where: str) -> None:
        if self.dtype not in DTYPES:
            raise ShardError(f"{where}: 'dtype' is {self.dtype!r}; allowed: {sorted(DTYPES)}")
        if self.dtype != dtype_for(self.vocab_size):
            raise ShardError(f"{where}: 'dtype' is {self.dtype} but 'vocab_size' {self.vocab_size} needs "
                             f"{dtype_for(self.vocab_size)}; the file is damaged, re-tokenize it")
        if not 0 <= self.eot_id < self.vocab_size:
            raise ShardError(f"{where}: 'eot_id' {self.eot_id} is outside the vocabulary [0, {self.vocab_size})")
        if self.split not in SPLITS:
            raise ShardError(f"{where}: 'split' is {self.split!r}; allowed: {SPLITS}")


def _int(raw: dict, key: str, where: str) -> int:
    try:
        return int(raw[key])
    except (KeyError, ValueError):
        raise ShardError(f"{where}: metadata 'gristmill.{key}' is {raw.get(key)!r}, expected an integer") from None


def dtype_for(vocab_size: int) -> str:
    """uint16 when every id fits, else uint32."""
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def schema(meta: ShardMeta) -> pa.Schema:
    return pa.schema([("id", pa.string()), ("tokens", pa.list_(DTYPES[meta.dtype]))], metadata=meta.to_metadata())


def table(ids: list[str], tokens: np.ndarray, lengths: np.ndarray, meta: ShardMeta) -> pa.Table:
    """Rows from a flat token stream and per-document lengths (each including its end token)."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    if int(lengths.sum()) >= 1 << 31:
        raise ShardError(f"a shard holds at most 2^31-1 tokens (got {int(lengths.sum())}); "
                         f"lower --max-tokens-per-file")
    np.cumsum(lengths, out=offsets[1:])
    values = pa.array(tokens.astype(meta.dtype, copy=False), type=DTYPES[meta.dtype])
    lists = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), values)
    return pa.Table.from_arrays([pa.array(ids, type=pa.string()), lists], schema=schema(meta))
