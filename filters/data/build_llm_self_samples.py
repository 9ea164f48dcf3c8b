"""Make filters/data/llm_self_samples.jsonl.gz: Gemma-3-270M's low-temperature continuations of the LLM-text training
data's human texts, the machine text of the detector's second combiner (filters/llm_text.py: Blend).

    python3 filters/data/build_llm_self_samples.py --device cuda [--data ../shared/data]

Why: every machine text of the shared data is a 2020-22 base model's pure sample (temperature 1), about as surprising
as the model expects; chat models decode at low temperature and write text more predictable than people do. The only
generators reachable here are the detector's own scoring LMs, so one of them writes that kind of text: from the first
30 tokens (Gemma's tokenizer, after the same whitespace normalization as the features) of each human row of
``classifier_data.llm_rows()``, 256 new tokens at temperature 0.5 and top-p 0.95, stopping at an end-of-text token.
Each sample keeps its human source's ``group`` and ``domain``, so it stays on its source's side of every split.

A GPU job: ~140 s on one H200 for the 1,530 texts (batch 768, bf16, no KV cache: each step reruns the whole prefix,
which at 286 tokens is cheaper to write than a cache and fast enough); hours on a 2-core CPU. GPU sampling is not
bit-reproducible across GPUs and library versions, so the committed file is the record (its sha256 is in the llm
card's data files) and the tests never regenerate it. Measured: the committed file came from this code with seed 3
on an NVIDIA H200, torch 2.11 (RESULTS.md, eighteenth session), and rerun there the next session it gave the same
1,530 texts.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from filters import classifier_data as cd  # noqa: E402

PROMPT_TOKENS = 30
OUTPUT = os.path.join(ROOT, "filters", "data", "llm_self_samples.jsonl.gz")


def sample(lm, texts: list[str], new_tokens: int, temperature: float, top_p: float, seed: int,
           batch: int) -> dict[int, str]:
    """index -> the text's first PROMPT_TOKENS tokens and up to ``new_tokens`` sampled ones, decoded. Texts shorter
    than the prompt are left out."""
    import torch

    eos = {lm.tokenizer.token_to_id(t) for t in ("<eos>", "<end_of_turn>")} - {None}
    enc = lm.encode(texts, PROMPT_TOKENS)
    todo = [i for i, e in enumerate(enc) if len(e) == PROMPT_TOKENS + 1]  # [bos] + the prompt
    gen = torch.Generator(device=lm.device).manual_seed(seed)
    out = {}
    with torch.inference_mode():
        for start in range(0, len(todo), batch):
            idx = todo[start:start + batch]
            x = torch.tensor([enc[i] for i in idx], device=lm.device)
            for _ in range(new_tokens):
                logits = (lm.hidden(x)[:, -1] @ lm.w["output.weight"].T).float() / temperature
                p, order = torch.softmax(logits, -1).sort(-1, descending=True)
                p[(p.cumsum(-1) - p) > top_p] = 0  # nucleus: the smallest head of the distribution holding top_p
                x = torch.cat([x, order.gather(-1, torch.multinomial(p, 1, generator=gen))], 1)
            for row, i in zip(x.tolist(), idx):
                new = row[1 + PROMPT_TOKENS:]
                stop = next((k for k, t in enumerate(new) if t in eos), len(new))
                out[i] = lm.tokenizer.decode(row[1:1 + PROMPT_TOKENS] + new[:stop])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=cd.DEFAULT_DATA, help="shared data folder (default: %(default)s)")
    p.add_argument("--output", default=OUTPUT)
    p.add_argument("--device", default="cuda", help="torch device (a CPU works, in hours)")
    p.add_argument("--temperature", type=float, default=0.5)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--batch", type=int, default=768)
    args = p.parse_args(argv)
    if not 0 < args.temperature <= 2 or not 0 < args.top_p <= 1:
        p.error(f"--temperature must be in (0, 2] and --top-p in (0, 1] (got {args.temperature}, {args.top_p})")
    import torch

    from filters import gemma_lm

    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    lm = gemma_lm.GemmaLM(gemma_lm.checked_path(sha256=gemma_lm.FILE_SHA256), dtype=dtype).to(args.device)
    humans = [r for r in cd.llm_rows(args.data) if r["label"] == 0]
    texts = sample(lm, [r["text"] for r in humans], args.new_tokens, args.temperature, args.top_p, args.seed,
                   args.batch)
    tmp = args.output + ".tmp"
    # no name and no time in the gzip header: the same samples give the same bytes
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
        for i, r in enumerate(humans):
            if i in texts:
                f.write((json.dumps({"text": texts[i], "group": r["group"], "domain": r["domain"],
                                     "generator": "gemma-3-270m", "temperature": args.temperature,
                                     "top_p": args.top_p, "seed": args.seed, "prompt_tokens": PROMPT_TOKENS},
                                    ensure_ascii=False) + "\n").encode())
    os.replace(tmp, args.output)
    print(f"wrote {len(texts)} samples of {len(humans)} human texts to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
