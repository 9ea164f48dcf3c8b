"""``gristmill tokenizer``: train a byte-level BPE on documents, or describe a tokenizer file.

    gristmill tokenizer train --input 'curated/docs/*.parquet' --vocab-size 8192 --output tok.json
    gristmill tokenizer info tok.json

Training reads the files in sorted order (Parquet: the text column; .jsonl: the "text" field of each
line; .txt: the whole file) and is deterministic: the same input gives the same tok.json, hence the
same hash in every shard. It runs in one process: BPE training needs the global pair counts, and HF
tokenizers already uses every core for it.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Iterator

import pyarrow.parquet as pq

from pipelines.io.atomic import write_bytes_atomic
from pipelines.options import expand_inputs
from tokenizer.encode import load
from tokenizer.train import EOT, train


def iter_texts(paths: list[str], text_column: str, max_bytes: int | None) -> Iterator[str]:
    total = 0
    for path in paths:
        if path.endswith(".parquet"):
            pf = pq.ParquetFile(path)
            if text_column not in pf.schema_arrow.names:
                raise SystemExit(f"--input {path}: no column {text_column!r} (has {pf.schema_arrow.names}); "
                                 f"set --text-column")
            texts = (t for batch in pf.iter_batches(columns=[text_column]) for t in batch.column(0).to_pylist())
        elif path.endswith(".jsonl"):
            texts = (json.loads(line).get("text") for line in open(path, encoding="utf-8") if line.strip())
        elif path.endswith(".txt"):
            texts = iter([open(path, encoding="utf-8", errors="replace").read()])
        else:
            raise SystemExit(f"--input {path}: unknown file type; use .parquet, .jsonl or .txt")
        for t in texts:
            if isinstance(t, str) and t.strip():
                yield t
                total += len(t.encode())
                if max_bytes is not None and total >= max_bytes:
                    return


def cmd_train(args: argparse.Namespace) -> int:
    paths = [p for p in expand_inputs(args.input) if not p.endswith(".done.json")]
    texts = iter_texts(paths, args.text_column, args.max_bytes)
    tok = train(texts, vocab_size=args.vocab_size, min_frequency=args.min_frequency, eot=args.eot_token)
    write_bytes_atomic(args.output, tok.to_str(pretty=False).encode())
    return cmd_info(argparse.Namespace(tokenizer=args.output, eot_token=args.eot_token))


def cmd_info(args: argparse.Namespace) -> int:
    enc = load(args.tokenizer, eot=args.eot_token)
    print(f"tokenizer:{args.tokenizer} hash:{enc.hash} vocab_size:{enc.vocab_size} eot_id:{enc.eot_id} "
          f"dtype:{enc.dtype.name} backend:{enc.backend}"
          + (f" why_not_tiktoken:{enc.why_not_tiktoken!r}" if enc.why_not_tiktoken else ""))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gristmill tokenizer", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a byte-level BPE tokenizer")
    t.add_argument("--input", nargs="+", action="extend", required=True, help=".parquet, .jsonl or .txt files (globs)")
    t.add_argument("--vocab-size", type=int, required=True, help="total vocabulary incl. 256 bytes and the end token")
    t.add_argument("--output", required=True, help="tokenizer JSON file to write")
    t.add_argument("--text-column", default="text")
    t.add_argument("--min-frequency", type=int, default=2, help="a merge needs a pair seen this often (default 2)")
    t.add_argument("--max-bytes", type=int, default=None, help="stop reading after this many bytes of text")
    t.add_argument("--eot-token", default=EOT)
    t.set_defaults(fn=cmd_train)
    i = sub.add_parser("info", help="print a tokenizer's hash, vocabulary size, end token and encoder backend")
    i.add_argument("tokenizer")
    i.add_argument("--eot-token", default=EOT)
    i.set_defaults(fn=cmd_info)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except ValueError as e:  # our validation errors (vocab size, missing end token): a message, not a trace
        print(f"gristmill tokenizer: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
