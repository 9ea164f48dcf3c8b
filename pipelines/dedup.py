"""``gristmill dedup --input DOCS_GLOB --output DIR``: MinHash near-duplicate removal on Beam.

Three kinds of pipeline run one after another (all on the runner given by the Beam flags):

1. candidates: each input file -> MinHash signatures (dedup.minhash, vectorized per batch) -> one
   record per LSH band (dedup.lsh) keyed by (band value, salt) -> sub-bucket stars -> the sub-buckets'
   centers meet again by band value -> star edges (verified by estimated Jaccard unless --no_verify;
   estimates within 3 sd of the threshold decided by exact shingle Jaccard, rows re-read per file)
   -> ``--rounds`` unrolled min-label rounds (dedup.components) -> labels and a changed-count in _work/.
2. more rounds, only while the last round still changed labels (an outer loop, at most --max_passes).
3. write: labels of duplicates grouped by input file -> each file is rewritten as docs/<name>
   (kept rows, same columns) and rejected/<name> (reason dedup.near_duplicate, duplicate_of = kept id).

A document's node is (no_quality, -quality, id, file index, row): the smallest node of a component is
the one kept (highest quality_score, then smallest id), and its label *is* that node, so no second
join is needed to tell a duplicate what it duplicates. No step holds more than one file, one
sub-bucket (hot buckets split by --fanout) or one node's neighbours.
Reruns: _work/state.json remembers finished components for the same inputs and config, and each output
file is skipped when its .done.json matches the duplicates it should contain.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from dedup.components import Adjacency, LabelRounds
from dedup.lsh import band_keys, bucket_edges, choose_bands, salt
from dedup.minhash import MinHashConfig, MinHasher, shingle_hashes, shingles
from pipelines.io.atomic import join, makedirs, mark_done, output_name, read_done, write_json_atomic
from pipelines.io.parquet import REJECT_COLUMNS, read_table, write_table_atomic
from pipelines.options import expand_inputs, parse
from pipelines.report import build_report, summary_table, write_report
from pipelines.stages import StageCounts

STAGE = "dedup"
REASONS = {
    "dedup.near_duplicate": "estimated Jaccard >= threshold with a kept document (transitively); see duplicate_of",
    "dedup.missing_id": "row has no id, so it cannot be named as kept or duplicate (counted failed, kept in rejected/)",
}
METRICS_NS = "dedup"


@dataclass(frozen=True)
class DedupConfig:
    ngram: int = 5                  # words per shingle
    num_perm: int = 256             # MinHash permutations: 256 halves the verification error of 128 for ~20% more time
    seed: int = 1                   # MinHash seed (datasketch's default)
    threshold: float = 0.8          # Jaccard similarity that makes a near-duplicate
    fp_weight: float = 0.1          # band choice: weight of false candidates (verification removes them)
    fn_weight: float = 0.9          # band choice: weight of missed pairs (nothing recovers them)
    verify: bool = True             # link a bucket member only if estimated Jaccard >= threshold
    exact_check: bool = True        # estimates within 3 sd of the threshold: decide by exact Jaccard
    fanout: int = 16                # sub-buckets per band value: a hot bucket is split this many ways
    max_centers: int = 16           # verified stars per sub-bucket before members stay unlinked (counted)
    rounds: int = 6                 # min-label rounds unrolled per pipeline
    max_passes: int = 10            # pipelines of rounds before giving up (the graph's diameter is larger)
    quality_column: str = "quality_score"  # higher is kept; absent or null ranks below any value
    batch_size: int = 1000          # documents per vectorized signature batch

    def __post_init__(self) -> None:
        MinHashConfig(self.ngram, self.num_perm, self.seed)  # validates those three
        choose_bands(self.threshold, self.num_perm, self.fp_weight, self.fn_weight)  # validates those
        for name in ("fanout", "max_centers", "rounds", "max_passes", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"'{name}' must be >= 1 (got {getattr(self, name)})")

    def margin(self) -> float:
        """Half-width of the band around the threshold where an estimate is too noisy to decide on."""
        if not (self.verify and self.exact_check):
            return 0.0
        return 3.0 * math.sqrt(self.threshold * (1.0 - self.threshold) / self.num_perm)

    def bands(self) -> tuple[int, int]:
        return choose_bands(self.threshold, self.num_perm, self.fp_weight, self.fn_weight)


def make_node(doc_id: str, quality, file_index: int, row: int) -> tuple:
    """Ordering key of a document: smaller = preferred to keep (see module docstring)."""
    if quality is None or (isinstance(quality, float) and math.isnan(quality)):
        return (1, 0.0, doc_id, file_index, row)
    return (0, 0.0 - float(quality), doc_id, file_index, row)  # 0.0 - q: never a -0.0 key


def _node(value) -> tuple:
    """A node read back from JSON (a list) as the tuple Beam keyed it by."""
    return tuple(value)


# ---------------------------------------------------------------- candidates: signatures -> band records

class BandRecordsFn(beam.DoFn):
    """One input file -> ((band key, salt), (node, low 16 bits of the signature, or None)) per band and row."""

    def __init__(self, config: DedupConfig, inputs: list[str]) -> None:
        self.config = config
        self.index = {p: i for i, p in enumerate(inputs)}

    def setup(self) -> None:
        self.hasher = MinHasher(MinHashConfig(self.config.ngram, self.config.num_perm, self.config.seed))
        self.bands, self.rows = self.config.bands()

    def process(self, path: str):
        cfg = self.config
        try:
            with FileSystems.open(path, compression_type="uncompressed") as f:
                pf = pq.ParquetFile(f)
                names = set(pf.schema_arrow.names)
                missing = {"id", "text"} - names
                if missing:
                    Metrics.counter(METRICS_NS, "inputs.missing_columns").inc()
                    return
                cols = ["id", "text"] + ([cfg.quality_column] if cfg.quality_column in names else [])
                row = 0
                for batch in pf.iter_batches(batch_size=cfg.batch_size, columns=cols):
                    data = batch.to_pydict()
                    yield from self._batch(data, cols, path, row)
                    row += batch.num_rows
        except (pa.ArrowInvalid, OSError):
            # An unreadable file is reported by the write step (it reads the file again); here it
            # only contributes no candidates.
            Metrics.counter(METRICS_NS, "inputs.unreadable").inc()
            return

    def _batch(self, data: dict, cols: list[str], path: str, first_row: int):
        cfg = self.config
        ids, texts = data["id"], data["text"]
        quality = data[cfg.quality_column] if cfg.quality_column in cols else [None] * len(ids)
        keep = [i for i, d in enumerate(ids) if d]
        sigs = self.hasher.signatures([shingles(texts[i] or "", cfg.ngram) for i in keep])
        fi = self.index[path]
        for sig, i in zip(sigs, keep):
            node = make_node(ids[i], quality[i], fi, first_row + i)
            keys = band_keys(sig, self.bands, self.rows)
            if not keys:
                Metrics.counter(METRICS_NS, "docs.no_shingles").inc()
                continue
            # Verification needs equal positions only: the low 16 bits of each value halve the bytes
            # every band record carries, at a bias of 2**-16 per position in the estimate.
            value = (node, sig.astype("<u2").tobytes() if cfg.verify else None)
            s = salt(node, cfg.fanout)
            for key in keys:
                yield (key, s), value
        Metrics.counter(METRICS_NS, "docs.hashed").inc(len(keep))


def _members(values) -> list:
    return [(node, None if sig is None else np.frombuffer(sig, dtype="<u2")) for node, sig in values]


class BucketEdgesFn(beam.DoFn):
    """One bucket -> star edges, at either of the two levels of a hot band value:
    ``top=False``: a sub-bucket; its centers also go out, re-keyed by band value, for the second level;
    ``top=True``: the centers of one band value's sub-buckets (at most fanout x max_centers), linked."""

    CENTERS = "centers"
    AMBIGUOUS = "ambiguous"

    def __init__(self, config: DedupConfig, top: bool = False) -> None:
        self.top = top
        self.threshold = config.threshold if config.verify else None
        self.max_centers = config.max_centers * (config.fanout if top else 1)
        self.margin = config.margin()
        self.size = Metrics.distribution(METRICS_NS, "lsh.bucket_centers" if top else "lsh.subbucket_size")
        self.unlinked = Metrics.counter(METRICS_NS, "lsh.unlinked")

    def process(self, kv):
        key, values = kv
        members = _members(values)
        self.size.update(len(members))
        edges, centers, unlinked, ambiguous = bucket_edges(members, self.threshold, self.max_centers, self.margin)
        if unlinked:
            self.unlinked.inc(unlinked)
        yield from edges
        for edge in ambiguous:
            yield beam.pvalue.TaggedOutput(self.AMBIGUOUS, edge)
        if not self.top:
            band_key = key[0]  # (band key, sub-bucket) -> band key
            for node, sig in centers:
                yield beam.pvalue.TaggedOutput(self.CENTERS, (band_key, (node, None if sig is None else sig.tobytes())))


class ShingleSetsFn(beam.DoFn):
    """(file index, [(row, edge)]) -> (edge, sorted unique shingle hashes of that row), reading the file once.

    Hashes are datasketch's 32-bit sha1 of each shingle: "exact" Jaccard up to 32-bit collisions
    between two documents' shingles (about 1 in 4,000 for two 1,000-shingle documents to share one).
    """

    def __init__(self, config: DedupConfig, inputs: list[str]) -> None:
        self.config = config
        self.inputs = inputs

    def process(self, kv):
        file_index, requests = kv
        requests = sorted(requests)
        try:
            texts = read_table(self.inputs[file_index], columns=["text"]).column("text").to_pylist()
        except (pa.ArrowInvalid, OSError, KeyError):
            return  # the write step reports the file; its edges stay unconfirmed
        sets: dict[int, bytes] = {}
        for row, edge in requests:
            if row not in sets:
                text = texts[row] if row < len(texts) else None
                sets[row] = np.unique(shingle_hashes(shingles(text or "", self.config.ngram))).tobytes()
            yield edge, sets[row]


def _exactly_similar(kv, threshold: float):
    edge, sides = kv
    sides = list(sides)
    Metrics.counter(METRICS_NS, "lsh.exact_checked").inc()
    if len(sides) != 2:  # an endpoint's file could not be read
        return
    a, b = (np.frombuffer(x, dtype=np.uint32) for x in sides)
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    if union and inter / union >= threshold:
        Metrics.counter(METRICS_NS, "lsh.exact_confirmed").inc()
        yield edge


class ExactCheck(beam.PTransform):
    """Ambiguous (u, v) candidate edges -> the ones whose exact shingle Jaccard reaches the threshold.

    Requests are grouped by input file, so each file is read once, and only the rows that need it
    are shingled; each edge then meets its two shingle sets under its own key.
    """

    def __init__(self, config: DedupConfig, inputs: list[str]) -> None:
        super().__init__()
        self.config = config
        self.inputs = inputs

    def expand(self, ambiguous):
        return (ambiguous
                | "Distinct" >> beam.Distinct()
                | "Requests" >> beam.FlatMap(lambda e: [(e[0][3], (e[0][4], e)), (e[1][3], (e[1][4], e))])
                | "ByFile" >> beam.GroupByKey()
                | "ShingleSets" >> beam.ParDo(ShingleSetsFn(self.config, self.inputs))
                | "ByEdge" >> beam.GroupByKey()
                | "Exact" >> beam.FlatMap(_exactly_similar, self.config.threshold))


def _dump(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _state_line(node, state) -> str:
    label, adj = state
    return _dump([node, label, adj])


def _parse_state(line: str):
    node, label, adj = json.loads(line)
    return _node(node), (_node(label), tuple(_node(a) for a in adj))


def _write_state(state, changed, work: str, pass_no: int) -> None:
    state | "DumpState" >> beam.MapTuple(_state_line) | "WriteState" >> beam.io.WriteToText(
        join(work, f"state-{pass_no}", "part"), file_name_suffix=".jsonl")
    changed | "DumpChanged" >> beam.Map(str) | "WriteChanged" >> beam.io.WriteToText(
        join(work, f"changed-{pass_no}"), file_name_suffix=".txt", shard_name_template="")


def candidates_pipeline(p, inputs: list[str], config: DedupConfig, work: str) -> None:
    records = (p | "Inputs" >> beam.Create(inputs) | "Spread" >> beam.Reshuffle()
               | "Bands" >> beam.ParDo(BandRecordsFn(config, inputs)))
    sub = (records | "SubBuckets" >> beam.GroupByKey()
           | "Stars" >> beam.ParDo(BucketEdgesFn(config)).with_outputs(
               BucketEdgesFn.CENTERS, BucketEdgesFn.AMBIGUOUS, main="edges"))
    top = (sub[BucketEdgesFn.CENTERS] | "Buckets" >> beam.GroupByKey()
           | "CenterStars" >> beam.ParDo(BucketEdgesFn(config, top=True)).with_outputs(
               BucketEdgesFn.AMBIGUOUS, main="edges"))
    edges = [sub.edges, top.edges]
    if config.margin():
        edges.append((sub[BucketEdgesFn.AMBIGUOUS], top[BucketEdgesFn.AMBIGUOUS])
                     | "AllAmbiguous" >> beam.Flatten() | "ExactCheck" >> ExactCheck(config, inputs))
    state = tuple(edges) | "AllEdges" >> beam.Flatten() | "Adjacency" >> Adjacency()
    _write_state(*(state | "Rounds" >> LabelRounds(config.rounds)), work, 1)


def rounds_pipeline(p, config: DedupConfig, work: str, pass_no: int) -> None:
    state = (p | "ReadState" >> beam.io.ReadFromText(join(work, f"state-{pass_no - 1}", "part*"))
             | "ParseState" >> beam.Map(_parse_state))
    _write_state(*(state | "Rounds" >> LabelRounds(config.rounds)), work, pass_no)


# ---------------------------------------------------------------- write: one output pair per input file

class WriteFileFn(beam.DoFn):
    """(input path, duplicates of that file) -> docs/<name> and rejected/<name>, skipped if already done."""

    def __init__(self, out_dir: str, fingerprint: str) -> None:
        self.out_dir = out_dir
        self.fingerprint = fingerprint

    def process(self, kv):
        path, grouped = kv
        dups = sorted(grouped["dups"])  # (row, duplicate id, kept id)
        name = output_name(path, ".parquet")
        docs_path = join(self.out_dir, "docs", name)
        rej_path = join(self.out_dir, "rejected", name)
        key = hashlib.sha256(_dump([self.fingerprint, path, dups]).encode()).hexdigest()
        done, done_rej = read_done(docs_path), read_done(rej_path)
        if done and done_rej and done.get("key") == key:
            Metrics.counter(METRICS_NS, "files.skipped_done").inc()
            yield _dump({"input": path, "docs": done, "rejected": done_rej, "counts": done["counts"]})
            return
        try:
            table = read_table(path)
        except (pa.ArrowInvalid, OSError) as e:
            Metrics.counter(METRICS_NS, "inputs.unreadable").inc()
            yield _dump({"input": path, "error": f"unreadable Parquet: {e}"[:300]})
            return
        if "id" not in table.column_names or "text" not in table.column_names:
            yield _dump({"input": path, "error": f"missing column(s) id/text: has {table.column_names}"})
            return
        ids = table.column("id").to_pylist()
        kept_of = {row: kept for row, _, kept in dups}
        keep_rows: list[int] = []
        rejects: list[tuple[int, str, str | None]] = []  # (row, reason, duplicate_of)
        counts = StageCounts()
        for row, doc_id in enumerate(ids):
            counts.enter(STAGE)
            if not doc_id:
                counts.fail(STAGE, "dedup.missing_id")
                rejects.append((row, "dedup.missing_id", None))
            elif row in kept_of:
                counts.drop(STAGE, "dedup.near_duplicate")
                rejects.append((row, "dedup.near_duplicate", kept_of[row]))
            else:
                counts.out(STAGE)
                keep_rows.append(row)
        counts.check()
        rej_rows = [r for r, _, _ in rejects]
        reasons = [reason for _, reason, _ in rejects]
        dup_of = [d for _, _, d in rejects]
        kept = table.take(pa.array(keep_rows, type=pa.int64()))
        rejected = table.take(pa.array(rej_rows, type=pa.int64()))
        n = len(rej_rows)
        extra = {"stage": [STAGE] * n, "reason": reasons, "detail": [""] * n, "duplicate_of": dup_of}
        for col, typ in REJECT_COLUMNS.items():
            if col in rejected.column_names:
                rejected = rejected.drop_columns([col])
            rejected = rejected.append_column(pa.field(col, typ), pa.array(extra[col], type=typ))
        sha = write_table_atomic(docs_path, kept)
        sha_rej = write_table_atomic(rej_path, rejected)
        rec_rej = mark_done(rej_path, n, sha_rej)
        rec = mark_done(docs_path, len(keep_rows), sha, counts=counts.to_dict(), input=path, key=key)
        for metric, value in counts.metric_items():
            Metrics.counter(METRICS_NS, metric).inc(value)
        yield _dump({"input": path, "docs": rec, "rejected": rec_rej, "counts": counts.to_dict()})


def _duplicates(line: str, inputs: list[str]):
    node, (label, _) = _parse_state(line)
    if label != node:
        yield inputs[node[3]], (node[4], node[2], label[2])


def write_pipeline(p, inputs: list[str], out_dir: str, work: str, pass_no: int, fingerprint: str) -> None:
    files = p | "Inputs" >> beam.Create([(path, None) for path in inputs])
    dups = (p | "ReadLabels" >> beam.io.ReadFromText(join(work, f"state-{pass_no}", "part*"))
            | "Duplicates" >> beam.FlatMap(_duplicates, inputs))
    ({"file": files, "dups": dups} | "ByFile" >> beam.CoGroupByKey()
     | "Write" >> beam.ParDo(WriteFileFn(out_dir, fingerprint))
     | "Records" >> beam.io.WriteToText(join(work, "records", "part"), file_name_suffix=".jsonl"))


# ---------------------------------------------------------------- driver

def _run(build, options, *args) -> dict:
    p = beam.Pipeline(options=options)
    build(p, *args)
    result = p.run()
    result.wait_until_finish()
    return _metrics(result)


def _metrics(result) -> dict:
    out: dict = {}
    try:
        res = result.metrics().query(MetricsFilter().with_namespace(METRICS_NS))
    except NotImplementedError:  # a runner without metrics support: the report simply has fewer numbers
        return out
    for c in res["counters"]:
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + c.committed
    for d in res["distributions"]:
        v = d.committed
        if v is not None and v.count:
            out[d.key.metric.name + ".max"] = max(out.get(d.key.metric.name + ".max", 0), v.max)
            out[d.key.metric.name + ".count"] = out.get(d.key.metric.name + ".count", 0) + v.count
    return out


def _read_lines(pattern: str) -> list[str]:
    lines: list[str] = []
    for path in sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list):
        with FileSystems.open(path, compression_type="uncompressed") as f:
            lines += [x for x in f.read().decode().splitlines() if x.strip()]
    return lines


def _clear(path: str) -> None:
    if FileSystems.exists(path):
        FileSystems.delete([path])


def fingerprint_of(inputs: list[str], config: DedupConfig) -> str:
    """Config + each input's path, size and modification time (cheap on gs:// too; a rewrite re-runs)."""
    h = hashlib.sha256(_dump(dataclasses.asdict(config)).encode())
    for meta in sorted((m for r in FileSystems.match(inputs) for m in r.metadata_list), key=lambda m: m.path):
        h.update(f"{meta.path}\n{meta.size_in_bytes}\n{meta.last_updated_in_seconds}\n".encode())
    return h.hexdigest()


def find_components(inputs: list[str], config: DedupConfig, work: str, options, fingerprint: str) -> tuple[int, dict]:
    """Run candidates + rounds until no label changes (or reuse a finished run); return the last pass."""
    state_path = join(work, "state.json")
    if FileSystems.exists(state_path):
        with FileSystems.open(state_path, compression_type="uncompressed") as f:
            state = json.loads(f.read().decode())
        if state.get("fingerprint") == fingerprint and state.get("converged"):
            return state["pass"], state.get("metrics", {})
    if FileSystems.exists(work):
        FileSystems.delete([work])  # a different or unfinished run: its edges and labels do not apply
    makedirs(work)
    metrics = _run(candidates_pipeline, options, inputs, config, work)
    pass_no = 1
    while True:
        changed = sum(int(x) for x in _read_lines(join(work, f"changed-{pass_no}.txt")))
        metrics["components.changed_last_round"] = changed
        if changed == 0:
            break
        if pass_no >= config.max_passes:
            raise RuntimeError(
                f"connected components did not converge after {pass_no} passes of {config.rounds} rounds "
                f"({changed} labels still changing); raise --rounds or --max_passes")
        pass_no += 1
        _run(rounds_pipeline, options, config, work, pass_no)
    metrics["components.passes"] = pass_no
    metrics["components.rounds"] = pass_no * config.rounds
    write_json_atomic(state_path, {"fingerprint": fingerprint, "converged": True, "pass": pass_no,
                                   "metrics": metrics})
    return pass_no, metrics


def parser() -> argparse.ArgumentParser:
    d = DedupConfig()
    ap = argparse.ArgumentParser(
        prog="gristmill dedup",
        description="MinHash near-duplicate removal over Parquet documents (a Beam job; Beam flags pass through).")
    ap.add_argument("--input", nargs="+", required=True, help="Parquet document files or globs (e.g. 'out/docs/*.parquet')")
    ap.add_argument("--output", required=True, help="output folder: docs/, rejected/, report.json, manifest.json")
    ap.add_argument("--ngram", type=int, default=d.ngram, help="words per shingle (default %(default)s)")
    ap.add_argument("--num_perm", type=int, default=d.num_perm, help="MinHash permutations (default %(default)s)")
    ap.add_argument("--seed", type=int, default=d.seed, help="MinHash seed (default %(default)s)")
    ap.add_argument("--threshold", type=float, default=d.threshold, help="Jaccard threshold (default %(default)s)")
    ap.add_argument("--fp_weight", type=float, default=d.fp_weight, help="band choice weight of false candidates")
    ap.add_argument("--fn_weight", type=float, default=d.fn_weight, help="band choice weight of missed pairs")
    ap.add_argument("--no_verify", action="store_true", help="link every LSH candidate, without the estimated-Jaccard check")
    ap.add_argument("--no_exact_check", action="store_true",
                    help="decide estimates near the threshold by the estimate too (no second read of those rows)")
    ap.add_argument("--fanout", type=int, default=d.fanout, help="sub-buckets per band value (hot buckets)")
    ap.add_argument("--max_centers", type=int, default=d.max_centers, help="verified stars per sub-bucket")
    ap.add_argument("--rounds", type=int, default=d.rounds, help="label rounds per pipeline (default %(default)s)")
    ap.add_argument("--max_passes", type=int, default=d.max_passes, help="pipelines of rounds at most")
    ap.add_argument("--quality_column", default=d.quality_column, help="column whose highest value is kept")
    ap.add_argument("--batch_size", type=int, default=d.batch_size, help="documents per signature batch")
    return ap


def run(argv: list[str] | None = None) -> dict:
    """Run the job; return the report (also written to OUTPUT/report.json)."""
    args, options = parse(parser(), argv)
    try:
        config = DedupConfig(ngram=args.ngram, num_perm=args.num_perm, seed=args.seed, threshold=args.threshold,
                             fp_weight=args.fp_weight, fn_weight=args.fn_weight, verify=not args.no_verify,
                             exact_check=not args.no_exact_check,
                             fanout=args.fanout, max_centers=args.max_centers, rounds=args.rounds,
                             max_passes=args.max_passes, quality_column=args.quality_column,
                             batch_size=args.batch_size)
    except ValueError as e:
        raise SystemExit(f"gristmill dedup: {e}")
    inputs = [p for p in expand_inputs(args.input) if p.endswith(".parquet")]
    if not inputs:
        raise SystemExit(f"--input: {args.input} names no .parquet file")
    start = time.time()
    out_dir = args.output
    work = join(out_dir, "_work")
    fingerprint = fingerprint_of(inputs, config)
    pass_no, metrics = find_components(inputs, config, work, options, fingerprint)
    records_dir = join(work, "records")
    if FileSystems.exists(records_dir):
        FileSystems.delete([records_dir])
    metrics.update(_run(write_pipeline, options, inputs, out_dir, work, pass_no, fingerprint))
    records = sorted((json.loads(x) for x in _read_lines(join(records_dir, "part*"))), key=lambda r: r["input"])
    counts = StageCounts()
    counts.enter(STAGE, 0)
    outputs, failed_inputs = [], []
    for r in records:
        if "error" in r:
            failed_inputs.append({"path": r["input"], "reason": r["error"]})
            continue
        counts.merge(r["counts"])
        outputs += [r["docs"], r["rejected"]]
    bands, rows = config.bands()
    report = build_report(
        "dedup", {**dataclasses.asdict(config), "bands": bands, "rows": rows}, inputs, counts,
        sorted(outputs, key=lambda o: o["path"]), time.time() - start,
        failed_inputs=failed_inputs, fingerprint=fingerprint,
        lsh={k: v for k, v in sorted(metrics.items()) if not k.startswith(STAGE + ".")})
    write_report(out_dir, report)
    return report


def main(argv: list[str] | None = None) -> int:
    report = run(argv)
    print(summary_table(report))
    for bad in report["failed_inputs"]:
        print(f"skipped input {bad['path']}: {bad['reason']}", file=sys.stderr)
    return 0
