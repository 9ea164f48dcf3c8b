"""A small byte-level language model, trained here on the reference text, used as a feature source.

Why our own: no model hub is reachable from the build machines, and a detector of LLM text that only
looks at which words occur (a bag of n-grams) does not carry over to unseen generators. What does carry
over is how *predictable* a text is under a language model of human text (DetectGPT, Fast-DetectGPT:
Bao et al. 2024, "conditional probability curvature"). A one-layer GRU over bytes (vocabulary 256, so
the full next-byte distribution is cheap and the analytic curvature needs no sampling) is small enough
to commit (~0.8 MB as float16) and to run on a CPU.

Weights are stored as a plain ``.npz`` (loaded with ``allow_pickle=False``): nothing is unpickled.
"""
from __future__ import annotations

import os
import time

import numpy as np

HIDDEN = 256
EMBED = 64
MAX_BYTES = 1024  # score the first KiB of a document: enough for stable means, bounded cost


def _torch():
    import torch
    return torch


def build(hidden: int = HIDDEN, embed: int = EMBED):
    torch = _torch()
    nn = torch.nn

    class ByteGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(256, embed)          # byte -> vector
            self.gru = nn.GRU(embed, hidden, batch_first=True)
            self.out = nn.Linear(hidden, 256)            # state -> next-byte logits

        def forward(self, x):                            # x: (B, T) int64
            h, _ = self.gru(self.emb(x))                 # (B, T, H)
            return self.out(h)                           # (B, T, 256)

    return ByteGRU()


def save(model, path: str, meta: dict) -> None:
    arrays = {k: v.detach().cpu().numpy().astype(np.float16) for k, v in model.state_dict().items()}
    arrays["__meta__"] = np.frombuffer(repr(sorted(meta.items())).encode(), dtype=np.uint8)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load(path: str):
    torch = _torch()
    if not os.path.exists(path):
        raise FileNotFoundError(f"byte LM {path!r} does not exist; build it with "
                                f"'gristmill classifier train --kind lm'")
    with np.load(path, allow_pickle=False) as z:
        state = {k: torch.from_numpy(z[k].astype(np.float32)) for k in z.files if k != "__meta__"}
    hidden = state["gru.weight_hh_l0"].shape[1]
    embed = state["emb.weight"].shape[1]
    model = build(hidden, embed)
    model.load_state_dict(state)
    model.eval()
    return model


def normalize(text: str) -> str:
    """Whitespace collapsed to single spaces: line breaks are formatting, and in the shared LLM-text data
    they are an artifact (its human texts have none, 90% of its machine texts do), never evidence."""
    return " ".join(text.split())


def corpus_bytes(texts: list[str]) -> np.ndarray:
    return np.frombuffer(" ".join(texts).encode("utf-8", errors="replace"), dtype=np.uint8)


def train(texts: list[str], steps: int = 1500, batch: int = 32, seq: int = 256, lr: float = 3e-3,
          seed: int = 1, device: str = "cpu", log=print, init=None) -> tuple[object, dict]:
    """Next-byte training on random windows of the concatenated texts; returns (model, stats).

    ``init``: a model to fine-tune (its weights are copied, the argument is not modified).
    """
    torch = _torch()
    torch.manual_seed(seed)
    if device == "cpu":
        torch.set_num_threads(1)  # deterministic, and polite on shared machines
    data = corpus_bytes([normalize(t) for t in texts])
    rng = np.random.default_rng(seed)
    n_val = min(200_000, len(data) // 10)
    val, tr = data[-n_val:], data[:-n_val]
    model = build()
    if init is not None:
        model.load_state_dict(init.state_dict())
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    lossf = torch.nn.CrossEntropyLoss()
    t0 = time.time()
    for step in range(steps):
        starts = rng.integers(0, len(tr) - seq - 1, size=batch)
        win = np.stack([tr[s:s + seq + 1] for s in starts]).astype(np.int64)
        x = torch.from_numpy(win[:, :-1]).to(device)
        y = torch.from_numpy(win[:, 1:]).to(device)
        loss = lossf(model(x).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"lm step:{step} loss:{loss.item():.4f} bits_per_byte:{loss.item() / np.log(2):.3f} "
                f"s:{time.time() - t0:.0f}")
    model = model.cpu().eval()
    with torch.no_grad():
        v = torch.from_numpy(val[: (len(val) // (seq + 1)) * (seq + 1)].astype(np.int64)).reshape(-1, seq + 1)
        vl = lossf(model(v[:, :-1]).reshape(-1, 256), v[:, 1:].reshape(-1)).item()
    stats = {"steps": steps, "batch": batch, "seq": seq, "lr": lr, "seed": seed,
             "train_bytes": int(len(tr)), "val_bytes": int(len(val)),
             "val_bits_per_byte": round(vl / np.log(2), 4), "seconds": round(time.time() - t0, 1)}
    return model, stats


# Per-document statistics under one LM, in this order; with two LMs (human, machine) each gets its own set,
# prefixed h_/m_, plus the pair features PAIR_FEATURES. word_start_logp_mean: the mean log-probability of the
# bytes that open a word (where the LM must guess a new word; filters/word_stats.py's lm_word_logp_mean is the
# whole word's). It was named word_logp_mean until 2026-12-01, which made two features of the llm model's
# combiner.json share one name; the committed file was renamed with it (same position, same weight).
LM_FEATURES = ("logp_mean", "logp_std", "entropy_mean", "curvature", "rank1_frac", "logp_q10", "word_start_logp_mean")
PAIR_FEATURES = ("llr_mean", "llr_std", "binoculars")


def feature_names(n_models: int) -> list[str]:
    if n_models == 1:
        return ["lm_" + f for f in LM_FEATURES]
    return [p + f for p in ("h_", "m_") for f in LM_FEATURES] + list(PAIR_FEATURES)


def _stats(lp, ent, var, top1, prev):
    curv = (lp.sum() + ent.sum()) / np.sqrt(max(var.sum(), 1e-6))
    wi = lp[prev == 32]  # word-initial bytes: where the LM must guess a new word
    return [lp.mean(), lp.std(), ent.mean(), curv / np.sqrt(len(lp)), top1.mean(), np.quantile(lp, 0.1),
            wi.mean() if len(wi) else lp.mean()]


def encode(texts: list[str]) -> list[np.ndarray]:
    """What the LM scores of each text: a leading space, then the normalized text's first MAX_BYTES bytes."""
    return [np.frombuffer((" " + normalize(t)).encode("utf-8", errors="replace")[:MAX_BYTES], dtype=np.uint8)
            for t in texts]


def _batches(encoded: list[np.ndarray], batch: int):
    """(text indices, zero-padded int64 array [len(indices), max(T, 2)]) per batch, similar lengths together."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        x = np.zeros((len(idx), max(2, max(len(encoded[i]) for i in idx))), dtype=np.int64)
        for j, i in enumerate(idx):
            x[j, :len(encoded[i])] = encoded[i]
        yield idx, x


def _next_byte(model, xt):
    """The LM's view of each next byte of ``xt`` [B, T]: log-probs and probs [B, T-1, 256] (torch), and as
    numpy [B, T-1]: log p(actual byte), entropy, Var[log p] and whether the top guess was right."""
    torch = _torch()
    logp = torch.log_softmax(model(xt[:, :-1]).float(), dim=-1)
    p = logp.exp()
    tgt = xt[:, 1:]
    lp = logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    ent = -(p * logp).sum(-1)
    var = (p * logp * logp).sum(-1) - ent * ent
    top1 = logp.argmax(-1) == tgt
    return logp, p, lp.cpu().numpy(), ent.cpu().numpy(), var.cpu().numpy(), top1.cpu().numpy()


def features(models, texts: list[str], batch: int = 16) -> np.ndarray:
    """(n, len(feature_names(len(models)))) float64: predictability of each text's first MAX_BYTES bytes.

    curvature is Fast-DetectGPT's analytic score: (sum log p(x_t) - sum E[log p]) / sqrt(sum Var[log p]),
    divided by sqrt(n) so it does not grow with length: sampled text sits high under the LM family that
    produced it. With a (human, machine) pair: llr = log p_m - log p_h per byte, and Binoculars' ratio of
    the human LM's log-perplexity to the cross-entropy between the two LMs' predictions (Hans et al. 2024).
    """
    torch = _torch()
    if not isinstance(models, (list, tuple)):
        models = [models]
    out = np.zeros((len(texts), len(feature_names(len(models)))))
    encoded = encode(texts)
    device = next(models[0].parameters()).device
    with torch.inference_mode():
        for idx, x in _batches(encoded, batch):
            xt = torch.from_numpy(x).to(device)
            per_model = [_next_byte(model, xt) for model in models]
            xent = None
            if len(models) == 2:  # cross-entropy of the human LM's log-probs under the machine LM's distribution
                xent = -(per_model[1][1] * per_model[0][0]).sum(-1).cpu().numpy()  # (B, T-1)
            for j, i in enumerate(idx):
                n = len(encoded[i]) - 1  # predicted bytes of this text (the rest of the row is padding)
                if n < 1:
                    continue
                prev = x[j, :n]
                row = []
                for (_, _, lp, ent, var, top1) in per_model:
                    row += _stats(lp[j, :n], ent[j, :n], var[j, :n], top1[j, :n], prev)
                if xent is not None:
                    llr = per_model[1][2][j, :n] - per_model[0][2][j, :n]
                    row += [llr.mean(), llr.std(), -per_model[0][2][j, :n].mean() / max(xent[j, :n].mean(), 1e-6)]
                out[i] = row
    return out


def byte_scores(model, texts: list[str], batch: int = 16) -> list[tuple]:
    """Per text: (bytes, log p, entropy, Var[log p], top-1 hit), each array aligned with the bytes
    (entry k is for byte k given bytes < k; entry 0, which has no context, is 0)."""
    torch = _torch()
    encoded = encode(texts)
    out: list[tuple] = [None] * len(texts)  # type: ignore[list-item]
    device = next(model.parameters()).device
    with torch.inference_mode():
        for idx, x in _batches(encoded, batch):
            _, _, lp, ent, var, top1 = _next_byte(model, torch.from_numpy(x).to(device))
            for j, i in enumerate(idx):
                n = len(encoded[i])
                pad = lambda a: np.concatenate([np.zeros(1, a.dtype), a[j, :max(n - 1, 0)]])
                out[i] = (encoded[i], pad(lp), pad(ent), pad(var), pad(top1))
    return out


REF_FEATURES = tuple("lm_" + f for f in LM_FEATURES)


def ref_features(model, texts: list[str], batch: int = 16) -> np.ndarray:
    """(n, len(REF_FEATURES) + len(word_stats.FEATURES)): one LM's statistics of each text, then the
    word-level features comparing its in-context word probabilities with general-English frequencies."""
    from filters import word_stats

    rows = []
    for enc, lp, ent, var, top1 in byte_scores(model, texts, batch):
        if len(enc) < 3:
            rows.append(np.zeros(len(REF_FEATURES) + len(word_stats.FEATURES)))
            continue
        lm = _stats(lp[1:].astype(float), ent[1:].astype(float), var[1:].astype(float), top1[1:], enc[:-1])
        rows.append(np.concatenate([lm, word_stats.features(enc, lp, ent)]))
    return np.vstack(rows) if rows else np.zeros((0, len(REF_FEATURES) + len(word_stats.FEATURES)))
