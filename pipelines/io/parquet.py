"""The document and rejected-row Parquet schemas, and deterministic atomic Parquet writing."""
from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipelines.io.atomic import write_atomic

# Columns every document row has (DESIGN.md, "Contracts between stages").
BASE_COLUMNS: dict[str, pa.DataType] = {
    "id": pa.string(),          # sha1 of URL + WARC record digest: stable across runs and machines
    "url": pa.string(),
    "host": pa.string(),
    "warc_path": pa.string(),
    "warc_offset": pa.int64(),
    "fetch_time": pa.string(),  # WARC-Date as written in the record (ISO 8601)
    "lang": pa.string(),
    "lang_score": pa.float64(),
    "text": pa.string(),
}
# Extra columns of rejected rows: which stage dropped or failed the document, why, and of what it is a copy.
REJECT_COLUMNS: dict[str, pa.DataType] = {
    "stage": pa.string(),
    "reason": pa.string(),
    "detail": pa.string(),
    "duplicate_of": pa.string(),
}
_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}


def doc_schema(signal_columns: dict[str, str], rejected: bool = False) -> pa.Schema:
    """Base columns, then each declared signal column (name -> 'int'|'float'|'str'|'bool')."""
    fields = dict(BASE_COLUMNS)
    for name, typ in signal_columns.items():
        if name in fields:
            continue
        fields[name] = _TYPES[typ]
    if rejected:
        fields.update(REJECT_COLUMNS)
    return pa.schema(list(fields.items()))


def to_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Rows -> table with exactly ``schema``'s columns (missing values are null, unknown keys ignored)."""
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.Table.from_pydict(cols, schema=schema)


def write_table_atomic(path: str, table: pa.Table) -> str:
    """Write ``table`` to ``path`` atomically; same table, same bytes. Returns the sha256."""

    def write(f):
        buf = io.BytesIO()
        # No created_by timestamp varies between runs; zstd for size; statistics help readers prune.
        pq.write_table(table, buf, compression="zstd", use_dictionary=True, write_statistics=True)
        f.write(buf.getvalue())

    return write_atomic(path, write)


def read_table(path: str, columns: list[str] | None = None) -> pa.Table:
    with FileSystems.open(path, compression_type="uncompressed") as f:
        return pq.read_table(io.BytesIO(f.read()), columns=columns)
