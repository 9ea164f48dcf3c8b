"""Make filters/data/llm_self_samples.jsonl.gz: machine text written by the detector's own scoring LMs from the LLM-text
training data's human texts, the machine text of the detector's second combiner (filters/llm_text.py: Blend).

    python3 filters/data/build_llm_self_samples.py --device cuda [--data ../shared/data] [--lm smollm2-chat|gemma]

Why: every machine text of the shared data is a 2020-22 base model's pure sample (temperature 1), about as surprising
as the model expects, while the text the detector is judged on comes from chat models, which decode at lower
temperature and answer as assistants. The only generators reachable here are the detector's own scoring LMs, and one
of them, SmolLM2-135M-Instruct, is a chat model. ``--lm smollm2-chat`` (the default since the twenty-first session)
writes as that assistant: its chat template with the default system turn, the user turn "Continue this text:" and the
human text's first 30 tokens (SmolLM2's tokenizer, after the same whitespace normalization as the features), and the
assistant's turn opening with those 30 tokens; 256 new tokens at temperature 0.7 and top-p 0.95, with the end tokens
banned for the first 200 (left free, the assistant ended most answers after ~35 words, shorter than any text the
detector is measured on, and that sample set read GPT-3.5/4 worse: RESULTS.md, twenty-first session); seed 5.
``--lm gemma`` gives the earlier set: Gemma-3-270M (a base model) continuing the same 30 tokens (its tokenizer) at
temperature 0.5, no template, seed 3. Each sample keeps its human source's ``group`` and ``domain``, so it stays on
its source's side of every split.

A GPU job: ~160 s on one H200 for the 1,530 texts (batch 768, bf16, no KV cache: each step reruns the whole prefix,
which at ~350 tokens is cheaper to write than a cache and fast enough); hours on a 2-core CPU. GPU sampling is not
bit-reproducible across GPUs and library versions, so the committed file is the record (its sha256 is in the llm
card's data files) and the tests never regenerate it. The committed file came from this code on an NVIDIA H200,
torch 2.11 (RESULTS.md, twenty-first session).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from filters import classifier_data as cd  # noqa: E402

PROMPT_TOKENS = 30
OUTPUT = os.path.join(ROOT, "filters", "data", "llm_self_samples.jsonl.gz")


# SmolLM2-Instruct's chat template around the prompt: its default system turn, then the user's request.
SYSTEM = "system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
REQUEST = "user\nContinue this text:\n\n"


class Writer(NamedTuple):
    """One ``--lm``: everything that differs between the two sample sets, in one place."""
    generator: str         # the samples' "generator" field
    temperature: float
    seed: int
    min_new: int           # end tokens banned for the first min_new new tokens
    chat: bool             # SmolLM2-Instruct's chat template around the prompt (else a plain continuation)
    ends: tuple[str, ...]  # the tokens that end a sample

    def load(self, dtype):
        from filters import gemma_lm, gguf_lm

        if self.chat:
            return gguf_lm.LlamaLM(gguf_lm.checked_path(sha256=gguf_lm.FILE_SHA256), dtype=dtype)
        return gemma_lm.GemmaLM(gemma_lm.checked_path(sha256=gemma_lm.FILE_SHA256), dtype=dtype)


WRITERS = {
    "smollm2-chat": Writer("smollm2-135m-instruct-chat", 0.7, 5, 200, True,
                           ("<|im_end|>", "<|im_start|>", "<|endoftext|>")),
    "gemma": Writer("gemma-3-270m", 0.5, 3, 0, False, ("<eos>", "<end_of_turn>")),
}


def prompts(lm, texts: list[str], chat: bool) -> dict[int, tuple[list[int], list[int]]]:
    """index -> (the model's input, the text's first PROMPT_TOKENS tokens) for texts at least that long (``lm.encode``:
    the features' whitespace normalization). ``chat``: the first tokens wrapped in SmolLM2-Instruct's template as the
    user's text and opening the assistant's answer; else [bos] + the first tokens (a plain continuation)."""
    if chat:
        tok = lm.tokenizer
        enc = lambda s: tok.encode(s, add_special_tokens=False).ids
        start, end = tok.token_to_id("<|im_start|>"), tok.token_to_id("<|im_end|>")
        head = [start] + enc(SYSTEM) + [end] + enc("\n") + [start] + enc(REQUEST)
        mid = [end] + enc("\n") + [start] + enc("assistant\n")
    out = {}
    for i, e in enumerate(lm.encode(texts, PROMPT_TOKENS)):  # [bos] + the first tokens
        if len(e) == PROMPT_TOKENS + 1:
            first = e[1:]
            out[i] = (head + first + mid + first if chat else e, first)
    return out


def sample(lm, texts: list[str], writer: Writer, new_tokens: int, top_p: float, batch: int) -> dict[int, str]:
    """index -> the text's first PROMPT_TOKENS tokens and up to ``new_tokens`` sampled ones, decoded (``prompts``; the
    writer's end tokens banned for its first ``min_new``). Texts shorter than the prompt are left out."""
    import torch

    eos = sorted({lm.tokenizer.token_to_id(t) for t in writer.ends} - {None})
    temperature, min_new = writer.temperature, writer.min_new
    todo = prompts(lm, texts, writer.chat)
    keys = sorted(todo)
    gen = torch.Generator(device=lm.device).manual_seed(writer.seed)
    out = {}
    with torch.inference_mode():
        for start in range(0, len(keys), batch):
            idx = keys[start:start + batch]
            x = torch.tensor([todo[i][0] for i in idx], device=lm.device)  # one length: the prompts are equal in size
            length = x.shape[1]
            for step in range(new_tokens):
                logits = (lm.hidden(x)[:, -1] @ lm.w["output.weight"].T).float() / temperature
                if step < min_new:
                    logits[:, eos] = -float("inf")
                p, order = torch.softmax(logits, -1).sort(-1, descending=True)
                p[(p.cumsum(-1) - p) > top_p] = 0  # nucleus: the smallest head of the distribution holding top_p
                x = torch.cat([x, order.gather(-1, torch.multinomial(p, 1, generator=gen))], 1)
            for row, i in zip(x.tolist(), idx):
                new = row[length:]
                stop = next((k for k, t in enumerate(new) if t in eos), len(new))
                out[i] = lm.tokenizer.decode(todo[i][1] + new[:stop])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=cd.DEFAULT_DATA, help="shared data folder (default: %(default)s)")
    p.add_argument("--output", default=OUTPUT)
    p.add_argument("--device", default="cuda", help="torch device (a CPU works, in hours)")
    p.add_argument("--lm", choices=sorted(WRITERS), default="smollm2-chat",
                   help="which scoring LM writes (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=None, help="default: the --lm's (smollm2-chat 0.7, gemma 0.5)")
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--seed", type=int, default=None, help="default: the --lm's (smollm2-chat 5, gemma 3)")
    p.add_argument("--batch", type=int, default=768)
    args = p.parse_args(argv)
    writer = WRITERS[args.lm]
    writer = writer._replace(temperature=writer.temperature if args.temperature is None else args.temperature,
                             seed=writer.seed if args.seed is None else args.seed)
    if not 0 < writer.temperature <= 2 or not 0 < args.top_p <= 1:
        p.error(f"--temperature must be in (0, 2] and --top-p in (0, 1] (got {writer.temperature}, {args.top_p})")
    import torch

    lm = writer.load(torch.bfloat16 if args.device.startswith("cuda") else torch.float32).to(args.device)
    humans = [r for r in cd.llm_rows(args.data) if r["label"] == 0]
    texts = sample(lm, [r["text"] for r in humans], writer, args.new_tokens, args.top_p, args.batch)
    tmp = args.output + ".tmp"
    # no name and no time in the gzip header: the same samples give the same bytes
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
        for i, r in enumerate(humans):
            if i in texts:
                f.write((json.dumps({"text": texts[i], "group": r["group"], "domain": r["domain"],
                                     "generator": writer.generator, "temperature": writer.temperature,
                                     "top_p": args.top_p, "seed": writer.seed, "prompt_tokens": PROMPT_TOKENS,
                                     "min_new_tokens": writer.min_new},
                                    ensure_ascii=False) + "\n").encode())
    os.replace(tmp, args.output)
    print(f"wrote {len(texts)} samples of {len(humans)} human texts to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
