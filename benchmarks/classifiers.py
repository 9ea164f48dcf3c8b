"""Benchmark: documents/s per core for every scorer, next to trafilatura extraction of the same pages,
and the held-out metrics table of the committed models (with the fastText-only baseline beside each).

    flock /tmp/gristmill-bench.lock python benchmarks/classifiers.py [--data DIR] [--json OUT]

One process, one thread (torch and fastText set to 1), so docs/s is per core. Inputs: the scrapinghub
pages of the shared data (HTML for extraction and hidden text, ground-truth text for text scorers).
"""
from __future__ import annotations

import os
import sys

# Run as a script, this folder is sys.path[0], and benchmarks/tokenize.py would shadow the standard
# library's tokenize (imported by torch via inspect/linecache): take the folder off the path first.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import datetime
import glob
import gzip
import json
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.peers import machine  # noqa: E402
from filters import classifier_data as cd  # noqa: E402


def rate(fn, items, min_seconds: float = 3.0, size=lambda item: 1) -> float:
    """Documents per second of ``fn(item)``, repeating the list until at least ``min_seconds`` have passed; ``size``:
    the documents in one item (``len`` for batches: the last batch is short, so batches/s x 64 would overstate)."""
    n, t0 = 0, time.perf_counter()
    while True:
        for it in items:
            fn(it)
            n += size(it)
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return n / dt


def note(speed: dict, name: str, value: float) -> None:
    """Keep a measurement and print it at once (stderr): a run cut short (the LLM detector's two passes over the pages
    take ~30 min on a 2-core AVX2 CPU) keeps what it measured."""
    speed[name] = value
    print(f"{name}: {value:.2f} docs/s", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=cd.DEFAULT_DATA)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--compare-llm", metavar="DIR", help="also time the LLM detector in this model directory "
                    "(e.g. an earlier committed model, extracted with git) in the same run")
    ap.add_argument("--compare-injection", metavar="DIR", help="also time the injection scorer in this model directory "
                    "in the same run")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)

    import trafilatura

    from filters import fasttext_model as ftm
    from filters import hidden_text, injection, llm_text, quality, unicode_anomalies
    from pipelines.triggers import ngrams

    html = [gzip.open(p).read().decode("utf-8", "replace")
            for p in sorted(glob.glob(os.path.join(args.data, "extraction", "scrapinghub", "html", "*.html.gz")))]
    texts = [json.loads(l)["text"] for l in open(os.path.join(args.data, "extraction", "scrapinghub", "ground_truth.jsonl"))]
    words = sum(len(t.split()) for t in texts) / len(texts)

    q = quality.Scorer()
    inj = injection.Scorer()
    det = llm_text.Detector()
    st = {"quality": quality.stage({}), "injection": injection.stage({}), "llm": llm_text.stage({}),
          "unicode": unicode_anomalies.stage({}), "hidden_text": hidden_text.stage({})}
    batches = [texts[i:i + 64] for i in range(0, len(texts), 64)]  # as the score command reads them (--batch 64)
    speed = {}
    note(speed, "anchor: trafilatura.extract (HTML, fast=False)", rate(lambda h: trafilatura.extract(h), html))
    note(speed, "hidden_text stage (HTML)", rate(lambda h: st["hidden_text"].fn({"_html": h}), html))
    note(speed, "unicode stage", rate(lambda t: st["unicode"].fn({"text": t}), texts))
    note(speed, "quality stage (per doc)", rate(lambda t: st["quality"].fn({"text": t}), texts))
    note(speed, "quality score cmd (batch 64)", rate(lambda b: q.score(b), batches, size=len))
    note(speed, "injection stage (per doc)", rate(lambda t: st["injection"].fn({"text": t}), texts))
    note(speed, "injection score cmd (batch 64)", rate(lambda b: inj.score(b), batches, size=len))
    if args.compare_injection:
        other_inj = injection.Scorer(args.compare_injection)
        note(speed, f"injection score cmd (batch 64), model {args.compare_injection}",
             rate(lambda b: other_inj.score(b), batches, size=len))
    note(speed, "llm stage (per doc)", rate(lambda t: st["llm"].fn({"text": t}), texts[:60], 10))
    note(speed, "llm score cmd (batch 64)", rate(lambda b: det.score(b), batches, 10, size=len))
    if args.compare_llm:
        other = llm_text.Detector(args.compare_llm)
        name = ftm.load_card(os.path.join(args.compare_llm, "card.json"))["params"]["feature_set"]
        note(speed, f"llm score cmd (batch 64), model {args.compare_llm} ({name})",
             rate(lambda b: other.score(b), batches, 10, size=len))
    note(speed, "triggers: word 3-grams per doc", rate(lambda t: ngrams(t, 3), texts))

    cards = {k: ftm.load_card(os.path.join(ROOT, "filters", "models", k, "card.json")) for k in ("quality", "injection", "llm")}
    metrics = []
    c = cards["quality"]["heldout"]
    metrics.append(("quality", "random group split", "fastText", c["auroc"], c["recall_at_1pct_fpr"]))
    c = cards["injection"]
    for split, d in [("random group split", c["heldout"])] + [(f"unseen family: {k}", v) for k, v in c["leave_one_family_out"].items()]:
        metrics.append(("injection", split, "fastText only (baseline)", d["fasttext_only"]["auroc"], d["fasttext_only"]["recall_at_1pct_fpr"]))
        metrics.append(("injection", split, "shipped: fastText + signals + MiniLM and Gemma heads", d["combined"]["auroc"], d["combined"]["recall_at_1pct_fpr"]))
    c = cards["llm"]
    shipped = c["params"]["feature_set"]
    metrics.append(("llm", "random group split", f"shipped ({shipped})", c["heldout"]["auroc"], c["heldout"]["recall_at_1pct_fpr"]))
    for split, d in c["generalization"].items():
        for fs in d:
            label = {"fasttext": "fastText only (baseline)", shipped: f"{shipped} (shipped)"}.get(fs, fs)
            metrics.append(("llm", split, label, d[fs]["auroc"], d[fs]["recall_at_1pct_fpr"]))

    anchor = speed["anchor: trafilatura.extract (HTML, fast=False)"]
    print(f"# classifiers benchmark  {datetime.date.today()}  {machine()}")
    print(f"# {len(texts)} scrapinghub docs (mean {words:.0f} words); one thread; other processes may have been running\n")
    print("| scorer | docs/s per core | vs trafilatura extraction |")
    print("|---|---:|---:|")
    for k, v in speed.items():
        print(f"| {k} | {v:.1f} | {v / anchor:.2f}x |")
    print("\n| classifier | split | model | AUROC | recall @ 1% FPR |")
    print("|---|---|---|---:|---:|")
    for row in metrics:
        print(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]:.3f} | {row[4]:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": str(datetime.date.today()), "machine": machine(), "speed": speed,
                       "metrics": metrics}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
