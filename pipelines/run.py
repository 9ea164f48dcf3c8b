"""``gristmill run``: the whole data path on the bundled sample crawl, with no flags.

curate -> dedup -> tokenizer -> tokenize (kept and rejected groups) -> a tiny CPU ablation of two mixes,
into ./gristmill-out/, with a summary table per job and the ablation's verdicts.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pipelines.report import summary_table

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample_crawl"


def sample_inputs() -> list[str]:
    for base in (SAMPLE, Path.cwd() / "examples" / "sample_crawl"):
        files = sorted(str(p) for p in base.glob("*.warc.gz"))
        if files:
            return files
    raise SystemExit("gristmill run: the bundled sample crawl (examples/sample_crawl/*.warc.gz) is missing; "
                     "run from the repository root or pass --input")


def _check(step: str, rc: int | None) -> None:
    if rc:
        raise SystemExit(f"gristmill run: step {step!r} failed (exit code {rc}); see its messages above")


# Beam flags that choose where and how wide a job runs: when the user passes none, curate runs on DirectRunner with
# one worker process per core (up to one per input file: a file is curate's unit of work). Its pretrained-model
# scorers are CPU-bound and single-threaded per worker (filters/llm_text.py), so one process used one core of
# the quick start's two. The other steps are short and stay in one process.
RUNNER_FLAGS = ("--runner", "--direct_num_workers", "--direct_running_mode")


def curate_flags(beam_args: list[str], files: int) -> list[str]:
    """``beam_args`` plus, unless it already chooses a runner or workers, DirectRunner's multi-processing mode
    with min(cores, files) workers (none with one core or one file)."""
    if any(a.split("=", 1)[0] in RUNNER_FLAGS for a in beam_args):
        return list(beam_args)
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, files)
    if workers < 2:
        return list(beam_args)
    return [*beam_args, f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gristmill run", description=__doc__.split("\n")[0])
    p.add_argument("--input", nargs="+", metavar="GLOB", help="WARC files (default: the bundled sample crawl)")
    p.add_argument("--output", default="gristmill-out", metavar="DIR", help="output folder (default ./gristmill-out)")
    p.add_argument("--mixes", default=str(SAMPLE.parent / "mixes" / "sample.yaml"), metavar="YAML",
                   help="mixes to compare (default examples/mixes/sample.yaml)")
    p.add_argument("--vocab-size", type=int, default=4096, help="BPE vocabulary for the sample (default 4096)")
    p.add_argument("--tokens", type=float, default=3e5, help="training tokens per ablation run (default 3e5)")
    args, beam_args = p.parse_known_args(argv)
    inputs = args.input or sample_inputs()
    out = Path(args.output)
    started = time.time()

    from pipelines import ablate, curate, dedup, tokenize, tokenizer_cmd
    from pipelines.options import expand_inputs

    def step(title: str) -> None:
        print(f"\n== {title}", flush=True)

    step(f"curate: {len(inputs)} WARC files -> {out / 'curate'}")
    report = curate.run(["--input", *inputs, "--output", str(out / "curate"), "--classifiers",
                         *curate_flags(beam_args, len(expand_inputs(inputs)))])
    print(summary_table(report), flush=True)

    step(f"dedup: MinHash near duplicates -> {out / 'dedup'}")
    report = dedup.run(["--input", str(out / "curate" / "docs" / "*.parquet"), "--output", str(out / "dedup"), *beam_args])
    print(summary_table(report), flush=True)

    kept = str(out / "dedup" / "docs" / "*.parquet")
    rejected = [str(out / "curate" / "rejected" / "*.parquet"), str(out / "dedup" / "rejected" / "*.parquet")]
    # The tokenizer sees kept and rejected text alike: trained on kept text only, rejected text took 2.1x
    # the tokens, which would make the two groups' losses incomparable per token.
    step(f"tokenizer: byte-level BPE ({args.vocab_size} tokens) on kept and rejected text -> {out / 'tokenizer.json'}")
    tok = str(out / "tokenizer.json")
    _check("tokenizer", tokenizer_cmd.main(["train", "--input", kept, *rejected, "--vocab-size", str(args.vocab_size), "--output", tok]))

    step(f"tokenize: kept and rejected documents into two shard groups -> {out / 'shards'}")
    report = tokenize.run(["--input", kept + "=kept", *[r + "=rejected" for r in rejected], "--tokenizer", tok,
                           "--val-fraction", "0.1", "--output", str(out / "shards"), *beam_args])
    print(summary_table(report), flush=True)

    step(f"ablate: a tiny CPU model per mix x seed ({args.mixes}) -> {out / 'ablate'}")
    _check("ablate", ablate.main(["--shards", str(out / "shards"), "--mixes", args.mixes, "--preset", "tiny",
                 "--tokens", str(args.tokens), "--seeds", "2", "--tokenizer", tok, "--curate", str(out / "curate"),
                 "--output", str(out / "ablate"), "--device", "cpu", "--no-progress"]))

    print(f"\ngristmill run: done in {time.time() - started:.0f} s; reports under {out}/*/report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
