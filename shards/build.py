"""Tokenize one Parquet file of documents into shard files: the per-file work of ``gristmill tokenize``.

A plain function (no Beam): the Beam DoFn, the benchmark and the tests call it. Documents are grouped
(shards/group_by.py), split into train / held-out by a stable hash of their id (never by position, so
a document is held out whatever file or order it comes in), encoded, and written as
``<out>/<group>/<stem>-NNNN.arrow`` and ``<out>/<group>/val/<stem>-NNNN.arrow``. Dropped documents go
to ``<out>/_rejected/<stem>.parquet`` with their reason. ``<out>/_inputs/<stem>.json`` lists what the
input produced and is marked done last, so a rerun skips the input only when all of it is in place.
"""
from __future__ import annotations

import glob as globlib
import hashlib
import io
import json
import os
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipelines.io.atomic import join, mark_done, output_name, read_done, sha256_of, write_json_atomic
from pipelines.io.parquet import doc_schema, to_table, write_table_atomic
from pipelines.stages import StageCounts, rejected_row
from shards.format import ShardMeta
from shards.group_by import GroupBy
from shards.writer import split_points, write_shard
from tokenizer.encode import Encoder

READ, TOKENIZE = "read", "tokenize"
# Every reason code this job can count (README lists them).
REASONS = {
    "read.unreadable": "the input is not a readable Parquet file (the whole file is counted as failed)",
    "read.missing_column": "the input lacks the text column or a column --group-by reads",
    "tokenize.empty_text": "the document's text is null, empty or only whitespace",
    "tokenize.null_group": "the grouping gave no group (null or empty column value)",
}
VAL_SALT = b"gristmill-val:"


def is_val(doc_id: str, fraction: float) -> bool:
    """Held out iff the id's salted hash falls below ``fraction``: stable across runs, files, machines."""
    h = int.from_bytes(hashlib.sha1(VAL_SALT + doc_id.encode()).digest()[:8], "big")
    return h < fraction * 2.0 ** 64


def doc_id_of(doc_id: object, text: str) -> str:
    """The document's id, or the sha1 of its text where the input has none."""
    return str(doc_id) if doc_id is not None else hashlib.sha1(text.encode()).hexdigest()


def _read(path: str, columns: list[str]) -> pa.Table:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        data = f.read()
    pf = pq.ParquetFile(io.BytesIO(data))
    have = set(pf.schema_arrow.names)
    missing = [c for c in columns if c not in have]
    if missing:
        raise KeyError(", ".join(missing))
    return pf.read(columns=columns), hashlib.sha256(data).hexdigest()


def _clear_stale(out_dir: str, stem: str) -> None:
    """Remove shards of this input left by an unfinished earlier attempt (a changed split could leave
    extra file numbers behind that no index lists, and the reader would pick them up)."""
    if "://" in out_dir:
        return  # object stores: names are overwritten in place; unlisted leftovers are not possible there
    for pattern in (os.path.join(out_dir, "*", f"{stem}-*.arrow"), os.path.join(out_dir, "*", "val", f"{stem}-*.arrow")):
        for p in globlib.glob(pattern):
            os.remove(p)


def tokenize_file(path: str, group_by: GroupBy, encoder: Encoder, out_dir: str, *, val_fraction: float,
                  text_column: str = "text", id_column: str = "id", max_tokens_per_file: int = 1 << 27) -> dict:
    """Tokenize one input file (or skip it if done); return its index record (outputs, counts, groups)."""
    stem = output_name(path, "")
    index_path = join(out_dir, "_inputs", stem + ".json")
    done = read_done(index_path)
    if done is not None:
        with FileSystems.open(index_path, compression_type="uncompressed") as f:
            record = json.loads(f.read().decode())
        if all(FileSystems.exists(o["path"]) and sha256_of(o["path"]) == o["sha256"] for o in record["outputs"]):
            return {**record, "skipped": True}
    _clear_stale(out_dir, stem)

    counts = StageCounts()
    counts.enter(READ)
    record = {"input": path, "outputs": [], "groups": {}, "counts": {}}
    wanted = [text_column] + [c for c in group_by.columns if c != text_column]
    try:
        try:
            tbl, source_sha = _read(path, wanted + [id_column])
        except KeyError:
            tbl, source_sha = _read(path, wanted)  # no id column: ids come from the text
    except KeyError as e:
        counts.fail(READ, "read.missing_column")
        record["error"] = f"missing column(s) {e.args[0]}; have you set --text-column / --group-by?"
    except (pa.ArrowInvalid, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        counts.fail(READ, "read.unreadable")
        record["error"] = f"{type(e).__name__}: {e}"[:500]
    else:
        counts.out(READ)
        _tokenize_table(tbl, source_sha, path, stem, group_by, encoder, out_dir, val_fraction, text_column,
                        id_column, max_tokens_per_file, counts, record)
    counts.check()
    record["counts"] = counts.to_dict()
    sha = write_json_atomic(index_path, record)
    mark_done(index_path, rows=counts.stages.get(TOKENIZE, {}).get("out", 0), sha256=sha)
    return {**record, "skipped": False}


def _tokenize_table(tbl, source_sha, path, stem, group_by, encoder, out_dir, val_fraction, text_column, id_column,
                    max_tokens_per_file, counts, record) -> None:
    cols = {name: tbl.column(name).to_pylist() for name in tbl.column_names}
    texts, ids = cols[text_column], cols.get(id_column, [None] * tbl.num_rows)
    groups = group_by.assign(cols)
    buckets: dict[tuple[str, str], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    rejected = []
    for text, doc_id, group in zip(texts, ids, groups):
        counts.enter(TOKENIZE)
        if not isinstance(text, str) or not text.strip():
            counts.drop(TOKENIZE, "tokenize.empty_text")
            rejected.append(rejected_row({"id": doc_id, "text": text}, TOKENIZE, "tokenize.empty_text"))
            continue
        if group is None:
            counts.drop(TOKENIZE, "tokenize.null_group")
            rejected.append(rejected_row({"id": doc_id, "text": text}, TOKENIZE, "tokenize.null_group",
                                         f"--group-by {group_by.spec!r} gave no group"))
            continue
        counts.out(TOKENIZE)
        did = doc_id_of(doc_id, text)
        b = buckets[(group, "val" if is_val(did, val_fraction) else "train")]
        b[0].append(did)
        b[1].append(text)

    source = {"path": path, "sha256": source_sha, "rows": tbl.num_rows}
    for (group, split), (bids, btexts) in sorted(buckets.items()):
        tokens, lengths = encoder.encode_docs(btexts)
        folder = join(out_dir, group) if split == "train" else join(out_dir, group, "val")
        stats = record["groups"].setdefault(group, {}).setdefault(split, {"docs": 0, "tokens": 0, "files": 0})
        pos = 0
        for k, (a, b) in enumerate(split_points(lengths, max_tokens_per_file)):
            n = int(lengths[a:b].sum())
            meta = ShardMeta(tokenizer_hash=encoder.hash, vocab_size=encoder.vocab_size, eot_id=encoder.eot_id,
                             dtype=encoder.dtype.name, num_tokens=n, num_docs=b - a, group=group, split=split,
                             source=source)
            shard = join(folder, f"{stem}-{k:04d}.arrow")
            sha = write_shard(shard, bids[a:b], tokens[pos:pos + n], lengths[a:b], meta)
            pos += n
            record["outputs"].append({"path": shard, "rows": b - a, "tokens": n, "sha256": sha})
            stats["docs"] += b - a
            stats["tokens"] += n
            stats["files"] += 1
    rej_path = join(out_dir, "_rejected", stem + ".parquet")
    sha = write_table_atomic(rej_path, to_table(rejected, doc_schema({}, rejected=True)))
    record["outputs"].append({"path": rej_path, "rows": len(rejected), "tokens": 0, "sha256": sha})
