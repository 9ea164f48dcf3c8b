"""The one generic DoFn: a chain of stages over the records of one input file.

Per-file jobs (curate, and any job shaped like it) hand it a reader and a stage factory. ``setup()``
builds the stages once per worker, so fastText and other models load once, not once per element.
Each input file becomes ``docs/<name>`` and ``rejected/<name>``, written atomically and marked done
with their per-file stage counts, so a rerun or a retried bundle skips the file and still reports it.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipelines.io.atomic import join, mark_done, output_name, read_done
from pipelines.io.parquet import doc_schema, to_table, write_table_atomic
from pipelines.stages import Stage, StageCounts, run_chain

# reader(path, counts) yields (doc, None) for a record to process, or (None, rejected_row) for a record
# that failed while being read; it counts its own stages in ``counts``.
Reader = Callable[[str, StageCounts], Iterator[tuple]]
StageFactory = Callable[[dict], list[Stage]]
# One line per input file as it finishes (curate with the classifiers spends minutes on a file): in a Beam worker
# process the SDK harness prints INFO logs; `gristmill` itself shows this logger's lines (pipelines/cli.py).
log = logging.getLogger("gristmill")


def stage_columns(stages: list[Stage], extra: dict[str, str] | None = None) -> dict[str, str]:
    cols: dict[str, str] = dict(extra or {})
    for st in stages:
        cols.update(st.columns)
    return cols


def sort_key(row: dict) -> tuple:
    """Rows are written in input order (offset), ties broken by id: the same bytes whoever ran it."""
    return (row.get("warc_path") or "", row.get("warc_offset") or 0, row.get("id") or "")


class ChainFileFn(beam.DoFn):
    def __init__(self, job: str, out_dir: str, read: Reader, make_stages: StageFactory, config: dict,
                 reader_columns: dict[str, str] | None = None, docs_dir: str = "docs") -> None:
        self.job = job
        self.out_dir = out_dir
        self.read = read
        self.make_stages = make_stages
        self.config = config
        self.reader_columns = reader_columns or {}
        self.docs_dir = docs_dir

    def setup(self) -> None:
        self.stages = self.make_stages(self.config)
        cols = stage_columns(self.stages, self.reader_columns)
        self.schema = doc_schema(cols)
        self.rejected_schema = doc_schema(cols, rejected=True)

    def process(self, path: str):
        name = output_name(path, ".parquet")
        docs_path = join(self.out_dir, self.docs_dir, name)
        rej_path = join(self.out_dir, "rejected", name)
        done, done_rej = read_done(docs_path), read_done(rej_path)
        if done and done_rej:
            Metrics.counter(self.job, "files.skipped_done").inc()
            log.info("%s: %s already done (%d passed), skipped", self.job, os.path.basename(path), done["rows"])
            yield {"input": path, "docs": done, "rejected": done_rej, "counts": done["counts"]}
            return
        started = time.time()
        counts = StageCounts()
        kept: list[dict] = []
        rejected: list[dict] = []
        for doc, bad in self.read(path, counts):
            if bad is not None:
                rejected.append(bad)
                continue
            k, r = run_chain(doc, self.stages, counts)
            (kept if k is not None else rejected).append(k if k is not None else r)
        counts.check()
        kept.sort(key=sort_key)
        rejected.sort(key=sort_key)
        sha = write_table_atomic(docs_path, to_table(kept, self.schema))
        sha_rej = write_table_atomic(rej_path, to_table(rejected, self.rejected_schema))
        rec_rej = mark_done(rej_path, len(rejected), sha_rej)
        rec = mark_done(docs_path, len(kept), sha, counts=counts.to_dict(), input=path)
        for metric, n in counts.metric_items():
            Metrics.counter(self.job, metric).inc(n)
        Metrics.counter(self.job, "files.processed").inc()
        log.info("%s: %s: %d passed, %d rejected in %.0f s", self.job, os.path.basename(path), len(kept), len(rejected),
                 time.time() - started)
        yield {"input": path, "docs": rec, "rejected": rec_rej, "counts": counts.to_dict()}
