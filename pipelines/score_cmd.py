"""``gristmill score --kind quality|llm|injection|unicode --input X.jsonl --output Y.jsonl``.

Adds ``<kind>_score`` (``unicode_anomalies`` for unicode) to every JSON line that has a string ``text`` field;
other lines are copied unchanged and counted (``skipped``). Lines that are not JSON objects are counted as
``bad_json`` and left out, so the output is always valid JSON lines. The LLM detector does not judge a text of
fewer than 16 tokens (``llm_text.MIN_TOKENS``, ~12 English words): its score is null and it is counted as
``unscored`` (lines = scored + unscored + skipped + bad_json). Scores are computed in batches (the LLM-text
detector batches its language model). Counts go to stderr as one JSON line. ``--device cuda`` runs the
pretrained LMs (the LLM-text detector's two, the injection detector's Gemma head) on a GPU.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

KINDS = ("quality", "llm", "injection", "unicode")
COLUMN = {"quality": "quality_score", "llm": "llm_score", "injection": "injection_score",
          "unicode": "unicode_anomalies"}


def scorer(kind: str, model: str | None, threads: int = 1):
    if kind == "quality":
        from filters import quality
        return quality.Scorer(model or quality.DEFAULT_MODEL_DIR).score
    if kind == "injection":
        from filters import injection
        return injection.Scorer(model or injection.DEFAULT_MODEL_DIR).score
    if kind == "llm":
        from filters import llm_text
        det = llm_text.Detector(model or llm_text.DEFAULT_MODEL_DIR, threads=threads)
        return det.score
    if kind == "unicode":
        from filters import unicode_anomalies
        return lambda texts: [unicode_anomalies.anomalies(t) for t in texts]
    raise ValueError(f"'--kind' must be one of {KINDS} (got {kind!r})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gristmill score", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--input", required=True, help="JSON lines file ('-' for stdin)")
    p.add_argument("--output", required=True, help="JSON lines file ('-' for stdout)")
    p.add_argument("--model", help="model directory (default: the committed default for --kind)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu",
                   help="torch device for the pretrained LMs of --kind llm and injection (cuda: a float32 copy on "
                        "the GPU, which is how the committed cards' LM inputs were computed; the LLM detector reads "
                        "~0.2 texts/s per CPU core)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="torch threads for --kind llm on the CPU (default: every core, %(default)s here; the curate "
                        "stage uses 1 per worker)")
    args = p.parse_args(argv)
    if args.batch < 1:
        p.error(f"'--batch' must be >= 1 (got {args.batch})")
    if args.threads < 1:
        p.error(f"'--threads' must be >= 1 (got {args.threads})")
    if args.device != "cpu":
        from filters import gguf_lm

        try:
            gguf_lm.set_device(args.device)
        except ValueError as e:
            p.error(f"--device: {e}")
    if args.input != "-" and not os.path.exists(args.input):
        p.error(f"--input: {args.input!r} does not exist")
    score = scorer(args.kind, args.model, args.threads)
    col = COLUMN[args.kind]
    counts = {"lines": 0, "scored": 0, "skipped": 0, "bad_json": 0, "unscored": 0}
    fin = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8", errors="replace")
    tmp = None if args.output == "-" else f"{args.output}.tmp-{os.getpid()}"
    fout = sys.stdout if tmp is None else open(tmp, "w", encoding="utf-8")
    pending: list[dict] = []  # rows in input order; those with text wait for their batch's scores

    def flush() -> None:
        todo = [r for r in pending if isinstance(r.get("text"), str)]
        if todo:
            for r, s in zip(todo, score([r["text"] for r in todo])):
                if args.kind != "unicode" and math.isnan(s):  # the LLM detector does not judge very short texts
                    r[col] = None
                    counts["unscored"] += 1
                else:
                    r[col] = int(s) if args.kind == "unicode" else round(float(s), 6)
                    counts["scored"] += 1
        for r in pending:
            fout.write(json.dumps(r, ensure_ascii=False) + "\n")
        pending.clear()

    try:
        for line in fin:
            if not line.strip():
                continue
            counts["lines"] += 1
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                counts["bad_json"] += 1
                continue
            if not isinstance(row, dict):
                counts["bad_json"] += 1
                continue
            if not isinstance(row.get("text"), str):
                counts["skipped"] += 1
            pending.append(row)
            if len(pending) >= args.batch:
                flush()
        flush()
    finally:
        if fin is not sys.stdin:
            fin.close()
        if tmp is not None:
            fout.close()
    if tmp is not None:
        os.replace(tmp, args.output)
    print(json.dumps(counts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
