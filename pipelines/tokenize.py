"""``gristmill tokenize``: Parquet documents -> Arrow token shards grouped for mixing (a Beam job).

    gristmill tokenize --input 'curated/docs/*.parquet=kept' 'curated/rejected/*.parquet=rejected' \
        --tokenizer tok.json --output shards/

One input file per element (Reshuffle after listing, so files spread over workers); the per-file
work is shards/build.py. Each ``--input`` is a glob, optionally ``GLOB=GROUP`` to put all its
documents in one group; other inputs use ``--group-by`` (a column, ``const:NAME``, or numeric
rules, see shards/group_by.py). The output is ``DIR/<group>/*.arrow`` (train), ``DIR/<group>/val/*.arrow``
(held out), ``DIR/_rejected/``, ``DIR/_inputs/`` (per-input index + done marker), report.json and
manifest.json. Same input and config -> same bytes with any number of workers; a rerun skips inputs
whose outputs are complete, and refuses an output folder made with another configuration.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipelines.io.atomic import join, write_json_atomic
from pipelines.options import expand_inputs, parse
from pipelines.report import build_report, summary_table, write_report
from pipelines.stages import StageCounts
from shards import group_by as grouping
from shards.build import tokenize_file
from tokenizer.encode import load as load_tokenizer
from tokenizer.train import EOT

JOB = "tokenize"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gristmill tokenize", description=__doc__.split("\n\n")[0])
    p.add_argument("--input", nargs="+", action="extend", required=True, metavar="GLOB[=GROUP]",
                   help="Parquet document files; GLOB=GROUP puts every document of those files in GROUP")
    p.add_argument("--tokenizer", required=True, help="tokenizer JSON (gristmill tokenizer train, or any HF tokenizer.json)")
    p.add_argument("--output", required=True, help="output folder for the shards")
    p.add_argument("--group-by", default=None,
                   help="group of inputs without =GROUP: COLUMN, const:NAME, or 'col>=0.5:high,low'")
    p.add_argument("--val-fraction", type=float, default=0.05,
                   help="share of documents held out (by a stable hash of the id) (default 0.05)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--id-column", default="id", help="document id column; missing ids use sha1(text)")
    p.add_argument("--max-tokens-per-file", type=int, default=1 << 27,
                   help="roll to a new shard file beyond this many tokens (default 2^27; documents are never cut)")
    p.add_argument("--eot-token", default=EOT, help=f"end-of-document token of the tokenizer (default {EOT})")
    p.add_argument("--backend", choices=("auto", "tiktoken", "hf"), default="auto",
                   help="auto: tiktoken when it reproduces the tokenizer exactly, else HF")
    return p


def input_specs(items: list[str], group_by: str | None) -> list[tuple[str, str]]:
    """(path, group-by spec) per input file, sorted by path; a file matched twice is an error."""
    specs: dict[str, str] = {}
    for item in items:
        pattern, spec = item, group_by
        if "=" in item:
            head, tail = item.rsplit("=", 1)
            if grouping.NAME_RE.match(tail):  # 'data/lang=en/*.parquet' is a glob, not GLOB=GROUP
                pattern, spec = head, "const:" + grouping.check_name(tail, f"--input {item!r}: group")
        if spec is None:
            raise SystemExit(f"--input {item!r} has no group: write {item}=GROUP or pass --group-by")
        try:
            grouping.parse(spec)
        except ValueError as e:
            raise SystemExit(str(e)) from None
        for path in expand_inputs([pattern]):
            if path.endswith((".json", ".crc")):
                continue
            if path in specs and specs[path] != spec:
                raise SystemExit(f"--input: {path} is matched by two patterns with groups {specs[path]!r} and "
                                 f"{spec!r}; make the globs disjoint")
            specs[path] = spec
    return sorted(specs.items())


class TokenizeFileFn(beam.DoFn):
    def __init__(self, out_dir: str, config: dict) -> None:
        self.out_dir = out_dir
        self.config = config

    def setup(self) -> None:
        c = self.config
        self.encoder = load_tokenizer(c["tokenizer"], eot=c["eot_token"], backend=c["backend"])

    def process(self, element: tuple[str, str]):
        path, spec = element
        c = self.config
        record = tokenize_file(path, grouping.parse(spec), self.encoder, self.out_dir,
                               val_fraction=c["val_fraction"], text_column=c["text_column"],
                               id_column=c["id_column"], max_tokens_per_file=c["max_tokens_per_file"])
        if record["skipped"]:
            Metrics.counter(JOB, "files.skipped_done").inc()
        else:
            for metric, n in StageCounts().merge(record["counts"]).metric_items():
                Metrics.counter(JOB, metric).inc(n)
            Metrics.counter(JOB, "files.processed").inc()
        yield record


def finish(records: list[dict], out_dir: str, config: dict, inputs: list[str], started: float, tokenizer: dict) -> dict:
    """Merge per-input records (in input order) into report.json + manifest.json."""
    records = sorted(records, key=lambda r: r["input"])
    counts = StageCounts()
    groups: dict[str, dict] = {}
    outputs = []
    for r in records:
        counts.merge(r["counts"])
        outputs.extend(r["outputs"])
        for g, splits in r["groups"].items():
            for split, s in splits.items():
                tot = groups.setdefault(g, {}).setdefault(split, {"docs": 0, "tokens": 0, "files": 0})
                for k in tot:
                    tot[k] += s[k]
    report = build_report(JOB, config, inputs, counts, outputs, time.time() - started,
                          tokenizer=tokenizer, groups=dict(sorted(groups.items())),
                          failed_inputs={r["input"]: r["error"] for r in records if r.get("error")},
                          skipped_done=sum(1 for r in records if r["skipped"]))
    write_report(out_dir, report)
    return report


def _check_config(out_dir: str, config: dict) -> None:
    """An output folder holds one tokenization: refuse to mix shards made with another configuration."""
    path = join(out_dir, "_config.json")
    if FileSystems.exists(path):
        with FileSystems.open(path, compression_type="uncompressed") as f:
            old = json.loads(f.read().decode())
        if old != config:
            diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            raise SystemExit(f"--output {out_dir} was made with a different configuration ({', '.join(diff)} "
                             f"differ: {[(old.get(k), config.get(k)) for k in diff]}); use a new --output or "
                             f"delete the folder")
    else:
        write_json_atomic(path, config)


def run(argv: list[str] | None = None) -> dict:
    """Run the job with command-line style ``argv``; return the report (also written to report.json)."""
    args, options = parse(parser(), argv)
    if not 0.0 <= args.val_fraction < 1.0:
        raise SystemExit(f"'--val-fraction' must be in [0, 1) (got {args.val_fraction})")
    if args.max_tokens_per_file < 1:
        raise SystemExit(f"'--max-tokens-per-file' must be >= 1 (got {args.max_tokens_per_file})")
    started = time.time()
    enc = load_tokenizer(args.tokenizer, eot=args.eot_token, backend=args.backend)
    tokenizer = {"path": args.tokenizer, "hash": enc.hash, "vocab_size": enc.vocab_size, "eot_id": enc.eot_id,
                 "dtype": enc.dtype.name, "backend": enc.backend}
    specs = input_specs(args.input, args.group_by)
    # The tokenizer is pinned by its hash, not its path: moving tok.json does not invalidate a folder.
    config = {"tokenizer_hash": enc.hash, "inputs": args.input, "group_by": args.group_by,
              "val_fraction": args.val_fraction, "text_column": args.text_column, "id_column": args.id_column,
              "max_tokens_per_file": args.max_tokens_per_file, "eot_token": args.eot_token}
    _check_config(args.output, config)
    fn_config = {"tokenizer": args.tokenizer, "eot_token": args.eot_token, "backend": args.backend,
                 "val_fraction": args.val_fraction, "text_column": args.text_column, "id_column": args.id_column,
                 "max_tokens_per_file": args.max_tokens_per_file}
    inputs = [p for p, _ in specs]
    with beam.Pipeline(options=options) as p:
        _ = (p
             | "ListInputs" >> beam.Create(specs)
             | "Spread" >> beam.Reshuffle()
             | "Tokenize" >> beam.ParDo(TokenizeFileFn(args.output, fn_config))
             | "Collect" >> beam.combiners.ToList()
             | "Report" >> beam.Map(finish, args.output, config, inputs, started, tokenizer))
    with FileSystems.open(join(args.output, "report.json"), compression_type="uncompressed") as f:
        return json.loads(f.read().decode())


def main(argv: list[str] | None = None) -> int:
    report = run(argv)
    print(summary_table(report))
    for g, splits in report["groups"].items():
        tr, va = splits.get("train", {}), splits.get("val", {})
        print(f"group:{g} train_docs:{tr.get('docs', 0)} train_tokens:{tr.get('tokens', 0)} "
              f"val_docs:{va.get('docs', 0)} val_tokens:{va.get('tokens', 0)}")
    for path, err in report["failed_inputs"].items():
        print(f"failed_input:{path} {err}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
