"""The real ablation on one GPU (issue 9 #6): three mixes x two seeds on the real-data shards built by
benchmarks/ablation_data.py, plus a scaling check, through ``gristmill ablate`` itself.

Mixes: ``clean`` (filtered web + reference text), ``clean+30pct-rejected`` (the same with 30% of its
tokens replaced by text the filters reject) and ``web`` (the filtered web text alone). The question of
the issue: how many GPU-minutes until ``clean`` and ``clean+30pct-rejected`` are separated at 95% CI. Reports the device seconds of training (all four runs of the pair, both
seeds) up to the first evaluation from which the CI stays clear of zero.

    PYTHONPATH=. python benchmarks/ablation.py --shards .device/abl/shards --output $OUT/abl
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import yaml  # noqa: E402

# "clean" weights web and reference about by their sizes (0.42M and 2.3M training tokens), so neither is
# repeated much more than the other; the dirty mix is the same with 30% of its tokens replaced by rejected text.
MIXES = [
    {"name": "clean", "groups": {"web": 0.15, "reference": 0.85}},
    {"name": "clean+30pct-rejected", "groups": {"web": 0.105, "reference": 0.595, "rejected": 0.3}},
    {"name": "web", "groups": {"web": 1.0}},
]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shards", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--tokenizer")
    p.add_argument("--preset", default="20m")
    p.add_argument("--tokens", default="1e7")
    p.add_argument("--batch-size", default="32")
    p.add_argument("--seeds", default="3")
    p.add_argument("--eval-every", default="50")
    p.add_argument("--eval-tokens", default="65536")
    p.add_argument("--scales", default="tokens=1000000,2000000,4000000,8000000,16000000")
    args = p.parse_args(argv)
    from pipelines.ablate import main as ablate

    os.makedirs(args.output, exist_ok=True)
    mixes = os.path.join(args.output, "mixes.yaml")
    with open(mixes, "w") as f:
        yaml.safe_dump({"mixes": MIXES}, f)
    t0 = time.time()
    argv = ["--shards", args.shards, "--mixes", mixes, "--output", args.output, "--preset", args.preset,
            "--tokens", args.tokens, "--seeds", args.seeds, "--batch-size", args.batch_size, "--eval-every",
            args.eval_every, "--eval-tokens", args.eval_tokens, "--no-progress", "--scales", args.scales,
            "--scale-mix", "clean", "--scale-group", "reference"]
    if args.tokenizer:
        argv += ["--tokenizer", args.tokenizer]
    rc = ablate(argv)
    if rc != 0:
        return rc
    wall = time.time() - t0
    rep = json.load(open(os.path.join(args.output, "report.json")))
    print(f"\nwall_seconds:{wall:.1f} train_seconds_all_runs:{rep['total_train_seconds']:.1f}")
    for pr in rep["pairs"]:
        if {pr["a"], pr["b"]} == {"clean", "clean+30pct-rejected"}:
            print(f"pair {pr['a']} vs {pr['b']} group {pr['group']}: diff {pr['diff']:+.4f} CI [{pr['ci_lo']:+.4f}, "
                  f"{pr['ci_hi']:+.4f}] separated_at_step {pr.get('separated_at_step')} "
                  f"device_s {pr.get('device_seconds_to_separate')}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
