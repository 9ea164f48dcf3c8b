"""Benchmark ``gristmill curate`` against datatrove and a plain fastwarc + trafilatura loop, in one run.

    flock /tmp/gristmill-bench.lock python benchmarks/curate.py [--parallel] [--results FILE]
    python benchmarks/curate.py --profile [--profile-docs N]     # where gristmill's time goes

All systems read the same input, built by benchmarks/make_bench_warc.py (>= 2,000 response records
from examples/sample_crawl, replicated under distinct URLs, 4 files under .bench/):
  (a) gristmill curate on Beam's DirectRunner (in_memory, 1 worker; with --parallel also
      multi_processing, 2 workers): read -> decode -> extract -> lang -> Gopher quality/repetition ->
      C4 -> FineWeb -> exact dedup -> Parquet docs/ + rejected/ + report.json; and the same stages as a
      plain loop without Beam or output files (what Beam + writing cost is the difference);
  (b) datatrove's LocalPipelineExecutor in its own venv (benchmarks/peers.py): WarcReader ->
      Trafilatura -> LanguageFilter -> GopherQualityFilter -> GopherRepetitionFilter -> C4QualityFilter ->
      FineWebQualityFilter -> JsonlWriter (1 task, FineWeb's extractor settings; again with trafilatura's
      cross-document deduplicate off; with --parallel 4 tasks on 2 workers);
  (c) the floor: a Python loop over fastwarc records calling trafilatura.extract on each body, with
      trafilatura's defaults and with the options gristmill's extract uses (fast, no comments).
Each system runs as a child process. Wall time is measured, and so is CPU time: the child's process
tree is sampled from /proc every 0.25 s (extraction runs in grandchild processes in both gristmill and
datatrove) and the total is cross-checked against wait4's rusage. The machine is shared with other
agents, so wall time overstates everyone's cost by a varying factor; docs per CPU-second is the steadier
number, and both are reported. ``docs`` is the number of response records offered (the same for all).

In the same run, extraction quality on the scrapinghub article pages (shared/data/extraction/
scrapinghub, 181 pages with human-annotated article bodies): gristmill's ``filters.extract.extract_text``
vs ``trafilatura.extract(html)`` with its defaults, both on the same decoded HTML. Two scores:
``token``: bag of whitespace tokens, per-page P/R/F1 averaged over pages; ``shingle``: the method of
the benchmark's own evaluate.py (\\w+ tokens, 4-token shingles, per-page precision and recall averaged,
F1 of the two means), re-implemented here from its description.
"""
from __future__ import annotations

import os
import sys

# Running this file puts benchmarks/ first on sys.path, where sibling scripts named like stdlib modules
# (benchmarks/tokenize.py) would shadow the stdlib; import siblings as ``benchmarks.X`` instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import fcntl
import glob
import gzip
import json
import re
import shutil
import subprocess
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
INPUT_DIR = BENCH / "curate-input"
WORK_DIR = BENCH / "curate-work"
SCRAPINGHUB = ROOT.parent / "shared" / "data" / "extraction" / "scrapinghub"
RESULTS = Path("/work/fragments/curatebench.RESULTS.md")
LOCK = "/tmp/gristmill-bench.lock"
# datatrove pins trafilatura < 1.12; [processing] pulls it, fastText and nltk. The rest is what its
# WarcReader (warcio, cchardet, libmagic, and orjson for its JsonlWriter: the "io" extra without its datasets/s3 weight) and its English
# word tokenizer (spaCy, a blank pipeline: no model download) need, plus lxml_html_clean, which
# trafilatura 1.11 imports and lxml 6 no longer bundles.
DATATROVE_PACKAGES = ["datatrove[processing]==0.10.1", "lxml_html_clean", "warcio", "faust-cchardet",
                      "python-magic", "spacy", "orjson"]
EXTRACT_TIMEOUT_S = 5.0  # gristmill's extract timeout_s default; datatrove gets the same limit (its default is 1 s)


# --------------------------------------------------------------------------------------------------
# Workers: each runs in a child process and prints one line "RESULT <json>" at the end.

def input_paths(inputs: str) -> list[str]:
    paths = sorted(glob.glob(os.path.join(inputs, "*.warc.gz")))
    if not paths:
        raise FileNotFoundError(f"no *.warc.gz under {inputs}; run benchmarks/make_bench_warc.py")
    return paths


def worker_gristmill(inputs: str, work: str, mode: str, workers: int) -> dict:
    from pipelines import curate

    out = os.path.join(work, f"gristmill-{mode}-{workers}")
    shutil.rmtree(out, ignore_errors=True)  # a rerun would skip finished files: start empty
    report = curate.run(["--input", os.path.join(inputs, "*.warc.gz"), "--output", out, "--runner=DirectRunner",
                         f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"])
    stages = {name: {"in": s["in"], "out": s["out"]} for name, s in report["stages"].items()}
    kept = sum(o["rows"] for o in report["outputs"] if o["path"].startswith("docs/"))
    return {"docs": report["stages"]["read"]["in"], "extracted": stages["extract"]["in"], "kept": kept,
            "stages": stages}


def worker_chain(inputs: str) -> dict:
    """gristmill's stages without Beam or output files: read_warc -> curate.build_stages -> run_chain."""
    from pipelines import curate
    from pipelines.io.warc import read_warc
    from pipelines.stages import StageCounts, run_chain

    stages = curate.build_stages(curate.default_config())
    counts = StageCounts()
    kept = 0
    for path in input_paths(inputs):
        for doc, _ in read_warc(path, counts):
            if doc is not None:
                kept += run_chain(doc, stages, counts)[0] is not None
    for st in stages:
        if hasattr(st.fn, "close"):
            st.fn.close()
    c = counts.to_dict()
    return {"docs": c["read"]["in"], "extracted": c["extract"]["in"], "kept": kept,
            "stages": {name: {"in": v["in"], "out": v["out"]} for name, v in c.items()}}


def worker_datatrove(inputs: str, work: str, lid_path: str, tasks: int, workers: int, dedup: bool = True) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter, LanguageFilter)
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.lid import FT176LID

    class LocalFT176(FT176LID):
        """datatrove's FT176LID downloads lid.176.bin at first use; this machine has no internet, so the
        same loader reads the lid.176.ftz file that gristmill uses (the quantized lid.176)."""

        def __init__(self, path: str) -> None:
            super().__init__(None)
            self.path = path

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(self.path)
            return self._model

    out = os.path.join(work, f"datatrove-{tasks}-{workers}-{'dedup' if dedup else 'nodedup'}")
    shutil.rmtree(out, ignore_errors=True)
    lid = LanguageFilter()  # defaults: all languages, top score must exceed 0.65
    lid.model = LocalFT176(lid_path)
    pipeline = [
        WarcReader(inputs, glob_pattern="*.warc.gz"),
        # favour_precision and deduplicate=True as in datatrove's FineWeb example. deduplicate makes
        # trafilatura drop text segments it has already seen in this process (an LRU cache): on this
        # input, whose pages repeat 7 times, later copies come out empty and skip the filters.
        Trafilatura(favour_precision=True, deduplicate=dedup, timeout=EXTRACT_TIMEOUT_S),
        lid,
        GopherQualityFilter(),  # gristmill's (and the issue's) order; datatrove's FineWeb example runs
        GopherRepetitionFilter(),  # repetition first

        C4QualityFilter(filter_no_terminal_punct=False),  # FineWeb's settings for the C4 filter
        FineWebQualityFilter(),
        JsonlWriter(os.path.join(out, "docs")),
    ]
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=os.path.join(out, "logs"),
                          skip_completed=False).run()
    with open(os.path.join(out, "logs", "stats.json")) as f:
        stats = json.load(f)
    steps = []
    for st in stats:
        c = st.get("stats", {})
        total = c.get("total", c.get("documents"))  # a reader counts "documents" per input file
        total = total.get("total") if isinstance(total, dict) else total
        steps.append({"name": st.get("name", "").split(":")[-1].strip(), "in": total,
                      "out": c.get("forwarded", total)})
    extracted = next((s["in"] for s in steps if "Trafilatura" in s["name"]), None)
    return {"kept": steps[-1]["in"] if steps else None, "extracted": extracted, "stages": steps}


def worker_plain(inputs: str, fast: bool) -> dict:
    import logging

    import trafilatura
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    opts = {"fast": True, "include_comments": False} if fast else {}
    docs = extracted = kept = 0
    for path in input_paths(inputs):
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True):
                docs += 1
                body = rec.reader.read()
                if rec.http_headers.status_code != 200:
                    continue
                extracted += 1
                if trafilatura.extract(body, **opts):
                    kept += 1
    return {"docs": docs, "extracted": extracted, "kept": kept, "stages": []}


# --------------------------------------------------------------------------------------------------
# Measuring a child process tree.

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, utime+stime ticks, start time) for every process visible in /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue  # the process ended between listdir and open
        rest = data[data.rfind(b")") + 2:].split()  # fields from 3 (state) on; comm may hold spaces
        table[int(name)] = (int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[19]))
    return table


def measure(cmd: list[str], log_path: Path, env: dict | None = None) -> dict:
    """Run ``cmd``; return its RESULT json plus wall seconds and CPU seconds of its whole process tree."""
    seen: dict[tuple[int, int], int] = {}
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env, cwd=ROOT)
        out_chunks: list[bytes] = []
        os.set_blocking(proc.stdout.fileno(), False)
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            chunk = proc.stdout.read()
            if chunk:
                out_chunks.append(chunk)
            if pid:
                break
            table = _proc_table()
            children: dict[int, list[int]] = {}
            for p, (pp, _, _) in table.items():
                children.setdefault(pp, []).append(p)
            todo = [proc.pid]
            while todo:
                p = todo.pop()
                if p in table:
                    seen[(p, table[p][2])] = table[p][1]
                todo += children.get(p, [])
            time.sleep(0.25)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        rest = proc.stdout.read()
        if rest:
            out_chunks.append(rest)
    polled = sum(seen.values()) / _TICK
    reaped = rusage.ru_utime + rusage.ru_stime
    text = b"".join(out_chunks).decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}; see {log_path}\n{text[-2000:]}")
    line = [ln for ln in text.splitlines() if ln.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT "):])
    result.update({"wall_s": wall, "cpu_s": max(polled, reaped), "cpu_polled_s": polled, "cpu_reaped_s": reaped})
    return result


# --------------------------------------------------------------------------------------------------
# Extraction quality on the scrapinghub pages.

def _token_prf(true: str, pred: str) -> tuple[float, float, float]:
    t, p = Counter(true.split()), Counter(pred.split())
    tp = sum((t & p).values())
    prec = tp / sum(p.values()) if p else 0.0
    rec = tp / sum(t.values()) if t else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


_WORD = re.compile(r"\w+")


def _shingle_tp_fp_fn(true: str, pred: str, n: int = 4) -> tuple[float, float, float]:
    """Normalized (tp, fp, fn) over 4-token shingles, as the scrapinghub benchmark counts them."""
    def shingles(text: str) -> Counter:
        toks = _WORD.findall(text or "")
        return Counter(tuple(toks[i:i + n]) for i in range(max(1, len(toks) - n + 1)) if toks[i:i + n])

    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def _shingle_scores(triples: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    def prec(tp, fp, fn):
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def rec(tp, fp, fn):
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    ps = [prec(*x) for x in triples if x[0] + x[1] > 0]
    rs = [rec(*x) for x in triples if x[0] + x[2] > 0]
    p, r = sum(ps) / len(ps), sum(rs) / len(rs)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def extraction_quality(scrapinghub: Path) -> list[dict]:
    import logging

    import trafilatura

    from filters.decode import decode_html
    from filters.extract import TRAFILATURA_OPTIONS, extract_text

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    truth = [json.loads(line) for line in open(scrapinghub / "ground_truth.jsonl", encoding="utf-8")]
    pages = []
    for row in truth:
        with gzip.open(scrapinghub / "html" / f"{row['id']}.html.gz", "rb") as f:
            html, _, _ = decode_html(f.read())
        pages.append((row, html))
    systems = [
        (f"gristmill filters.extract ({', '.join(f'{k}={v}' for k, v in TRAFILATURA_OPTIONS.items())})",
         lambda html, url: extract_text(html, url)),
        ("trafilatura.extract(html), defaults", lambda html, url: trafilatura.extract(html) or ""),
    ]
    rows = []
    for name, fn in systems:
        toks, shing = [], []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        preds = [fn(html, row["url"]) for row, html in pages]
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        for (row, _), pred in zip(pages, preds):
            toks.append(_token_prf(row["text"], pred))
            shing.append(_shingle_tp_fp_fn(row["text"], pred))
        n = len(toks)
        sp, sr, sf = _shingle_scores(shing)
        rows.append({"system": name, "pages": n,
                     "token_p": sum(t[0] for t in toks) / n, "token_r": sum(t[1] for t in toks) / n,
                     "token_f1": sum(t[2] for t in toks) / n, "shingle_p": sp, "shingle_r": sr, "shingle_f1": sf,
                     "pages_per_cpu_s": n / cpu, "wall_s": wall})
    return rows


# --------------------------------------------------------------------------------------------------
# Profile: the curate chain as a plain loop (no Beam), to see where gristmill's time goes.

def profile(inputs: str, max_docs: int, isolate: bool) -> str:
    import cProfile
    import io
    import pstats

    from pipelines import curate
    from pipelines.io.warc import read_warc
    from pipelines.stages import Stage, StageCounts, run_chain

    config = curate.default_config()
    config["extract"] = {"isolate": isolate}
    stages = curate.build_stages(config)
    spent: dict[str, float] = {"read": 0.0}

    def timed(st: Stage) -> Stage:
        def fn(doc):
            t0 = time.perf_counter()
            try:
                return st.fn(doc)
            finally:
                spent[st.name] = spent.get(st.name, 0.0) + time.perf_counter() - t0
        return Stage(st.name, fn, st.columns, st.enforce)

    timed_stages = [timed(st) for st in stages]
    counts = StageCounts()
    prof = cProfile.Profile()
    n = 0
    t_all, cpu0 = time.perf_counter(), time.process_time()
    prof.enable()
    for path in input_paths(inputs):
        it = read_warc(path, counts)
        while n < max_docs:
            t0 = time.perf_counter()
            item = next(it, None)
            spent["read"] += time.perf_counter() - t0
            if item is None:
                break
            doc, bad = item
            n += 1
            if doc is not None:
                run_chain(doc, timed_stages, counts)
        it.close()
    prof.disable()
    total, cpu = time.perf_counter() - t_all, time.process_time() - cpu0
    for st in stages:
        close = getattr(st.fn, "close", None)
        if close:
            close()
    lines = [f"plain loop over read_warc + curate.build_stages (extract isolate={isolate}): {n} records, "
             f"{total:.1f} s wall, {cpu:.1f} s CPU in this process, {n / total:.1f} docs/s", "", "| stage | in | s | share |", "|---|---|---|---|"]
    for name, s in spent.items():
        c = counts.stages.get(name, {"in": 0})
        lines.append(f"| {name} | {c['in']} | {s:.2f} | {s / total:.0%} |")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
    lines += ["", "```", buf.getvalue().strip(), "```"]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# The run.

def hold_lock():
    """Hold the benchmark lock for the run unless the ``flock`` wrapper of the parent already does."""
    f = open(LOCK, "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return f, "taken by the script"
    except BlockingIOError:
        try:
            parent = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\0")
        except OSError:
            parent = []
        if parent and os.path.basename(parent[0]) == b"flock" and LOCK.encode() in parent:
            return f, "held by the flock wrapper"
        fcntl.flock(f, fcntl.LOCK_EX)  # another benchmark runs: wait for it
        return f, "taken by the script after waiting"


def fmt_table(runs: list[dict], anchor: dict, floor: dict) -> str:
    head = ("| system | config | cores | docs | to extraction | kept | wall s | docs/s/core (wall) | CPU s | "
            "docs/CPU-s | vs datatrove (wall / CPU) | vs plain loop (wall / CPU) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in runs:
        vs_dt = f"{r['per_core'] / anchor['per_core']:.2f}x / {r['per_cpu'] / anchor['per_cpu']:.2f}x"
        vs_pl = f"{r['per_core'] / floor['per_core']:.2f}x / {r['per_cpu'] / floor['per_cpu']:.2f}x"
        lines.append(f"| {r['system']} | {r['config']} | {r['cores']} | {r['docs']} | {r['extracted']} | {r['kept']} | "
                     f"{r['wall_s']:.1f} | {r['per_core']:.1f} | {r['cpu_s']:.1f} | {r['per_cpu']:.1f} | {vs_dt} | {vs_pl} |")
    return "\n".join(lines)


def fmt_quality(rows: list[dict]) -> str:
    lines = ["| extractor | pages | token P | token R | token F1 | shingle P | shingle R | shingle F1 | pages/CPU-s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['pages']} | {r['token_p']:.3f} | {r['token_r']:.3f} | {r['token_f1']:.3f} | "
                     f"{r['shingle_p']:.3f} | {r['shingle_r']:.3f} | {r['shingle_f1']:.3f} | {r['pages_per_cpu_s']:.1f} |")
    return "\n".join(lines)


def fmt_stages(runs: list[dict]) -> str:
    lines = []
    for r in runs:
        steps = r["stages"]
        if isinstance(steps, dict):
            steps = [{"name": name, **c} for name, c in steps.items()]
        if steps:
            lines.append(f"- {r['system']} ({r['config']}): " + ", ".join(f"{s['name']} {s['in']}->{s['out']}" for s in steps))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parallel", action="store_true", help="also run gristmill and datatrove on 2 workers")
    ap.add_argument("--results", type=Path, default=RESULTS, help="markdown file to write")
    ap.add_argument("--scrapinghub", type=Path, default=SCRAPINGHUB)
    ap.add_argument("--copies", type=int, default=7, help="copies of the sample's 294 records (7 -> 2,058)")
    ap.add_argument("--no-payload-type", action="store_true",
                    help="input records without WARC-Identified-Payload-Type (datatrove then sniffs with libmagic)")
    ap.add_argument("--profile", action="store_true", help="profile gristmill's chain instead of benchmarking")
    ap.add_argument("--profile-docs", type=int, default=600)
    ap.add_argument("--no-isolate", action="store_true", help="profile: extract in-process (see into trafilatura)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:  # child process: run one system, print its result
        kw = json.loads(args.args)
        fn = {"gristmill": worker_gristmill, "chain": worker_chain, "datatrove": worker_datatrove,
              "plain": worker_plain}[args.worker]
        print("RESULT " + json.dumps(fn(**kw)), flush=True)
        return 0

    sys.path.insert(0, str(ROOT))
    from benchmarks import make_bench_warc
    from benchmarks.peers import machine, python_for

    lock, lock_note = hold_lock()
    paths, n_records = make_bench_warc.build(INPUT_DIR, copies=args.copies, payload_type=not args.no_payload_type)
    if args.profile:
        print(profile(str(INPUT_DIR), args.profile_docs, isolate=not args.no_isolate))
        return 0

    from filters.lang import model_path

    dt_python = python_for("datatrove", DATATROVE_PACKAGES)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    inputs = str(INPUT_DIR)
    plan = [
        ("plain loop: fastwarc + trafilatura.extract", "defaults", 1, me, "plain", {"inputs": inputs, "fast": False}),
        ("plain loop: fastwarc + trafilatura.extract", "fast=True, include_comments=False", 1, me, "plain",
         {"inputs": inputs, "fast": True}),
        ("gristmill curate (DirectRunner)", "in_memory, 1 worker", 1, me, "gristmill",
         {"inputs": inputs, "work": str(WORK_DIR), "mode": "in_memory", "workers": 1}),
        ("gristmill stages, plain loop (no Beam, no output)", "read_warc + build_stages + run_chain", 1, me,
         "chain", {"inputs": inputs}),
        ("datatrove 0.10.1 LocalPipelineExecutor", "1 task, 1 worker", 1, [dt_python, me[1]], "datatrove",
         {"inputs": inputs, "work": str(WORK_DIR), "lid_path": model_path(), "tasks": 1, "workers": 1}),
        ("datatrove 0.10.1 LocalPipelineExecutor", "1 task, 1 worker, trafilatura deduplicate=False", 1,
         [dt_python, me[1]], "datatrove",
         {"inputs": inputs, "work": str(WORK_DIR), "lid_path": model_path(), "tasks": 1, "workers": 1,
          "dedup": False}),
    ]
    if args.parallel:
        plan += [
            ("gristmill curate (DirectRunner)", "multi_processing, 2 workers", 2, me, "gristmill",
             {"inputs": inputs, "work": str(WORK_DIR), "mode": "multi_processing", "workers": 2}),
            ("datatrove 0.10.1 LocalPipelineExecutor", "4 tasks, 2 workers", 2, [dt_python, me[1]], "datatrove",
             {"inputs": inputs, "work": str(WORK_DIR), "lid_path": model_path(), "tasks": 4, "workers": 2}),
        ]
    load_before = os.getloadavg()
    started = datetime.now(timezone.utc)
    runs = []
    for i, (system, config, cores, cmd, worker, kw) in enumerate(plan):
        print(f"[{i + 1}/{len(plan)}] {system} ({config}) ...", flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)} if worker != "datatrove" else {
            k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        r = measure(cmd + ["--worker", worker, "--args", json.dumps(kw)], WORK_DIR / f"log-{i}-{worker}.txt", env)
        r.setdefault("docs", n_records)  # datatrove's reader skips records silently: count what was offered
        r.update({"system": system, "config": config, "cores": cores, "worker": worker,
                  "per_core": n_records / (r["wall_s"] * cores), "per_cpu": n_records / r["cpu_s"]})
        print(f"    {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, {r['docs']} docs, {r['kept']} kept", flush=True)
        runs.append(r)
    print("[quality] scrapinghub extraction F1 ...", flush=True)
    quality = extraction_quality(args.scrapinghub)
    load_after = os.getloadavg()

    anchor = next(r for r in runs if r["worker"] == "datatrove")  # 1 task, 1 worker, FineWeb's settings
    nodedup = next(r for r in runs if r["worker"] == "datatrove" and "deduplicate=False" in r["config"])
    chain = next(r for r in runs if r["worker"] == "chain")
    fast = next(r for r in runs if r["worker"] == "plain" and "fast" in r["config"])
    floor = next(r for r in runs if r["worker"] == "plain")       # trafilatura defaults
    g1 = next(r for r in runs if r["worker"] == "gristmill")      # in_memory, 1 worker
    table = fmt_table(runs, anchor, floor)
    cmd_line = "flock /tmp/gristmill-bench.lock python benchmarks/curate.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = "\n".join([
        "# curate benchmark (issue 3, item 8)",
        "",
        f"- machine: {machine()}",
        f"- command: `{cmd_line}` (benchmark lock {lock_note})",
        f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        f"- input: {n_records} WARC response records in {len(paths)} files, made by benchmarks/make_bench_warc.py "
        f"from examples/sample_crawl (its response records x {args.copies} copies under distinct URLs), "
        + ("without WARC-Identified-Payload-Type headers" if args.no_payload_type else
           "with WARC-Identified-Payload-Type headers from each HTTP Content-Type, as Common Crawl WARCs have"),
        f"- load average (1/5/15 min) before: {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
        f"after: {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}: other agents shared the 2 cores, "
        "so wall times include waiting for them; docs per CPU-second is the steadier comparison",
        "- datatrove's LID reads the same lid.176.ftz file as gristmill (its own loader downloads lid.176.bin, "
        "which cannot be fetched here); its Trafilatura step gets gristmill's 5 s per-page timeout (its default "
        "is 1 s) and FineWeb's favour_precision=True, deduplicate=True unless the config says otherwise",
        "- CPU s: user+system time of the whole process tree (Beam workers, extraction child processes, "
        "datatrove's extractor sandbox), sampled from /proc every 0.25 s and checked against wait4 rusage",
        "",
        "## Throughput",
        "",
        table,
        "",
        f"gristmill / datatrove, docs/s per core: **{g1['per_core'] / anchor['per_core']:.2f}x** (wall), "
        f"**{g1['per_cpu'] / anchor['per_cpu']:.2f}x** (CPU); target >= 3x. "
        f"gristmill / plain loop (defaults): {g1['per_core'] / floor['per_core']:.2f}x (wall), "
        f"{g1['per_cpu'] / floor['per_cpu']:.2f}x (CPU). gristmill / datatrove with trafilatura's "
        f"cross-document deduplicate off (every copy goes through the filters, as in gristmill): "
        f"{g1['per_core'] / nodedup['per_core']:.2f}x (wall), {g1['per_cpu'] / nodedup['per_cpu']:.2f}x (CPU).",
        "",
        f"Where gristmill's CPU goes (same run): trafilatura with gristmill's options alone {fast['cpu_s']:.1f} s "
        f"(plain loop, fast=True); the whole chain without Beam (read, decode, extract in a child process, lang, "
        f"Gopher, C4, FineWeb) {chain['cpu_s']:.1f} s; curate on Beam with Parquet outputs, exact dedup and report "
        f"{g1['cpu_s']:.1f} s. The 3x target needs {3 * anchor['per_cpu']:.0f} docs/CPU-s, against "
        f"{fast['per_cpu']:.0f} for trafilatura's extraction alone on this input.",
        "",
        f"Work differs: datatrove's WarcReader passes on only records whose WARC-Identified-Payload-Type (or, "
        f"without one, libmagic's guess) is text/html: {anchor['extracted']} of {n_records} reached its "
        f"extractor; gristmill decodes and extracts what the HTTP Content-Type or the bytes say is HTML: "
        f"{g1['extracted']}. "
        f"Per document that reached extraction: gristmill {g1['extracted'] / g1['cpu_s']:.1f} docs/CPU-s, "
        f"datatrove {anchor['extracted'] / anchor['cpu_s']:.1f} docs/CPU-s "
        f"({g1['extracted'] / g1['cpu_s'] / (anchor['extracted'] / anchor['cpu_s']):.2f}x); with deduplicate "
        f"off {nodedup['extracted'] / nodedup['cpu_s']:.1f} "
        f"({g1['extracted'] / g1['cpu_s'] / (nodedup['extracted'] / nodedup['cpu_s']):.2f}x). gristmill also writes "
        "every rejected document to rejected/ and runs a global exact dedup; datatrove's pipeline writes kept "
        "documents only.",
        "",
        "Documents in -> out per step:",
        "",
        fmt_stages(runs),
        "",
        "## Extraction quality, scrapinghub article pages (same run)",
        "",
        fmt_quality(quality),
        "",
    ])
    print(text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    (WORK_DIR / "results.json").write_text(json.dumps({"runs": runs, "quality": quality}, indent=1, default=str))
    lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
