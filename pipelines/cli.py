"""``gristmill COMMAND ...``: one entry point; each command lives in its own module and owns its flags.

Commands are imported only when called, so ``gristmill --help`` stays fast and one command's heavy
dependencies (torch, Beam) are not loaded for another.
"""
from __future__ import annotations

import importlib
import logging
import sys

# command -> (module, function taking argv, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("pipelines.run", "main", "the whole path on the bundled sample crawl (or --input), no flags needed"),
    "crawl": ("pipelines.crawl", "main", "polite, safe crawl from seeds to WARC files"),
    "curate": ("pipelines.curate", "main", "WARC files -> clean, fully counted Parquet documents"),
    "extract": ("pipelines.extract_cmd", "main", "HTML or WARC files -> JSON lines {source, url, text}"),
    "classifier": ("pipelines.classifier_cmd", "main", "train a quality / llm / injection classifier"),
    "score": ("pipelines.score_cmd", "main", "add a classifier's score to each JSON line with a 'text' field"),
    "triggers": ("pipelines.triggers", "main", "corpus job: rare n-grams repeated in many docs from few hosts"),
    "dedup": ("pipelines.dedup", "main", "MinHash near-duplicate removal over Parquet documents"),
    "tokenizer": ("pipelines.tokenizer_cmd", "main", "train a byte-level BPE tokenizer on documents"),
    "tokenize": ("pipelines.tokenize", "main", "documents -> Arrow token shards grouped for mixing"),
    "train": ("trainer.cli", "main", "train a GPT on a mix of token shards, report held-out loss"),
    "ablate": ("pipelines.ablate", "main", "train one model per mix x seed and say which mix is better"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: gristmill COMMAND [options]   (gristmill COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def _no_bigquery_notice(record: logging.LogRecord) -> bool:
    """Drops the warning Beam logs on import when the optional BigQuery client (apitools) is not installed:
    gristmill reads and writes no BigQuery, so it was noise that looked like a broken install on every command,
    --help included. (Beam's worker processes in multi-processing mode log it, and their own warnings, where this
    filter cannot reach.)"""
    return not str(record.msg).startswith("apitools not found")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"gristmill: unknown command {name!r}; one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    logging.getLogger().addFilter(_no_bigquery_notice)
    progress = logging.getLogger("gristmill")  # the jobs' per-file progress lines (pipelines/dofn.py)
    if not progress.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        progress.addHandler(handler)
        progress.setLevel(logging.INFO)
        progress.propagate = False  # once, even where something configured the root logger
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            print(f"gristmill: command {name!r} is not available in this build ({module} missing)", file=sys.stderr)
            return 2
        raise
    return int(getattr(mod, func)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
