"""Build the real-data shards of the GPU ablation (issue 9 #6) and the trainer benchmark (issue 8 #8).

Run here on the CPU; the shards folder then travels to the GPU machine. From ../shared/data:

- ``web``: human-written web text: the Scrapinghub benchmark's annotated article bodies (news and blog
  pages) and the human-written rows of fast_detect_gpt (BBC XSum news, Reddit WritingPrompts, SQuAD
  Wikipedia paragraphs).
- ``reference``: edited text: 13 Gutenberg books (cut into ~4,000-character documents), WikiText-2
  valid+test (one document per article, its tokenization markers undone) and 120 US speeches.
- ``rejected``: text the curation filters drop, by kind: machine-generated continuations (fast_detect_gpt
  ``machine`` rows; llm_text stage), prompt-injection attacks (injection stage) and non-English UDHR
  lines, one document per translation (lang stage). This is a proxy for curate's rejected/ output,
  which on the bundled sample is too small to train on.

Then a byte-level BPE (HF tokenizers, 16,384 ids) is trained on all three and ``gristmill tokenize``
writes the shards (15% held out by a hash of the document id).

    python benchmarks/ablation_data.py --output .device/abl
"""
from __future__ import annotations

import os
import sys

# Run as a script, this folder would come first on sys.path, and benchmarks/tokenize.py and
# benchmarks/trainer.py would shadow the stdlib's tokenize and our trainer package: put the repo root there.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import glob
import hashlib
import json
import re
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq

DATA = os.environ.get("GRISTMILL_SHARED_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


def _jsonl(path: str):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _chunks(text: str, size: int = 4000) -> list[str]:
    """Cut at paragraph breaks into pieces of about ``size`` characters."""
    out, cur = [], []
    n = 0
    for para in re.split(r"\n\s*\n", text):
        cur.append(para)
        n += len(para)
        if n >= size:
            out.append("\n\n".join(cur).strip())
            cur, n = [], 0
    if cur and "\n\n".join(cur).strip():
        out.append("\n\n".join(cur).strip())
    return [c for c in out if len(c) > 200]


def _detok_wikitext(s: str) -> str:
    s = s.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
    s = re.sub(r" ([.,;:!?)\]'])", r"\1", s)
    return re.sub(r"([(\[]) ", r"\1", s)


def web_docs() -> list[tuple[str, str]]:
    docs = [(f"sh-{r['id'][:16]}", r["text"]) for r in _jsonl(f"{DATA}/extraction/scrapinghub/ground_truth.jsonl")]
    docs += [(f"fdg-{i}", r["text"]) for i, r in enumerate(_jsonl(f"{DATA}/llm_generated/fast_detect_gpt.jsonl"))
             if r["label"] == "human"]
    return docs


def reference_docs() -> list[tuple[str, str]]:
    docs = []
    for path in sorted(glob.glob(f"{DATA}/reference/gutenberg/*.txt")):
        raw = open(path, "rb").read().decode("utf-8", errors="replace").replace("\r\n", "\n")
        name = os.path.basename(path)[:-4]
        docs += [(f"gut-{name}-{i}", c) for i, c in enumerate(_chunks(raw))]
    for split in ("valid", "test"):
        text = open(f"{DATA}/reference/wikitext-2/{split}.txt", encoding="utf-8").read()
        articles = re.split(r"\n = (?=[^=])", text)
        docs += [(f"wiki-{split}-{i}", _detok_wikitext(a).strip()) for i, a in enumerate(articles) if len(a) > 500]
    docs += [(f"sp-{r['id']}", r["text"]) for r in _jsonl(f"{DATA}/reference/us_speeches/speeches.jsonl")]
    return docs


def rejected_docs() -> list[tuple[str, str]]:
    docs = [(f"llm-{i}", r["text"]) for i, r in enumerate(_jsonl(f"{DATA}/llm_generated/fast_detect_gpt.jsonl"))
            if r["label"] == "machine"]
    docs += [(f"inj-{i}", r["text"]) for i, r in enumerate(_jsonl(f"{DATA}/adversarial/prompt_injection.jsonl"))
             if r["label"] == "injection"]
    by_file: dict[str, list[str]] = {}
    for r in _jsonl(f"{DATA}/lid/udhr.jsonl"):
        if r.get("lang") != "en" and not r["file"].startswith("English"):
            by_file.setdefault(r["file"], []).append(r["text"])
    docs += [(f"udhr-{f}", "\n".join(lines)) for f, lines in sorted(by_file.items())]
    return docs


def write_parquet(path: str, docs: list[tuple[str, str]]) -> None:
    ids = [hashlib.sha1(i.encode()).hexdigest() for i, _ in docs]
    pq.write_table(pa.table({"id": ids, "text": [t for _, t in docs]}), path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", default=".device/abl")
    p.add_argument("--vocab-size", type=int, default=16384)
    p.add_argument("--val-fraction", type=float, default=0.15)
    args = p.parse_args(argv)
    docs_dir = os.path.join(args.output, "docs")
    os.makedirs(docs_dir, exist_ok=True)
    groups = {"web": web_docs(), "reference": reference_docs(), "rejected": rejected_docs()}
    for g, docs in groups.items():
        write_parquet(os.path.join(docs_dir, f"{g}.parquet"), docs)
        print(f"group:{g} docs:{len(docs)} chars:{sum(len(t) for _, t in docs)}", flush=True)
    tok = os.path.join(args.output, "tok.json")
    cli = [sys.executable, "-m", "pipelines.cli"]
    subprocess.run(cli + ["tokenizer", "train", "--input", *sorted(glob.glob(f"{docs_dir}/*.parquet")),
                          "--vocab-size", str(args.vocab_size), "--output", tok], check=True)
    subprocess.run(cli + ["tokenize", "--input", *[f"{docs_dir}/{g}.parquet={g}" for g in groups], "--tokenizer", tok,
                          "--output", os.path.join(args.output, "shards"), "--val-fraction", str(args.val_fraction)],
                   check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
