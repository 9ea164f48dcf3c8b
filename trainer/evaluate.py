"""Held-out loss per shard group, on a fixed token budget, with a 95% CI and bits per byte.

Every run evaluates the same windows of each group's ``val`` split (``eval_windows`` is deterministic),
so two runs' per-sequence losses are paired and ``trainer.stats`` can bootstrap their difference. The CI
here is the normal interval over per-sequence mean losses: sequences are the independent units (tokens
within one sequence are correlated, so a per-token interval would be too narrow).

Bits per byte divides the summed loss (in bits) by the UTF-8 bytes the predicted tokens stand for, so
models with different tokenizers can be compared. For a byte-level BPE the bytes of every token are
known exactly from the tokenizer file (no decoding of partial UTF-8 sequences).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol

import numpy as np
import torch

Z95 = 1.959963984540054


class EvalSource(Protocol):
    def eval_windows(self, seq_len: int, max_tokens: int) -> Iterator[np.ndarray]: ...


@dataclass
class GroupEval:
    group: str
    seq_losses: list[float]  # mean loss (nats/token) of each evaluation sequence, in eval_windows order
    tokens: int  # predicted tokens evaluated
    bytes: int | None  # UTF-8 bytes those tokens stand for (None: no tokenizer to measure them)
    loss_sum: float = field(repr=False, default=0.0)  # summed nats over all predicted tokens

    @property
    def loss(self) -> float:
        return self.loss_sum / self.tokens if self.tokens else float("nan")

    @property
    def ci95(self) -> float:
        """Half-width of the 95% normal interval of the mean per-sequence loss."""
        n = len(self.seq_losses)
        if n < 2:
            return float("nan")
        return Z95 * float(np.std(self.seq_losses, ddof=1)) / math.sqrt(n)

    @property
    def bits_per_byte(self) -> float | None:
        if not self.bytes:
            return None
        return self.loss_sum / math.log(2) / self.bytes

    def to_dict(self) -> dict:
        return {"group": self.group, "loss": self.loss, "ci95": self.ci95, "sequences": len(self.seq_losses),
                "tokens": self.tokens, "bytes": self.bytes, "bits_per_byte": self.bits_per_byte,
                "seq_losses": [round(x, 6) for x in self.seq_losses]}


def _unicode_to_byte() -> dict[str, int]:
    """Inverse of the byte-level BPE alphabet: printable bytes map to themselves, the other 68 bytes to
    the code points 256, 257, ... in byte order (the convention GPT-2 introduced and HF ByteLevel follows)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[chr(b)] = b
        else:
            table[chr(256 + extra)] = b
            extra += 1
    return table


def token_byte_lengths(tokenizer_path: str, vocab_size: int) -> np.ndarray:
    """UTF-8 bytes each token id stands for (0 for special tokens and ids the tokenizer lacks).

    Works for byte-level BPE tokenizer JSON files (what ``gristmill tokenizer train`` writes); for any
    other tokenizer, falls back to decoding each id alone, which is exact for tokens that are whole
    characters."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    spec = json.loads(tok.to_str())
    special = {t["id"] for t in spec.get("added_tokens", []) if t.get("special")}
    byte_level = "ByteLevel" in json.dumps(spec.get("pre_tokenizer")) or "ByteLevel" in json.dumps(spec.get("decoder"))
    inv = _unicode_to_byte()
    out = np.zeros(vocab_size, dtype=np.int64)
    for i in range(min(vocab_size, tok.get_vocab_size(with_added_tokens=True))):
        if i in special:
            continue
        piece = tok.id_to_token(i)
        if piece is None:
            continue
        if byte_level and all(ch in inv for ch in piece):
            out[i] = len(piece)  # one alphabet character per byte
        else:
            out[i] = len(tok.decode([i], skip_special_tokens=True).encode("utf-8"))
    return out


def batches(windows: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    buf: list[np.ndarray] = []
    for w in windows:
        buf.append(np.asarray(w, dtype=np.int64))
        if len(buf) == batch_size:
            yield np.stack(buf)
            buf = []
    if buf:
        yield np.stack(buf)


@torch.no_grad()
def evaluate_group(model: torch.nn.Module, source: EvalSource, group: str, seq_len: int, max_tokens: int,
                   batch_size: int, device: torch.device, autocast_dtype: torch.dtype | None = None,
                   byte_lengths: np.ndarray | None = None) -> GroupEval:
    was_training = model.training
    model.eval()
    seq_losses: list[float] = []
    tokens = 0
    nbytes = 0
    loss_sum = 0.0
    try:
        for arr in batches(source.eval_windows(seq_len, max_tokens), batch_size):  # [b, T+1]
            xb = torch.from_numpy(arr).to(device)
            x, y = xb[:, :-1], xb[:, 1:]
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                per_tok = model(x, y, reduction="none")  # [b, T] nats
            per_tok = per_tok.double().cpu()
            seq_losses.extend(per_tok.mean(dim=1).tolist())
            loss_sum += float(per_tok.sum())
            tokens += y.numel()
            if byte_lengths is not None:
                nbytes += int(byte_lengths[arr[:, 1:]].sum())
    finally:
        model.train(was_training)
    if not seq_losses:
        raise ValueError(f"held-out group {group!r} gave no evaluation window of {seq_len + 1} tokens; "
                         f"it needs at least {seq_len + 1} held-out tokens (lower seq_len or add data)")
    return GroupEval(group, seq_losses, tokens, nbytes if byte_lengths is not None else None, loss_sum)


def evaluate(model: torch.nn.Module, sources: dict[str, EvalSource], seq_len: int, max_tokens: int,
             batch_size: int, device: torch.device, autocast_dtype: torch.dtype | None = None,
             byte_lengths: np.ndarray | None = None) -> dict[str, GroupEval]:
    return {g: evaluate_group(model, s, g, seq_len, max_tokens, batch_size, device, autocast_dtype, byte_lengths)
            for g, s in sorted(sources.items())}
