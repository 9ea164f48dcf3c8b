"""``gristmill train --shards DIR --mix mix.yaml --preset 124m --tokens N --output RUN``

Trains one model on one mix of token shards and evaluates it on every group's held-out split. The same
code runs on the CPU (tiny preset, tests) and on a GPU (cuda, bf16, compiled). Writes RUN/result.json
(final held-out losses with CIs, curves, throughput, MFU), RUN/metrics.jsonl (every logged step and
evaluation) and RUN/latest.pt (the last good checkpoint; ``--resume`` continues from it).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainer.model import PRESETS, GPTConfig, pad_vocab, preset

# Train defaults per preset: sequences per micro-batch and peak learning rate (smaller models take larger rates).
PRESET_TRAIN: dict[str, dict] = {
    "tiny": dict(batch_size=16, lr=3e-3),
    "20m": dict(batch_size=64, lr=2e-3),
    "124m": dict(batch_size=32, lr=1e-3),
    "350m": dict(batch_size=16, lr=5e-4),
}


@dataclass
class Data:
    sampler: Any  # shards.mix.MixSampler
    eval_sources: dict  # group -> ShardSet of DIR/<group>/val
    mix: dict  # {"name", "groups": {group: weight}}
    tokenizer_hash: str
    vocab_size: int  # the tokenizer's vocabulary
    byte_lengths: np.ndarray | None  # UTF-8 bytes per token id, for bits per byte


def load_data(shards_dir: str, mix_spec: Any, seq_len: int, seed: int, tokenizer: str | None = None,
              eval_groups: list[str] | None = None) -> Data:
    import shards
    from shards.mix import MixSampler, load_mix

    mix = load_mix(mix_spec)
    sampler = MixSampler(shards_dir, mix, seq_len, seed)
    groups = shards.groups(shards_dir)
    wanted = eval_groups if eval_groups is not None else groups
    unknown = sorted(set(wanted) - set(groups))
    if unknown:
        raise ValueError(f"--eval-groups: {unknown} are not groups of {shards_dir} (groups: {groups})")
    eval_sources = {g: shards.open(os.path.join(shards_dir, g, "val")) for g in wanted
                    if os.path.isdir(os.path.join(shards_dir, g, "val"))}
    for g in [g for g, s in eval_sources.items() if s.num_tokens < seq_len + 1]:
        print(f"note: held-out group {g!r} has {eval_sources[g].num_tokens} tokens, fewer than seq_len+1 = "
              f"{seq_len + 1}: not evaluated (tokenize more documents or raise --val-fraction)", file=sys.stderr)
        del eval_sources[g]
    if not eval_sources:
        raise ValueError(f"no group of {shards_dir} has a held-out split of at least seq_len+1 = {seq_len + 1} "
                         "tokens; tokenize with a larger --val-fraction or lower --seq-len")
    ref = next(iter(eval_sources.values()), None) or shards.open(os.path.join(shards_dir, next(iter(mix.groups))))
    for g, s in eval_sources.items():
        if s.tokenizer_hash != ref.tokenizer_hash:
            raise ValueError(f"held-out group {g!r} has 'tokenizer_hash' {s.tokenizer_hash!r} but others have "
                             f"{ref.tokenizer_hash!r}; tokenize all groups with one tokenizer")
    byte_lengths = None
    if tokenizer:
        from tokenizers import Tokenizer

        from tokenizer.train import tokenizer_hash
        from trainer.evaluate import token_byte_lengths

        h = tokenizer_hash(Tokenizer.from_file(tokenizer))
        if h != ref.tokenizer_hash:
            raise ValueError(f"--tokenizer {tokenizer} has hash {h[:16]}... but the shards were tokenized with "
                             f"{ref.tokenizer_hash[:16]}...; pass the tokenizer the shards were made with")
        byte_lengths = token_byte_lengths(tokenizer, ref.vocab_size)
    return Data(sampler, eval_sources, {"name": mix.name, "groups": dict(mix.groups)}, ref.tokenizer_hash,
                ref.vocab_size, byte_lengths)


def model_config(preset_name: str, data_vocab: int, seq_len: int | None = None, vocab_size: int | None = None,
                 mlp: str | None = None) -> GPTConfig:
    vocab = vocab_size or pad_vocab(data_vocab)
    if vocab < data_vocab:
        raise ValueError(f"--vocab-size {vocab} is smaller than the tokenizer's vocabulary {data_vocab}")
    return preset(preset_name, vocab_size=vocab, seq_len=seq_len, mlp=mlp)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gristmill train", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--shards", required=True, help="gristmill tokenize output: DIR/<group>/ and DIR/<group>/val/")
    p.add_argument("--mix", required=True, help="mix YAML (name, groups: {group: weight})")
    p.add_argument("--output", required=True, help="run folder")
    p.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    p.add_argument("--tokens", type=float, required=True, help="training tokens (1e6 and 2000000 both work)")
    p.add_argument("--seq-len", type=int, help="context length (default: the preset's)")
    p.add_argument("--vocab-size", type=int, help="model vocabulary (default: the tokenizer's, padded to 128)")
    p.add_argument("--mlp", choices=["swiglu", "gelu"], help="MLP kind (default: the preset's; gelu for 124m, swiglu otherwise)")
    p.add_argument("--batch-size", type=int, help="sequences per micro-batch (default per preset)")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, help="peak learning rate (default per preset)")
    p.add_argument("--schedule", choices=["cosine", "wsd"], default="cosine")
    p.add_argument("--warmup-frac", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=0, help="steps between evaluations (0 = at the end)")
    p.add_argument("--eval-tokens", type=float, default=1 << 18, help="held-out tokens per group per evaluation")
    p.add_argument("--eval-groups", nargs="*", help="groups to evaluate (default: every group with a val/ split)")
    p.add_argument("--tokenizer", help="tokenizer JSON the shards were made with: enables bits per byte")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile (default: on for cuda)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/latest.pt if it exists")
    p.add_argument("--check-determinism", action="store_true",
                   help="first run two identical 5-step runs and stop unless their losses agree")
    p.add_argument("--spike-ratio", type=float, default=1.8)
    p.add_argument("--stop-after", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--no-progress", action="store_true", help="no progress bar (step lines still print)")
    return p


def train_config(args: argparse.Namespace, **extra) -> "TrainConfig":
    from trainer.train import TrainConfig

    d = PRESET_TRAIN[args.preset]
    return TrainConfig(
        tokens=int(args.tokens), batch_size=args.batch_size or d["batch_size"], grad_accum=args.grad_accum,
        lr=args.lr or d["lr"], schedule=args.schedule, warmup_frac=args.warmup_frac, weight_decay=args.weight_decay,
        grad_clip=args.grad_clip, eval_every=args.eval_every, eval_tokens=int(args.eval_tokens), seed=args.seed,
        device=args.device, compile=args.compile, spike_ratio=args.spike_ratio, stop_after=args.stop_after,
        log_every=args.log_every, progress=not args.no_progress, **extra)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from trainer.guards import GuardError
    from trainer.train import check_determinism, train

    seq_len = args.seq_len or PRESETS[args.preset]["seq_len"]
    try:
        data = load_data(args.shards, args.mix, seq_len, args.seed, args.tokenizer, args.eval_groups)
        mcfg = model_config(args.preset, data.vocab_size, seq_len, args.vocab_size, args.mlp)
        tcfg = train_config(args)
        if args.check_determinism:
            losses = check_determinism(mcfg, tcfg, lambda: load_data(args.shards, args.mix, seq_len, args.seed).sampler)
            print("determinism:ok losses:" + ",".join(f"{x:.6f}" for x in losses), flush=True)
        result = train(mcfg, tcfg, data.sampler, data.eval_sources, args.output, mix=data.mix,
                       tokenizer_hash=data.tokenizer_hash, byte_lengths=data.byte_lengths, resume=args.resume,
                       data_vocab=data.vocab_size)
    except GuardError:
        return 3  # the message (with the last good checkpoint) is already printed
    except (ValueError, FileNotFoundError) as e:
        print(f"gristmill train: {e}", file=sys.stderr)
        return 2
    if "stopped_at" in result:
        return 0
    for g, r in result["final_eval"].items():
        bpb = f" bpb:{r['bits_per_byte']:.4f}" if r["bits_per_byte"] else ""
        print(f"final group:{g} loss:{r['loss']:.4f} ci95:{r['ci95']:.4f}{bpb} sequences:{r['sequences']}")
    mfu = f" mfu:{result['mfu']:.3f}" if result["mfu"] is not None else ""
    print(f"done tokens:{result['tokens']} tok_s:{result['tok_s']}{mfu} output:{args.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
