"""Cost per document of the heuristic filters: gristmill vs datatrove on the same texts, in one run.

Texts: every page of the bundled sample crawl (examples/sample_crawl) that gristmill's decode +
extract turns into text (articles, Common Crawl pages, junk, many languages). Both sides then run
Gopher quality -> Gopher repetition -> C4 -> FineWeb over each text in that order, as curate does
(a document dropped by one filter is not seen by the next), and also each filter alone on all texts.
datatrove runs in its own venv (benchmarks/peers.py) as a subprocess, on the same JSON file of texts.
Reported: ms per document per filter, the chain's docs/s, and how often the two keep the same
documents (they differ by design in places: datatrove's words come from a word tokenizer (spaCy for
English), punctuation included; gristmill counts whitespace-separated words, as the papers describe).

    flock /tmp/gristmill-bench.lock python benchmarks/filters.py [--repeat N] [--json OUT]
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "benchmarks":
    sys.path[0] = str(ROOT)  # benchmarks/tokenize.py must not shadow the standard library's tokenize

import argparse  # noqa: E402
import datetime  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ORDER = ("gopher_quality", "gopher_repetition", "c4", "fineweb")

DATATROVE_SIDE = r'''
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter)
texts = json.load(open(sys.argv[1]))
repeat = int(sys.argv[2])
filters = {"gopher_quality": GopherQualityFilter(), "gopher_repetition": GopherRepetitionFilter(),
           "c4": C4QualityFilter(), "fineweb": FineWebQualityFilter()}
order = ["gopher_quality", "gopher_repetition", "c4", "fineweb"]

def verdict(f, doc):
    r = f.filter(doc)
    return (r, None) if isinstance(r, bool) else (r[0], r[1])

for f in filters.values():  # load tokenizers once, outside the timing
    f.filter(Document(text=texts[0], id="warm"))
alone, decisions = {}, {}
for name in order:
    t0 = time.perf_counter()
    for _ in range(repeat):
        decisions[name] = [verdict(filters[name], Document(text=t, id=str(i)))[0] for i, t in enumerate(texts)]
    alone[name] = (time.perf_counter() - t0) / (repeat * len(texts))
spent = dict.fromkeys(order, 0.0)
kept = 0
t0 = time.perf_counter()
for _ in range(repeat):
    kept = 0
    for i, t in enumerate(texts):
        doc = Document(text=t, id=str(i))
        for name in order:
            s = time.perf_counter()
            ok = verdict(filters[name], doc)[0]
            spent[name] += time.perf_counter() - s
            if not ok:
                break
        else:
            kept += 1
chain = (time.perf_counter() - t0) / (repeat * len(texts))
print(json.dumps({"alone_s": alone, "chain_s": chain, "chain_stage_s": {k: v / (repeat * len(texts)) for k, v in spent.items()},
                  "kept": kept, "decisions": decisions}))
'''


def chain_costs() -> dict:
    """ms per document entering each stage of curate's chain (pipelines.curate.build_stages, default
    config) over the sample crawl, in-process without Beam: the filters' cost next to extraction's."""
    from pipelines.curate import build_stages, default_config
    from pipelines.io.warc import read_warc
    from pipelines.stages import StageCounts, run_chain

    stages = build_stages(default_config())
    spent: dict[str, float] = {}
    for st in stages:
        def timed(doc, fn=st.fn, name=st.name):
            t = time.perf_counter()
            try:
                return fn(doc)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t
        st.fn = timed
    counts = StageCounts()
    t0 = time.perf_counter()
    n = 0
    for path in sorted(glob.glob(str(ROOT / "examples" / "sample_crawl" / "*.warc.gz"))):
        for doc, _ in read_warc(path, counts):
            if doc is not None:
                n += 1
                run_chain(doc, stages, counts)
    total = time.perf_counter() - t0
    out = {"records": n, "docs_per_s_in_process": round(n / total, 1), "stages": {}}
    for st in stages:
        c = counts.stages[st.name]
        out["stages"][st.name] = {"in": c["in"], "ms_per_doc": round(1000 * spent.get(st.name, 0.0) / max(1, c["in"]), 3)}
    return out


def sample_texts() -> list[str]:
    from filters import decode, extract
    from filters.verdict import StageFailure
    from pipelines.io.warc import read_warc
    from pipelines.stages import StageCounts

    texts = []
    for path in sorted(glob.glob(str(ROOT / "examples" / "sample_crawl" / "*.warc.gz"))):
        for doc, _ in read_warc(path, StageCounts()):
            if doc is None:
                continue
            if doc.get("_text") is not None:
                texts.append(doc["_text"])
                continue
            try:
                decoded = decode.decode(doc).keep
            except StageFailure:  # binary body labelled HTML: curate counts it, here it is no text
                continue
            if decoded:
                t = extract.extract_text(doc["_html"], doc.get("url")).strip()
                if t:
                    texts.append(t)
    return texts


def gristmill_side(texts: list[str], repeat: int) -> dict:
    from filters import c4, fineweb, gopher, text_stats

    stages = {"gopher_quality": gopher.quality_stage(), "gopher_repetition": gopher.repetition_stage(),
              "c4": c4.stage(), "fineweb": fineweb.stage()}
    alone, decisions = {}, {}
    for name in ORDER:
        t0 = time.perf_counter()
        for r in range(repeat):
            text_stats._cache.local.entries = []  # each filter pays for its own split here
            decisions[name] = [stages[name].fn({"text": t}).keep for t in texts]
        alone[name] = (time.perf_counter() - t0) / (repeat * len(texts))
    spent = dict.fromkeys(ORDER, 0.0)
    t0 = time.perf_counter()
    for _ in range(repeat):
        text_stats._cache.local.entries = []
        kept = 0
        for t in texts:
            doc = {"text": t}
            for name in ORDER:
                s = time.perf_counter()
                v = stages[name].fn(doc)
                spent[name] += time.perf_counter() - s
                if v.text is not None:
                    doc["text"] = v.text
                if not v.keep:
                    break
            else:
                kept += 1
    chain = (time.perf_counter() - t0) / (repeat * len(texts))
    return {"alone_s": alone, "chain_s": chain, "chain_stage_s": {k: v / (repeat * len(texts)) for k, v in spent.items()},
            "kept": kept, "decisions": decisions}


def main(argv=None) -> int:
    from benchmarks.curate import DATATROVE_PACKAGES  # the same venv as the curate benchmark's
    from benchmarks.peers import machine, python_for

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    texts = sample_texts()
    py = python_for("datatrove", DATATROVE_PACKAGES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "texts.json"
        path.write_text(json.dumps(texts))
        ours = gristmill_side(texts, args.repeat)
        theirs = json.loads(subprocess.run([py, "-c", DATATROVE_SIDE, str(path), str(args.repeat)], check=True,
                                           capture_output=True, text=True).stdout)
    rows = []
    for name in ORDER:
        agree = sum(a == b for a, b in zip(ours["decisions"][name], theirs["decisions"][name])) / len(texts)
        rows.append({"filter": name, "gristmill_ms": round(1000 * ours["alone_s"][name], 3),
                     "datatrove_ms": round(1000 * theirs["alone_s"][name], 3),
                     "speedup": round(theirs["alone_s"][name] / ours["alone_s"][name], 1),
                     "gristmill_kept": sum(ours["decisions"][name]), "datatrove_kept": sum(theirs["decisions"][name]),
                     "same_decision": round(agree, 3)})
    report = {"date": datetime.date.today().isoformat(), "machine": machine(),
              "command": "python benchmarks/filters.py " + " ".join(argv or sys.argv[1:]),
              "texts": len(texts), "mean_chars": round(sum(map(len, texts)) / len(texts)), "filters": rows,
              "chain": {"gristmill_ms": round(1000 * ours["chain_s"], 3), "datatrove_ms": round(1000 * theirs["chain_s"], 3),
                        "speedup": round(theirs["chain_s"] / ours["chain_s"], 1),
                        "gristmill_kept": ours["kept"], "datatrove_kept": theirs["kept"]}}
    print(f"{len(texts)} texts, mean {report['mean_chars']} chars; ms per document, each filter alone on all texts:")
    print("| filter | gristmill ms | datatrove ms | datatrove / gristmill | kept (g / d) | same decision |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['filter']} | {r['gristmill_ms']} | {r['datatrove_ms']} | {r['speedup']}x | "
              f"{r['gristmill_kept']} / {r['datatrove_kept']} | {r['same_decision']:.1%} |")
    c = report["chain"]
    print(f"| chain (curate order, drops stop the chain) | {c['gristmill_ms']} | {c['datatrove_ms']} | "
          f"{c['speedup']}x | {c['gristmill_kept']} / {c['datatrove_kept']} | |")
    report["curate_chain"] = cc = chain_costs()
    print(f"\ncurate's chain on the sample crawl, in-process ({cc['records']} records, "
          f"{cc['docs_per_s_in_process']} records/s incl. reading):")
    print("| stage | docs in | ms per doc in |")
    print("|---|---|---|")
    for name, r in cc["stages"].items():
        print(f"| {name} | {r['in']} | {r['ms_per_doc']} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
