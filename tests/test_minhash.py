"""Signatures equal datasketch's, and the estimate of Jaccard similarity is as good as theory says."""
import math
import random
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from dedup import minhash
from dedup.minhash import MinHashConfig, MinHasher, estimated_jaccard, exact_jaccard, shingles

PARAS = (Path(__file__).parent / "fixtures" / "dedup_paragraphs.txt").read_text().splitlines()

TEXTS = [
    PARAS[0], PARAS[1] + "\n\n" + PARAS[2], "", "   ,,, !!! ", "two words", "Ünïcödé ﬁligree 東京 text here",
    PARAS[3].upper(), PARAS[4] * 3,
]


def datasketch_signature(shingle_list, num_perm, seed):
    m = MinHash(num_perm=num_perm, seed=seed)
    m.update_batch(shingle_list)
    return m.hashvalues


@pytest.mark.parametrize("num_perm,seed,ngram", [(128, 1, 5), (64, 42, 3), (256, 7, 1)])
def test_signatures_equal_datasketch(num_perm, seed, ngram):
    lists = [shingles(t, ngram) for t in TEXTS + PARAS[:40]]
    ours = MinHasher(MinHashConfig(ngram=ngram, num_perm=num_perm, seed=seed)).signatures(lists)
    assert ours.dtype == np.uint32 and ours.shape == (len(lists), num_perm)
    for row, sl in zip(ours, lists):
        np.testing.assert_array_equal(row, datasketch_signature(sl, num_perm, seed))
    bulk = MinHash.bulk(lists, num_perm=num_perm, seed=seed)
    np.testing.assert_array_equal(ours, np.stack([m.hashvalues for m in bulk]))


def test_chunking_does_not_change_signatures(monkeypatch):
    lists = [shingles(t, 5) for t in PARAS[:30]] + [[]] + [shingles(PARAS[31], 5)]
    whole = MinHasher().signatures(lists)
    monkeypatch.setattr(minhash, "_CHUNK_SHINGLES", 50)  # many chunks, documents larger than a chunk
    np.testing.assert_array_equal(MinHasher().signatures(lists), whole)


def test_empty_document_keeps_initial_values_like_datasketch():
    sig = MinHasher().signatures_of_texts(["", "... ---"])
    assert (sig == minhash.EMPTY).all()
    np.testing.assert_array_equal(sig[0], MinHash(num_perm=128).hashvalues)


def test_normalization_ignores_case_punctuation_and_spacing():
    a = "The quick, brown fox -- jumps over the LAZY dog."
    b = "the   quick brown fox jumps\nover the lazy dog"
    assert shingles(a, 3) == shingles(b, 3)
    assert shingles("short text", 5) == [b"short text"]
    assert shingles("", 5) == []


def test_estimated_jaccard_within_stated_tolerance():
    """|estimate - J| <= 4 standard deviations (sqrt(J(1-J)/num_perm)) per pair; mean error near 0."""
    rng = random.Random(3)
    words = " ".join(PARAS[:60]).split()
    hasher = MinHasher(MinHashConfig(ngram=1, num_perm=256))
    errors = []
    for _ in range(60):
        vocab = rng.sample(range(len(words)), 400)
        shared = rng.randint(20, 380)
        x = [f"w{i}".encode() for i in vocab[:shared + (400 - shared) // 2]]
        y = [f"w{i}".encode() for i in vocab[:shared] + vocab[shared + (400 - shared) // 2:]]
        true = exact_jaccard(x, y)
        sx, sy = hasher.signatures([x, y])
        est = estimated_jaccard(sx, sy)
        sd = math.sqrt(true * (1 - true) / 256)
        assert abs(est - true) <= 4 * sd + 1e-9, (true, est)
        errors.append(est - true)
    assert abs(sum(errors) / len(errors)) < 0.01  # unbiased


@pytest.mark.parametrize("kwargs,message", [
    ({"ngram": 0}, "'ngram' must be >= 1 (got 0)"),
    ({"num_perm": 0}, "'num_perm' must be in 1..4096 (got 0)"),
    ({"seed": -1}, "'seed' must be >= 0 (got -1)"),
])
def test_config_errors_name_field_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        MinHashConfig(**kwargs)
