"""MinHash signatures over word n-gram shingles, bit-identical to datasketch 2.x, computed in bulk.

Why not call datasketch per document: ``MinHash.bulk`` copies a MinHash object, builds a small numpy
array, pre-mixes and permutes it for every document; on web-sized documents that per-document overhead
costs about as much as the hashing itself (see benchmarks/dedup.py). Here the shingles of a whole
batch of documents are hashed in one pass and the permutation and the per-document minimum run as a
few large numpy operations (``np.minimum.reduceat`` over document segments). The arithmetic is
datasketch's default scheme ("affine32", datasketch >= 2.0) step for step:

  h   = first 4 bytes of sha1(shingle), little endian   (datasketch.hashfunc.sha1_hash32)
  h   = fmix32(h)                                        (MurmurHash3 finalizer, a bijection)
  phv = a_k * h + b_k  mod 2**32                         (a_k odd, from datasketch's own RandomState)
  sig = min over shingles of phv, per permutation k

The permutation parameters are taken from ``datasketch.MinHash(num_perm, seed)`` itself, and
tests/test_minhash.py checks that signatures equal datasketch's, so a signature computed here can be
loaded into ``datasketch.MinHash(hashvalues=..., scheme="affine32")`` and compared with any other.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Sequence

import numpy as np

EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial value: a document with no shingle keeps it everywhere

_WORD = re.compile(r"\w+")
# Permute this many shingles at a time: the (num_perm x shingles) uint32 block (4 MB at 128
# permutations) stays in cache; larger blocks measured slower.
_CHUNK_SHINGLES = 1 << 13


@dataclass(frozen=True)
class MinHashConfig:
    ngram: int = 5        # words per shingle; 5-grams as in Gopher / FineWeb dedup
    num_perm: int = 128   # permutations = signature length; estimate std is sqrt(J(1-J)/num_perm)
    seed: int = 1         # datasketch's default seed, so signatures match MinHash() out of the box

    def __post_init__(self) -> None:
        if self.ngram < 1:
            raise ValueError(f"'ngram' must be >= 1 (got {self.ngram})")
        if not 1 <= self.num_perm <= 4096:
            raise ValueError(f"'num_perm' must be in 1..4096 (got {self.num_perm})")
        if self.seed < 0:
            raise ValueError(f"'seed' must be >= 0 (got {self.seed})")


def normalize_words(text: str) -> list[str]:
    """NFKC, lower case, words of letters/digits only: punctuation and spacing changes do not count."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def shingles(text: str, ngram: int) -> list[bytes]:
    """Word n-grams of the normalized text as UTF-8 bytes (the input datasketch's sha1 hash expects).

    A text shorter than ``ngram`` words is one shingle of all its words; a text with no word has none.
    Repeated shingles are kept: the minimum does not change, and building a set would cost more than
    hashing the few repeats.
    """
    words = normalize_words(text)
    if len(words) <= ngram:
        return [" ".join(words).encode()] if words else []
    return [s.encode() for s in map(" ".join, zip(*[words[i:] for i in range(ngram)]))]


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own (a, b) affine32 parameters for this seed (odd ``a``), as uint32 arrays."""
    from datasketch import MinHash  # imported here: only the parameters are needed, once per worker

    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch pre-mixes every input hash with it)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _sha1_32(items: Iterable[bytes]) -> np.ndarray:
    """First 4 bytes of sha1 of each item, little endian: datasketch.hashfunc.sha1_hash32, in bulk.

    Whole digests are joined and strided afterwards: slicing each digest in Python costs more.
    """
    digests = b"".join([h.digest() for h in map(hashlib.sha1, items)])
    return np.frombuffer(digests, dtype="<u4")[::5].astype(np.uint32)


def shingle_hashes(items: Sequence[bytes]) -> np.ndarray:
    """datasketch's 32-bit sha1 hash of each shingle (before the pre-mix), as uint32."""
    return _sha1_32(items) if len(items) else np.zeros(0, dtype=np.uint32)


class MinHasher:
    """Computes signatures for batches of shingle lists; build once per worker (holds the parameters)."""

    def __init__(self, config: MinHashConfig = MinHashConfig()) -> None:
        self.config = config
        a, b = permutations(config.num_perm, config.seed)
        self._a = a[:, None]  # (num_perm, 1)
        self._b = b[:, None]

    def signatures(self, shingle_lists: Sequence[Sequence[bytes]]) -> np.ndarray:
        """(documents, num_perm) uint32: row i equals datasketch's ``MinHash`` over ``shingle_lists[i]``."""
        n = len(shingle_lists)
        out = np.full((self.config.num_perm, n), EMPTY, dtype=np.uint32)
        start = 0
        while start < n:
            # Take whole documents until the chunk holds about _CHUNK_SHINGLES shingles.
            stop, total = start, 0
            while stop < n and (total == 0 or total + len(shingle_lists[stop]) <= _CHUNK_SHINGLES):
                total += len(shingle_lists[stop])
                stop += 1
            self._fill(shingle_lists[start:stop], out[:, start:stop])
            start = stop
        return np.ascontiguousarray(out.T)

    def _fill(self, docs: Sequence[Sequence[bytes]], out: np.ndarray) -> None:
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        nonempty = np.flatnonzero(lengths)
        if not len(nonempty):
            return
        hashes = _fmix32(_sha1_32(chain.from_iterable(docs)))
        # (num_perm, shingles): permutations along rows, so the per-document minimum below runs over
        # contiguous memory; measured 4-5x faster than the (shingles, num_perm) layout datasketch uses.
        with np.errstate(over="ignore"):  # uint32 wrap-around is the intended mod 2**32
            phv = self._a * hashes[None, :]
            phv += self._b
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        # reduceat over the starts of non-empty documents only: an empty segment would return a value.
        out[:, nonempty] = np.minimum.reduceat(phv, offsets[nonempty], axis=1)

    def signatures_of_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.signatures([shingles(t, self.config.ngram) for t in texts])


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of equal signature positions: an unbiased estimate of the Jaccard similarity."""
    if a.shape != b.shape:
        raise ValueError(f"signatures differ in length ({a.shape} vs {b.shape}): same num_perm needed")
    return float(np.count_nonzero(a == b)) / a.shape[-1]


def exact_jaccard(x: Iterable[bytes], y: Iterable[bytes]) -> float:
    """Jaccard similarity of two shingle sets (0.0 for two empty sets: nothing to call a duplicate)."""
    sx, sy = set(x), set(y)
    union = len(sx | sy)
    return len(sx & sy) / union if union else 0.0
