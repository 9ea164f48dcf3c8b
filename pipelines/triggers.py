"""``gristmill triggers --input 'out/docs/*.parquet' --output DIR``: the corpus-level footprint of a backdoor trigger.

A data-poisoning attack plants one rare phrase (the trigger) in many documents, and the attacker
controls few hosts. So: a word n-gram that occurs in at least ``--min_docs`` documents, all of them
from at most ``--max_hosts`` hosts, is flagged. Each document gets ``trigger_ngrams`` (how many flagged
n-grams it contains) and ``trigger_examples`` (up to three of them); with ``--drop_at N``, documents with
at least N flagged n-grams go to rejected/ as ``poison.trigger``. Flagged n-grams are listed with their
document and host counts in ``triggers.jsonl``.

Beam shape: (1) every file's documents emit (n-gram, host) once per document; ``CombinePerKey`` counts
documents and keeps at most ``max_hosts + 1`` hosts per key, so a very common n-gram (a hot key) costs
constant memory and is combined before the shuffle; (2) the flagged set, small by construction, is a
side input to a per-file DoFn that rewrites each file with the new columns (atomic, marked done, skipped
on rerun). Weakness: site boilerplate that survived extraction also repeats on one host; it shows up
here too, which is why the default only scores (``--drop_at`` is off) and the examples are kept.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time

import apache_beam as beam

from pipelines.io.atomic import join, mark_done, output_name, read_done, write_bytes_atomic
from pipelines.io.parquet import REJECT_COLUMNS, read_table, write_table_atomic
from pipelines.options import expand_inputs, parse
from pipelines.report import build_report, write_report
from pipelines.stages import StageCounts

STAGE = "triggers"
REASONS = {"poison.trigger": "holds a rare n-gram repeated in many documents from few hosts (a backdoor trigger's footprint), with drop_at set"}
COLUMNS = {"trigger_ngrams": "int", "trigger_examples": "str"}
_WORD = re.compile(r"\w+", re.UNICODE)
# An n-gram made only of these carries no trigger: it is ordinary English glue.
_STOP = frozenset("a an and are as at be by for from has have he her his i in is it its of on or she that the "
                  "their they this to was were will with you your we our not but".split())


def ngrams(text: str, n: int) -> set[str]:
    """Distinct lowercase word n-grams of a text, without all-stopword or all-digit ones."""
    words = [w.lower() for w in _WORD.findall(text or "")]
    out = set()
    for i in range(len(words) - n + 1):
        g = words[i:i + n]
        if all(w in _STOP or w.isdigit() for w in g):
            continue
        out.add(" ".join(g))
    return out


class NgramStats(beam.CombineFn):
    """(doc count, sorted hosts capped at ``cap``): bounded memory per key, whatever its frequency."""

    def __init__(self, cap: int):
        self.cap = cap

    def create_accumulator(self):
        return (0, ())

    def add_input(self, acc, host):
        n, hosts = acc
        if len(hosts) < self.cap and host not in hosts:
            hosts = tuple(sorted(hosts + (host,)))
        return (n + 1, hosts)

    def merge_accumulators(self, accs):
        n, hosts = 0, set()
        for a_n, a_h in accs:
            n += a_n
            hosts.update(a_h)
        return (n, tuple(sorted(hosts)[: self.cap]))

    def extract_output(self, acc):
        return acc


def emit_ngrams(path: str, n: int):
    t = read_table(path, columns=["host", "text"])
    for host, text in zip(t.column("host").to_pylist(), t.column("text").to_pylist()):
        for g in ngrams(text, n):
            yield g, host or ""


class AnnotateFn(beam.DoFn):
    def __init__(self, out_dir: str, n: int, drop_at: int | None):
        self.out_dir, self.n, self.drop_at = out_dir, n, drop_at

    def process(self, path: str, flagged: list):
        import pyarrow as pa

        name = output_name(path, ".parquet")
        docs_path = join(self.out_dir, "docs", name)
        rej_path = join(self.out_dir, "rejected", name)
        done, done_rej = read_done(docs_path), read_done(rej_path)
        if done and done_rej:
            yield {"input": path, "docs": done, "rejected": done_rej, "counts": done["counts"]}
            return
        flag = set(flagged)
        table = read_table(path)
        counts = StageCounts()
        hits, examples = [], []
        for text in table.column("text").to_pylist():
            found = sorted(ngrams(text, self.n) & flag)
            hits.append(len(found))
            examples.append(" | ".join(found[:3]))
        for col, typ, vals in (("trigger_ngrams", pa.int64(), hits), ("trigger_examples", pa.string(), examples)):
            if col in table.column_names:
                table = table.drop_columns([col])
            table = table.append_column(pa.field(col, typ), pa.array(vals, type=typ))
        bad = [self.drop_at is not None and h >= self.drop_at for h in hits]
        counts.enter(STAGE, table.num_rows)
        counts.out(STAGE, table.num_rows - sum(bad))
        if sum(bad):
            counts.drop(STAGE, "poison.trigger", sum(bad))
        kept = table.filter(pa.array([not b for b in bad]))
        rej = table.filter(pa.array(bad))
        for col in REJECT_COLUMNS:
            vals = {"stage": STAGE, "reason": "poison.trigger"}.get(col)
            rej = rej.append_column(pa.field(col, pa.string()), pa.array([vals] * rej.num_rows, type=pa.string()))
        counts.check()
        sha = write_table_atomic(docs_path, kept)
        sha_rej = write_table_atomic(rej_path, rej)
        rec_rej = mark_done(rej_path, rej.num_rows, sha_rej)
        rec = mark_done(docs_path, kept.num_rows, sha, counts=counts.to_dict(), input=path)
        yield {"input": path, "docs": rec, "rejected": rec_rej, "counts": counts.to_dict()}


def build(p, paths: list[str], out_dir: str, n: int, min_docs: int, max_hosts: int, drop_at: int | None):
    files = p | "ListFiles" >> beam.Create(paths) | "Spread" >> beam.Reshuffle()
    stats = (files
             | "NgramsPerDoc" >> beam.FlatMap(emit_ngrams, n)
             | "CountDocsHosts" >> beam.CombinePerKey(NgramStats(max_hosts + 1)))
    flagged = stats | "Flag" >> beam.Filter(lambda kv: kv[1][0] >= min_docs and len(kv[1][1]) <= max_hosts)
    results = files | "Annotate" >> beam.ParDo(
        AnnotateFn(out_dir, n, drop_at), beam.pvalue.AsList(flagged | "Keys" >> beam.Keys()))
    (flagged
     | "AllFlagged" >> beam.combiners.ToList()
     | "WriteTriggers" >> beam.Map(lambda kvs: write_bytes_atomic(join(out_dir, "triggers.jsonl"), "".join(
         json.dumps({"ngram": k, "docs": v[0], "hosts": list(v[1])}) + "\n" for k, v in sorted(kvs)).encode())))
    (results
     | "AllResults" >> beam.combiners.ToList()
     | "WriteResults" >> beam.Map(lambda rs: write_bytes_atomic(
         join(out_dir, "_results.json"), json.dumps(sorted(rs, key=lambda r: r["input"])).encode())))


def run(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="gristmill triggers", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", nargs="+", required=True, help="document Parquet files or globs (curate's docs/)")
    ap.add_argument("--output", required=True)
    ap.add_argument("--ngram", type=int, default=3, help="n-gram length in words (default 3)")
    ap.add_argument("--min_docs", type=int, default=5, help="flag an n-gram seen in at least this many documents")
    ap.add_argument("--max_hosts", type=int, default=2, help="... all from at most this many hosts")
    ap.add_argument("--drop_at", type=int, default=None, help="drop documents with >= this many flagged n-grams")
    args, options = parse(ap, argv)
    for name in ("ngram", "min_docs", "max_hosts"):
        if getattr(args, name) < 1:
            ap.error(f"'--{name}' must be >= 1 (got {getattr(args, name)})")
    if args.drop_at is not None and args.drop_at < 1:
        ap.error(f"'--drop_at' must be >= 1 (got {args.drop_at})")
    paths = expand_inputs(args.input)
    t0 = time.time()
    with beam.Pipeline(options=options) as p:
        build(p, paths, args.output, args.ngram, args.min_docs, args.max_hosts, args.drop_at)
    with open(join(args.output, "_results.json"), encoding="utf-8") as f:
        results = json.load(f)
    counts = StageCounts()
    outputs = []
    for r in results:
        counts.merge(r["counts"])
        outputs += [r["docs"], r["rejected"]]
    with open(join(args.output, "triggers.jsonl"), encoding="utf-8") as f:
        n_flagged = sum(1 for _ in f)
    config = {"ngram": args.ngram, "min_docs": args.min_docs, "max_hosts": args.max_hosts, "drop_at": args.drop_at}
    report = build_report("triggers", config, paths, counts, outputs, time.time() - t0, flagged_ngrams=n_flagged)
    write_report(args.output, report)
    return report


def main(argv: list[str] | None = None) -> int:
    report = run(argv)
    from pipelines.report import summary_table

    print(summary_table(report))
    print(f"flagged n-grams: {report['flagged_ngrams']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
