"""Why the injection detector misses instructions planted in documents it has not seen, and what shorter chunks do.

Trains the card's leave-one-family-out model with one family held out (default: ``indirect_injection``, the
instructions planted in articles, resumes, emails and tool output), then scores, at that model's 1%-FPR
threshold: the injected documents whole (the shipped score) and their planted instructions alone (the spans that
training would use, ``classifier_data.planted_span``); then the documents scored with shorter chunks (a text of
more than N words also scored in N-word chunks, the highest score kept), each score at its own 1%-FPR
threshold. Results: benchmarks/RESULTS.md ("Injection, eighth pass"; with the shipped model, "Planted instructions
with the shipped model").

    flock /tmp/gristmill-bench.lock python3 benchmarks/injection_planted.py --chunks 60 40

About 10 minutes of MiniLM embedding on a 2-core CPU (every row once, one thread), then ~2 minutes per chunk
size. The shipped recipe's Gemma head needs every row's layer-12 means and the UDHR lines' (its language
directions) too: over an hour on that CPU, seconds with ``--device cuda``; ``--without-lm`` leaves the head out (the
recipe of the table in RESULTS.md "Injection, eighth pass", before any LM head shipped).
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import platform

import numpy as np

from filters import classifier_data as cd
from filters import fasttext_model as ftm
from filters import injection
from filters import injection_train as it


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", default="indirect_injection")
    ap.add_argument("--chunks", type=int, nargs="*", default=[60, 40], help="chunk sizes in words to compare")
    ap.add_argument("--device", default="cpu", help="torch device for the Gemma head's input")
    ap.add_argument("--without-lm", action="store_true", help="no LM head (the recipe before the ninth session)")
    a = ap.parse_args(argv)
    rows = cd.injection_rows()
    windows = injection.Windows.of([injection.depad(r["text"]) for r in rows], 1)
    tr, te = cd.split_by_group(rows, 0.2, salt="injection")
    tr_f, te_f = it.family_split(rows, tr, te, a.family)
    lm = basis = None
    if not a.without_lm:  # the shipped recipe: the Gemma head reads its means without the language directions
        lm, model = it.lm_windows_of(rows, a.device)
        basis = it.language_basis(model)[0]
    r = it._fit_score(rows, tr_f, te_f, None, windows, lm_windows=lm, lm_basis=basis)
    y, kinds = r["y"], np.array([rows[i]["kind"] for i in te_f])
    thr = ftm.threshold_at_fpr(r["s"], y, 0.01)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {a.family} held out; "
          f"1%-FPR threshold {thr:.3f}")

    def line(name, s):
        # each score at its own 1%-FPR threshold (as the card measures), and at the stage's default 0.9
        m, t1, q = ftm.metrics(s, y), ftm.threshold_at_fpr(s, y, 0.01), (kinds == "user_question") | (y == 1)
        print(f"| {name} | {m['auroc']:.3f} | {m['recall_at_1pct_fpr']:.3f} | "
              f"({ftm.metrics(s[q], y[q])['recall_at_1pct_fpr']:.3f}) | {np.mean(s[y == 1] >= 0.9):.3f} | "
              f"{100 * np.mean(s[y == 0] >= 0.9):.2f}% | "
              f"{100 * np.mean(s[kinds == 'defense_system_prompt'] > t1):.1f}% |")

    print("| score | AUROC | recall @ 1% FPR | (vs questions) | attacks >= 0.9 | benign >= 0.9 "
          "| defenders' prompts above the 1%-FPR threshold |\n|---|---:|---:|---:|---:|---:|---:|")
    line("whole documents, shipped chunks", r["s"])
    spans = [i for i in range(len(rows)) if rows[i]["kind"] == a.family and rows[i].get("use") == "train"]
    s_sp = injection.window_scores(r["m"], [rows[i]["text"] for i in spans],
                                   lm_windows=None if lm is None else lm.take(spans))
    print(f"\nplanted instructions alone ({len(spans)}): {np.mean(s_sp > thr):.3f} above the whole documents' "
          f"threshold, {np.mean(s_sp >= 0.5):.3f} >= 0.5\n")
    texts = [rows[i]["text"] for i in te_f]
    whole = injection.features(r["m"], texts, windows.take(te_f), None if lm is None else lm.take(te_f))
    for n in a.chunks:
        line(f"texts > {n} words also in {n}-word chunks", injection.window_scores(
            r["m"], texts, whole=whole, words=n, min_doc_words=n,
            min_words=min(injection.CHUNK_MIN_WORDS, n // 3)))


if __name__ == "__main__":
    main()
