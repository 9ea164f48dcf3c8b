"""``gristmill curate``: WARC files -> clean main-text documents (Parquet), every drop counted.

Shape (DESIGN.md, "Beam conventions"):
  list files -> Reshuffle -> per file: read -> decode -> extract -> lang -> heuristics -> classifiers
  (ChainFileFn: one input file per element, atomic outputs, done markers, so a rerun skips finished
  files) -> exact dedup across all files (GroupByKey on a hash of normalized text; the smallest id is
  kept) -> per file: final docs/ and rejected/ -> report.json + manifest.json.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import re
import sys
import time
import unicodedata
from functools import partial

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import yaml
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from filters.verdict import Verdict
from pipelines.dofn import ChainFileFn
from pipelines.io.atomic import join, mark_done, read_done
from pipelines.io.parquet import REJECT_COLUMNS, read_table, write_table_atomic
from pipelines.io.warc import DEFAULT_MAX_RECORD_BYTES, read_warc
from pipelines.options import expand_inputs, parse
from pipelines.report import build_report, summary_table, write_report
from pipelines.stages import Stage, StageCounts

JOB = "curate"
FILTERED_DIR = "work/filtered"  # per-file output before the global exact-dedup step
EXACT_REASONS = {"exact.duplicate": "same normalized text as a document with a smaller id (kept)"}


def default_config() -> dict:
    """Every knob of the job, with its default; a YAML --config overrides any subset."""
    return {
        "read": {"max_record_bytes": DEFAULT_MAX_RECORD_BYTES},
        "decode": {},
        "hidden_text": {},
        "extract": {},
        "lang": {"langs": []},
        # Gopher quality, C4 and FineWeb are English rules (stop words, word lengths, terminal
        # punctuation): run them on these languages only; other languages pass them unjudged.
        # [] applies them to every language, as the papers' English-only corpora did implicitly.
        "heuristics": {"langs": ["en"]},
        "gopher_quality": {},
        "gopher_repetition": {},
        "c4": {},
        "fineweb": {},
        # Classifier stages (filters/*.py, see README "Classifiers"); on with --classifiers or enabled: true.
        "unicode": {"enabled": False},
        "injection": {"enabled": False},
        # The LLM-text detector was fitted and measured on English only (word frequencies, SmolLM2): other languages
        # pass it unjudged, with a null llm_score ([] scores every language).
        "llm": {"enabled": False, "langs": ["en"]},
        "quality": {"enabled": False},
    }


def merge_config(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in (override or {}).items():
        if key not in base:
            raise ValueError(f"config key {key!r} is not a curate stage; allowed: {sorted(base)}")
        if not isinstance(value, dict):
            raise ValueError(f"config {key!r} must be a mapping of options (got {value!r})")
        out[key] = {**base[key], **value}
    return out


def pre_extracted(stage: Stage, sets_text: bool) -> Stage:
    """WET conversion records arrive with ``_text`` already extracted: pass them through the
    decode/extract stages (still counted) instead of treating plain text as non-HTML."""

    def fn(doc: dict) -> Verdict:
        if doc.get("_text") is not None:
            return Verdict(True, None, {}, doc["_text"] if sets_text else None)
        return stage.fn(doc)

    return Stage(stage.name, fn, stage.columns, stage.enforce)


def for_langs(stage: Stage, langs: list[str]) -> Stage:
    """Apply ``stage`` only to documents whose ``lang`` is in ``langs`` (all when empty)."""
    if not langs:
        return stage
    allowed = frozenset(langs)

    def fn(doc: dict) -> Verdict:
        return stage.fn(doc) if doc.get("lang") in allowed else Verdict(True)

    return Stage(stage.name, fn, stage.columns, stage.enforce)


def _langs(value, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise ValueError(f"config {key}.langs must be a list of language codes such as ['en'] ([] for every "
                         f"language); got {value!r}")
    return value


def build_stages(config: dict) -> list[Stage]:
    """The curate chain, in order. Called in DoFn.setup(): models load here, once per worker."""
    from filters import c4, decode, extract, fineweb, gopher, lang

    def options(key: str) -> dict:
        return {k: v for k, v in config[key].items() if k != "enabled"}

    english_rules = _langs(config["heuristics"].get("langs") or [], "heuristics")
    stages = [pre_extracted(decode.stage(config["decode"]), sets_text=False)]
    if config["hidden_text"].get("enabled", config["injection"].get("enabled")):
        from filters import hidden_text  # measured on the HTML, so it must run before extraction

        stages.append(pre_extracted(hidden_text.stage(options("hidden_text")), sets_text=False))
    stages += [
        pre_extracted(extract.stage(config["extract"]), sets_text=True),
        lang.stage(config["lang"]),
        for_langs(gopher.quality_stage(config["gopher_quality"]), english_rules),
        gopher.repetition_stage(config["gopher_repetition"]),
        for_langs(c4.stage(config["c4"]), english_rules),
        for_langs(fineweb.stage(config["fineweb"]), english_rules),
    ]
    for key, module in (("unicode", "unicode_anomalies"), ("injection", "injection"), ("llm", "llm_text"),
                        ("quality", "quality")):
        if config[key].get("enabled"):
            opts = options(key)
            langs = opts.pop("langs", None)
            st = importlib.import_module(f"filters.{module}").stage(opts)
            stages.append(for_langs(st, _langs(langs, key)) if langs is not None else st)
    return stages


def normalized_hash(text: str) -> str:
    """Exact-dedup key: NFKC, lower case, whitespace collapsed, so trivial variants collide."""
    norm = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "").lower()).strip()
    return hashlib.sha1(norm.encode("utf-8", "surrogatepass")).hexdigest()


def text_keys(summary: dict):
    path = summary["docs"]["path"]
    table = read_table(path, columns=["id", "text"])
    for doc_id, text in zip(table.column("id").to_pylist(), table.column("text").to_pylist()):
        yield normalized_hash(text), (doc_id, path)


def pick_duplicates(kv):
    """From one group of identical texts, keep the smallest id; emit (file, (loser id, kept id)).

    Two passes over the group's iterable instead of materializing it, so a hot key (the same
    boilerplate page in a million files) streams on runners that page large groups.
    """
    _, members = kv
    keeper = min(m[0] for m in members)
    for doc_id, path in members:
        if doc_id != keeper:
            yield path, (doc_id, keeper)


class FinalizeFileFn(beam.DoFn):
    """Split one filtered file into final docs/ and rejected exact duplicates; count stage ``exact``."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def process(self, kv):
        filtered_path, grouped = kv
        summary = grouped["summary"][0]
        losers = dict(grouped["losers"])
        name = filtered_path.replace("\\", "/").rsplit("/", 1)[-1]
        docs_path = join(self.out_dir, "docs", name)
        rej_path = join(self.out_dir, "rejected", name.replace(".parquet", ".exact.parquet"))
        table = read_table(filtered_path)
        ids = table.column("id").to_pylist()
        keep_mask = pa.array([i not in losers for i in ids], type=pa.bool_())
        kept = table.filter(keep_mask)
        dup = table.filter(pa.compute.invert(keep_mask))
        for col, typ in REJECT_COLUMNS.items():
            values = {"stage": "exact", "reason": "exact.duplicate", "detail": ""}
            if col == "duplicate_of":
                column = [losers[i] for i in dup.column("id").to_pylist()]
            else:
                column = [values[col]] * dup.num_rows
            dup = dup.append_column(col, pa.array(column, type=typ))
        counts = StageCounts()
        counts.enter("exact", table.num_rows)
        counts.out("exact", kept.num_rows)
        if dup.num_rows:
            counts.drop("exact", "exact.duplicate", dup.num_rows)
        rec = mark_done(docs_path, kept.num_rows, write_table_atomic(docs_path, kept))
        rec_rej = mark_done(rej_path, dup.num_rows, write_table_atomic(rej_path, dup))
        Metrics.counter(JOB, "exact.duplicate").inc(dup.num_rows)
        yield {"input": summary["input"], "counts": StageCounts().merge(summary["counts"]).merge(counts).to_dict(),
               "outputs": [rec, summary["rejected"], rec_rej]}


def write_final_report(summaries: list[dict], out_dir: str, config: dict, inputs: list[str], started: float):
    counts = StageCounts()
    outputs = []
    for s in sorted(summaries, key=lambda s: s["input"]):
        counts.merge(s["counts"])
        outputs += s["outputs"]
    base = out_dir.rstrip("/") + "/"
    for o in outputs:
        o["path"] = o["path"][len(base):] if o["path"].startswith(base) else o["path"]
    outputs.sort(key=lambda o: o["path"])
    report = build_report(JOB, config, inputs, counts, outputs, time.time() - started, output=out_dir)
    write_report(out_dir, report)
    yield report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gristmill curate", description=__doc__.split("\n")[0])
    p.add_argument("--input", nargs="+", required=True, metavar="GLOB", help="WARC/ARC/WET files or globs")
    p.add_argument("--output", required=True, metavar="DIR", help="output folder (local or gs://)")
    p.add_argument("--config", metavar="YAML", help="stage options (see README: curate configuration)")
    p.add_argument("--langs", default=None, help="comma-separated ISO codes to keep (default: keep all)")
    p.add_argument("--classifiers", action="store_true",
                   help="also run the hidden-text, unicode, injection, LLM-text and quality scorers")
    return p


def load_config(args) -> dict:
    config = default_config()
    if args.config:
        with open(args.config) as f:
            config = merge_config(config, yaml.safe_load(f) or {})
    if args.langs is not None:
        config["lang"]["langs"] = [c.strip() for c in args.langs.split(",") if c.strip()]
    if getattr(args, "classifiers", False):
        for key in ("hidden_text", "unicode", "injection", "llm", "quality"):
            config[key]["enabled"] = True
    return config


def run(argv: list[str] | None = None) -> dict:
    """Run the job; return its report (also written to OUTPUT/report.json)."""
    args, options = parse(build_parser(), argv)
    config = load_config(args)
    inputs = expand_inputs(args.input)
    out = args.output
    started = time.time()
    read = partial(read_warc, max_record_bytes=int(config["read"]["max_record_bytes"]))
    with beam.Pipeline(options=options) as p:
        summaries = (
            p
            | "ListFiles" >> beam.Create(inputs)
            | "Spread" >> beam.Reshuffle()
            | "ReadExtractFilter" >> beam.ParDo(ChainFileFn(JOB, out, read, build_stages, config, docs_dir=FILTERED_DIR))
        )
        losers = (
            summaries
            | "TextHashes" >> beam.FlatMap(text_keys)
            | "GroupSameText" >> beam.GroupByKey()
            | "PickDuplicates" >> beam.FlatMap(pick_duplicates)
        )
        by_file = summaries | "KeyByFile" >> beam.Map(lambda s: (s["docs"]["path"], s))
        _ = (
            {"summary": by_file, "losers": losers}
            | "JoinDuplicates" >> beam.CoGroupByKey()
            | "WriteFinal" >> beam.ParDo(FinalizeFileFn(out))
            | "Collect" >> beam.combiners.ToList()
            | "Report" >> beam.FlatMap(write_final_report, out, config, inputs, started)
        )
    with FileSystems.open(join(out, "report.json"), compression_type="uncompressed") as f:
        return json.loads(f.read().decode())


def main(argv: list[str] | None = None) -> int:
    report = run(argv)
    print(summary_table(report))
    kept = sum(o["rows"] for o in report["outputs"] if o["path"].startswith("docs/"))
    print(f"{kept} documents kept; report: {join(report['output'], 'report.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
