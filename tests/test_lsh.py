"""Band choice, band keys, bucket stars, and precision/recall of LSH + verification vs exact Jaccard."""
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHashLSH

from dedup.lsh import band_keys, bucket_edges, candidate_probability, choose_bands, salt
from dedup.minhash import EMPTY, MinHashConfig, MinHasher, shingles
from dedup.planted import exact_pairs, lsh_pairs, planted_corpus, precision_recall

PARAS = (Path(__file__).parent / "fixtures" / "dedup_paragraphs.txt").read_text().splitlines()


@pytest.mark.parametrize("threshold,num_perm,weights", [(0.8, 128, (0.5, 0.5)), (0.8, 128, (0.3, 0.7)),
                                                        (0.5, 64, (0.5, 0.5)), (0.9, 256, (0.1, 0.9))])
def test_band_choice_equals_datasketch(threshold, num_perm, weights):
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    assert choose_bands(threshold, num_perm, *weights) == (lsh.b, lsh.r)


def test_s_curve_rises_steeply_around_threshold():
    b, r = choose_bands(0.8, 256, 0.1, 0.9)
    p = candidate_probability(np.array([0.5, 0.7, 0.8, 0.9, 0.95]), b, r)
    assert np.all(np.diff(p) > 0)
    assert p[0] < 0.02 and p[3] > 0.99 and 0.5 < p[2] < 0.95


def test_band_choice_errors_name_the_value():
    with pytest.raises(ValueError, match=r"'threshold' must be in \(0, 1\) \(got 1.5\)"):
        choose_bands(1.5, 128)


def test_band_keys_exact_and_one_per_band():
    sig = MinHasher(MinHashConfig(num_perm=64)).signatures_of_texts([PARAS[0]])[0]
    keys = band_keys(sig, 8, 8)
    assert len(keys) == 8 and len(set(keys)) == 8
    other = sig.copy()
    other[20] ^= 1  # one value in band 2 differs
    diff = [i for i, (a, b) in enumerate(zip(keys, band_keys(other, 8, 8))) if a != b]
    assert diff == [2]
    assert band_keys(np.full(64, EMPTY, dtype=np.uint32), 8, 8) == []
    with pytest.raises(ValueError, match="exceeds the signature length 64"):
        band_keys(sig, 9, 8)


def test_salt_is_stable_and_spreads():
    nodes = [(1, 0.0, f"id{i}", 0, i) for i in range(2000)]
    salts = [salt(n, 16) for n in nodes]
    assert salts == [salt(n, 16) for n in nodes]
    counts = np.bincount(salts, minlength=16)
    assert counts.min() > 80 and counts.max() < 170  # ~125 each: a hot bucket is split evenly


def test_bucket_edges_star_and_verified_centers():
    base = np.arange(100, dtype=np.uint32)
    near = base.copy(); near[:10] += 1000          # estimated Jaccard 0.9 with base
    far = base.copy(); far[:60] += 1000            # 0.4
    members = [("c", near), ("a", base), ("b", far), ("d", far.copy())]
    edges, centers, unlinked, _ = bucket_edges(members, None)
    assert sorted(edges) == [("b", "a"), ("c", "a"), ("d", "a")] and unlinked == 0
    edges, centers, unlinked, ambiguous = bucket_edges(members, 0.8)
    assert sorted(edges) == [("c", "a"), ("d", "b")]   # 'b' failed against 'a' and became a center
    assert [c for c, _ in centers] == ["a", "b"] and ambiguous == []
    edges, centers, unlinked, _ = bucket_edges(members, 0.8, max_centers=1)
    assert sorted(edges) == [("c", "a")] and unlinked == 2  # 'b' and 'd' counted, not linked
    # With a margin, 0.9 is no longer clear above 0.8 +- 0.15: 'c' is handed back for an exact check
    # and becomes a center itself; 0.4 is clearly below and is not.
    edges, centers, unlinked, ambiguous = bucket_edges(members, 0.8, margin=0.15)
    assert edges == [("d", "b")] and ambiguous == [("c", "a")]
    assert [c for c, _ in centers] == ["a", "b", "c"]


def test_precision_recall_vs_exact_jaccard_on_planted_near_duplicates():
    """LSH + estimated-Jaccard verification at the job's defaults finds the pairs with Jaccard >= 0.8."""
    docs = planted_corpus(PARAS, 700, seed=5, dup_rate=0.3)
    lists = [shingles(d["text"], 5) for d in docs]
    truth = exact_pairs(lists, 0.8)
    assert len(truth) > 100
    sigs = MinHasher(MinHashConfig(5, 256)).signatures(lists)
    b, r = choose_bands(0.8, 256, 0.1, 0.9)
    raw_p, raw_r = precision_recall(lsh_pairs(sigs, b, r, None), truth)
    p, r_ = precision_recall(lsh_pairs(sigs, b, r, 0.8), truth)
    assert raw_r >= 0.95
    assert p >= 0.9 and r_ >= 0.9, (p, r_)
    assert p > raw_p  # verification removes false candidates
