"""Encode documents fast, with ids identical to the HF tokenizer's.

HF ``encode_batch`` runs about 2.6 MB/s per core here; tiktoken's BPE core, loaded with the same
vocabulary and the same split regex, is several times faster (DESIGN.md). A trained byte-level BPE
converts exactly: each vocabulary entry becomes its bytes, its id becomes its rank, and since every
merge creates a token with a higher id than its parts, "lowest rank first" (tiktoken) and "earliest
merge first" (HF) choose the same merges. The tests and benchmarks/tokenize.py check identity on real
text. A tokenizer that is not a plain byte-level BPE (a normalizer, a different pre-tokenizer, byte
fallback) is encoded with HF itself: slower, never different.

Text is always encoded as ordinary text: a document containing the characters ``<|endoftext|>`` does
not produce the end token (on both backends), so no document can end another one early.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer

from tokenizer.train import EOT, eot_id, tokenizer_hash

# The split regex of HF's ByteLevel pre-tokenizer (use_regex=True), i.e. GPT-2's.
BYTE_LEVEL_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in character for each byte, inverted: char -> byte.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes are mapped, in byte order, to
    the code points 256, 257, ... so that every vocabulary entry is a printable string.
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    mapping: dict[str, int] = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            mapping[chr(256 + extra)] = b
            extra += 1
    return mapping


def tiktoken_problem(spec: dict) -> str | None:
    """Why a tokenizer JSON cannot be run by tiktoken with identical ids, or None when it can."""
    model = spec.get("model") or {}
    pre = spec.get("pre_tokenizer") or {}
    if model.get("type") != "BPE":
        return f"model type is {model.get('type')!r}, not 'BPE'"
    if spec.get("normalizer") is not None:
        return "it has a normalizer"
    if pre.get("type") != "ByteLevel" or not pre.get("use_regex", True) or pre.get("add_prefix_space"):
        return "its pre-tokenizer is not ByteLevel(add_prefix_space=False, use_regex=True)"
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            return f"its BPE model sets {key!r}"
    if model.get("byte_fallback"):
        return "its BPE model uses byte_fallback"
    return None


def _tiktoken_encoding(spec: dict, name: str):
    import tiktoken

    alphabet = byte_level_alphabet()
    special = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
    ranks: dict[bytes, int] = {}
    for token, tid in spec["model"]["vocab"].items():
        if token in special:
            continue
        try:
            ranks[bytes(alphabet[c] for c in token)] = tid
        except KeyError:
            return None, f"vocabulary entry {token!r} is not made of byte-level characters"
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        return None, f"{len(missing)} of the 256 single bytes are not in the vocabulary"
    return tiktoken.Encoding(name, pat_str=BYTE_LEVEL_PATTERN, mergeable_ranks=ranks, special_tokens=special), None


@dataclass
class Encoder:
    """A loaded tokenizer: its hash, vocabulary size, end token, shard dtype and a fast encode."""

    hf: Tokenizer
    eot: str = EOT
    backend: str = "auto"  # "auto" (tiktoken when exact, else hf), "tiktoken" (required), or "hf"
    threads: int = 1       # tiktoken threads per call; 1 = one core per Beam worker
    hash: str = field(init=False)
    vocab_size: int = field(init=False)
    eot_id: int = field(init=False)
    why_not_tiktoken: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "tiktoken", "hf"):
            raise ValueError(f"'backend' must be 'auto', 'tiktoken' or 'hf' (got {self.backend!r})")
        self.hf.encode_special_tokens = True  # literal "<|endoftext|>" in text is text, as in tiktoken
        self.hash = tokenizer_hash(self.hf)
        self.vocab_size = self.hf.get_vocab_size(with_added_tokens=True)
        self.eot_id = eot_id(self.hf, self.eot)
        self._tt = None
        if self.backend != "hf":
            spec = json.loads(self.hf.to_str())
            self.why_not_tiktoken = tiktoken_problem(spec)
            if self.why_not_tiktoken is None:
                self._tt, self.why_not_tiktoken = _tiktoken_encoding(spec, self.hash[:16])
            if self._tt is None and self.backend == "tiktoken":
                raise ValueError(f"backend 'tiktoken' cannot reproduce this tokenizer: {self.why_not_tiktoken}; "
                                 f"use backend 'hf'")
        self.backend = "tiktoken" if self._tt is not None else "hf"

    @property
    def dtype(self) -> np.dtype:
        """uint16 when every id fits (vocab <= 65536), else uint32: half the bytes for the common case."""
        return np.dtype(np.uint16) if self.vocab_size <= 1 << 16 else np.dtype(np.uint32)

    def encode(self, text: str) -> list[int]:
        if self._tt is not None:
            return self._tt.encode_ordinary(text)
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        if self._tt is not None:
            return self._tt.encode_ordinary_batch(list(texts), num_threads=self.threads)
        return [e.ids for e in self.hf.encode_batch(list(texts), add_special_tokens=False)]

    def encode_docs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All documents as one token stream, each followed by the end token; and each one's length.

        Returns (tokens[dtype], lengths[int64]) where lengths include the end token, so document i is
        ``tokens[offsets[i]:offsets[i+1]]`` with ``offsets = [0, *cumsum(lengths)]``.
        """
        if self._tt is not None and self.threads == 1:
            # Straight into numpy: no Python int list per document (the biggest cost after BPE itself).
            # Empty allowed and disallowed special sets = ordinary text, as encode_ordinary.
            arrays = [self._tt.encode_to_numpy(t, allowed_special=set(), disallowed_special=()) for t in texts]
        else:
            arrays = [np.asarray(x, dtype=np.uint32) for x in self.encode_batch(texts)]
        lengths = np.fromiter((len(a) + 1 for a in arrays), dtype=np.int64, count=len(arrays))
        ends = np.cumsum(lengths)
        out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=self.dtype)
        out[ends - 1] = self.eot_id
        for a, end in zip(arrays, ends.tolist()):
            out[end - 1 - len(a):end - 1] = a
        return out, lengths

    def decode(self, ids: Sequence[int]) -> str:
        return self.hf.decode(list(map(int, ids)), skip_special_tokens=False)


def load(path: str, eot: str = EOT, backend: str = "auto", threads: int = 1) -> Encoder:
    """Load a tokenizer JSON file (one we trained, or any HF ``tokenizer.json``)."""
    try:
        hf = Tokenizer.from_file(path)
    except Exception as e:  # tokenizers raises a bare Exception for unreadable or malformed files
        raise ValueError(f"--tokenizer {path!r} is not a readable HF tokenizer JSON file ({e}); "
                         f"train one with: gristmill tokenizer train --input DOCS --vocab-size N --output tok.json") from e
    return Encoder(hf, eot=eot, backend=backend, threads=threads)
