"""``gristmill run``: the whole data path on the bundled sample crawl, with no flags.

curate -> (later stages as they exist) into ./gristmill-out/, then a summary table per job.
"""
from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gristmill run", description=__doc__.split("\n")[0])
    p.add_argument("--input", nargs="+", metavar="GLOB", help="WARC files (default: the bundled sample crawl)")
    p.add_argument("--output", default="gristmill-out", metavar="DIR", help="output folder (default ./gristmill-out)")
    args, beam_args = p.parse_known_args(argv)
    inputs = args.input or sample_inputs()
    out = Path(args.output)
    started = time.time()

    from pipelines import curate

    print(f"== curate: {len(inputs)} WARC files -> {out / 'curate'}", flush=True)
    report = curate.run(["--input", *inputs, "--output", str(out / "curate"), *beam_args])
    print(summary_table(report), flush=True)

    print(f"\ngristmill run: done in {time.time() - started:.0f} s; reports under {out}/*/report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
