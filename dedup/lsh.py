"""LSH banding: which documents become candidate pairs, and how a bucket turns into edges.

The S-curve. A signature of ``bands * rows`` values is cut into ``bands`` bands of ``rows`` values; two
documents are candidates when any band is equal. With Jaccard similarity s the chance of that is

    P(s) = 1 - (1 - s**rows) ** bands

an S-shaped curve that rises steeply around s* ~= (1/bands) ** (1/rows). ``choose_bands`` picks the
(bands, rows) with bands * rows <= num_perm that minimise the weighted area of the two mistakes around
the target threshold t: false positives  FP = integral_0^t P(s) ds  and false negatives
FN = integral_t^1 (1 - P(s)) ds (the same criterion as datasketch's MinHashLSH). At t = 0.8 and 128
permutations with equal weights that is 9 bands x 13 rows: P(0.7) = 0.08, P(0.8) = 0.40, P(0.9) = 0.93.
gristmill's defaults (256 permutations, fp_weight 0.1, fn_weight 0.9 -> 23 x 11) favour recall:
P(0.6) = 0.08, P(0.7) = 0.37, P(0.8) = 0.87, P(0.9) = 1.00. A missed pair cannot be recovered later,
while a false candidate is removed by the estimated-Jaccard check (``threshold`` in ``bucket_edges``),
whose error (sd sqrt(J(1-J)/256) = 0.025 at J = 0.8) is what 256 rather than 128 permutations buys;
estimates within ``margin`` of the threshold are handed back to be decided by exact Jaccard.

Buckets to edges. A bucket (all documents with one band value) never becomes all its pairs: members
are linked to a center (star edges). With verification, a member joins the first center whose estimated
Jaccard reaches the threshold, else becomes a new center (greedy, at most ``max_centers``; members
beyond that stay unlinked and are counted). Hot buckets (thousands of copies of one boilerplate page)
are split by ``salt(node)`` into sub-buckets first; each sub-bucket's centers then meet again in a
second, much smaller group of the same band key (see pipelines/dedup.py), so no group holds a whole
hot bucket and the linked documents are the same as in one big star.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any, Iterable

import numpy as np
from scipy import integrate

from dedup.minhash import EMPTY, estimated_jaccard


def candidate_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """P(two documents with Jaccard ``s`` share at least one band): the S-curve."""
    return 1.0 - (1.0 - np.asarray(s, dtype=float) ** rows) ** bands


@lru_cache(maxsize=64)
def choose_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows), bands * rows <= num_perm, minimising fp_weight * FP + fn_weight * FN at ``threshold``."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"'threshold' must be in (0, 1) (got {threshold})")
    if fp_weight < 0 or fn_weight < 0 or fp_weight + fn_weight <= 0:
        raise ValueError(f"'fp_weight' and 'fn_weight' must be >= 0 and not both 0 (got {fp_weight}, {fn_weight})")
    best, best_err = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = integrate.quad(lambda s: candidate_probability(s, bands, rows), 0.0, threshold)[0]
            fn = integrate.quad(lambda s: 1.0 - candidate_probability(s, bands, rows), threshold, 1.0)[0]
            err = fp_weight * fp + fn_weight * fn
            if err < best_err:
                best, best_err = (bands, rows), err
    return best


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One key per band: band index (2 bytes) + the band's raw values. Equal key = equal band, exactly.

    A document without shingles (all values EMPTY) gets no key: empty texts are not near-duplicates.
    """
    if bands * rows > signature.shape[-1]:
        raise ValueError(f"bands x rows = {bands * rows} exceeds the signature length {signature.shape[-1]}")
    if np.all(signature == EMPTY):
        return []
    sig = np.ascontiguousarray(signature, dtype="<u4")
    return [i.to_bytes(2, "big") + sig[i * rows:(i + 1) * rows].tobytes() for i in range(bands)]


def salt(node: Any, fanout: int) -> int:
    """A stable sub-bucket number for a node (same on every worker and run; Python's hash() is not)."""
    return int.from_bytes(hashlib.blake2b(repr(node).encode(), digest_size=8).digest(), "big") % fanout


def bucket_edges(members: Iterable[tuple[Any, np.ndarray | None]], threshold: float | None,
                 max_centers: int = 16, margin: float = 0.0) -> tuple[list, list, int, list]:
    """Star edges of one (sub-)bucket: (edges, centers, unlinked, ambiguous).

    ``members`` are (node, signature) pairs; nodes are comparable and the smallest is the first center.
    Without ``threshold`` every member links to the smallest node (signatures may be None). With it,
    a member links to the first center with estimated Jaccard >= threshold + margin, else becomes a
    center itself while fewer than ``max_centers`` exist, else stays unlinked (counted, never silently
    lost: it is still kept as a document, only this bucket's evidence is not used). A (member, center)
    pair whose estimate lies within ``margin`` of the threshold is returned in ``ambiguous``, for the
    caller to decide by exact Jaccard. Edges are (member, center); the same node twice adds nothing.
    """
    ordered = sorted(members, key=lambda m: m[0])
    if not ordered:
        return [], [], 0, []
    if threshold is None:
        center = ordered[0]
        return [(n, center[0]) for n, _ in ordered[1:] if n != center[0]], [center], 0, []
    edges: list[tuple[Any, Any]] = []
    ambiguous: list[tuple[Any, Any]] = []
    centers: list[tuple[Any, np.ndarray]] = []
    unlinked = 0
    for node, sig in ordered:
        for c_node, c_sig in centers:
            if node == c_node:
                break
            est = estimated_jaccard(sig, c_sig)
            if est >= threshold + margin:
                edges.append((node, c_node))
                break
            if margin and est > threshold - margin:
                ambiguous.append((node, c_node))
        else:
            if len(centers) < max_centers:
                centers.append((node, sig))
            else:
                unlinked += 1
    return edges, centers, unlinked, ambiguous
