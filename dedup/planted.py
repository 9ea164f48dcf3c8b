"""Document sets with planted near-duplicates, for tests, benchmarks and checking a threshold on your data.

Originals are runs of consecutive paragraphs of real text; a share of documents are variants of an
earlier original made with the edits that web near-duplicates show: word edits (substitutions,
deletions, insertions), an inserted paragraph, reordered paragraphs, a dropped last paragraph, and
shared boilerplate (headers/footers that also land on unrelated documents). Nothing here decides what
counts as a duplicate: the truth for precision/recall is the exact Jaccard of shingle sets, computed
by the caller. Deterministic for a seed.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

_WIKI_TOKENS = [(" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."), (" <unk> ", " "), (" , ", ", "), (" . ", ". ")]


def _split_blank(text: str, min_words: int) -> list[str]:
    paras = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    out = [" ".join(p.split()) for p in paras]
    return [p for p in out if len(p.split()) >= min_words]


def reference_paragraphs(root: str | Path, min_words: int = 25) -> list[str]:
    """Paragraphs of the reference corpus (gutenberg/, wikitext-2/, us_speeches/), in a fixed order."""
    root = Path(root)
    paras: list[str] = []
    for path in sorted((root / "gutenberg").glob("*.txt")):
        paras += _split_blank(path.read_bytes().decode("utf-8", errors="replace"), min_words)
    for path in sorted((root / "wikitext-2").glob("*.txt")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip().startswith("="):
                continue
            line = f" {line.strip()} "
            for a, b in _WIKI_TOKENS:
                line = line.replace(a, b)
            if len(line.split()) >= min_words:
                paras.append(" ".join(line.split()))
    speeches = root / "us_speeches" / "speeches.jsonl"
    if speeches.exists():
        for line in speeches.read_text(encoding="utf-8").splitlines():
            paras += _split_blank(json.loads(line)["text"], min_words)
    return paras


def _boilerplate(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(30, 60))) for _ in range(n)]


def _edit_words(rng: random.Random, text: str, rate: float, vocab: list[str]) -> str:
    words = text.split()
    out: list[str] = []
    for w in words:
        r = rng.random()
        if r < rate / 3:
            continue                          # deletion
        if r < 2 * rate / 3:
            out.append(rng.choice(vocab))     # substitution
            continue
        out.append(w)
        if r < rate:
            out.append(rng.choice(vocab))     # insertion
    return " ".join(out)


def planted_corpus(paragraphs: list[str], n_docs: int, seed: int = 0, dup_rate: float = 0.3,
                   boilerplate_rate: float = 0.15, hot_copies: int = 0, max_edit: float = 0.08) -> list[dict]:
    """``n_docs`` documents {id, text, quality_score, origin, kind}; ``origin`` is the original's index.

    ``dup_rate``: share of documents that are variants of an earlier one; ``boilerplate_rate``: share
    of originals given a shared header/footer; ``hot_copies``: extra identical copies of one boilerplate
    page (a hot LSH bucket); ``max_edit``: largest share of words edited in a variant.
    """
    if not paragraphs:
        raise ValueError("'paragraphs' must not be empty (got no paragraph to build documents from)")
    rng = random.Random(seed)
    vocab = sorted({w for p in paragraphs[:2000] for w in p.split()})
    footers = _boilerplate(rng, vocab, 20)
    docs: list[dict] = []
    originals: list[list[str]] = []
    cursor = rng.randrange(len(paragraphs))

    def add(paras: list[str], origin: int, kind: str) -> None:
        i = len(docs)
        docs.append({"id": hashlib.sha1(f"{seed}-{i}".encode()).hexdigest(), "text": "\n\n".join(paras),
                     "quality_score": round(rng.random(), 4), "origin": origin, "kind": kind})

    while len(docs) < n_docs - hot_copies:
        if originals and rng.random() < dup_rate:
            origin = rng.randrange(len(originals))
            paras = list(originals[origin])
            kinds = rng.sample(["edit", "insert", "reorder", "truncate", "boilerplate"], rng.randint(1, 2))
            for kind in kinds:
                if kind == "edit":
                    rate = rng.uniform(0.005, max_edit)
                    paras = [_edit_words(rng, p, rate, vocab) for p in paras]
                elif kind == "insert":
                    paras.insert(rng.randint(0, len(paras)), paragraphs[rng.randrange(len(paragraphs))])
                elif kind == "reorder":
                    rng.shuffle(paras)
                elif kind == "truncate" and len(paras) > 2:
                    paras = paras[:-1]
                elif kind == "boilerplate":
                    paras = [rng.choice(footers)] + paras + [rng.choice(footers)]
            add(paras, origin, "+".join(kinds))
        else:
            k = rng.randint(2, 8)
            if cursor + k > len(paragraphs):
                cursor = rng.randrange(len(paragraphs) // 2)
            paras = paragraphs[cursor:cursor + k]
            cursor += k
            originals.append(list(paras))
            if rng.random() < boilerplate_rate:
                paras = paras + [rng.choice(footers)]
            add(paras, len(originals) - 1, "original")
    page = " ".join(footers[:3])
    for _ in range(hot_copies):
        add([page], -1, "hot")
    return docs


# ---------------------------------------------------------------- truth and scores for pairs

def exact_pairs(shingle_lists: list[list[bytes]], threshold: float) -> set[tuple[int, int]]:
    """All pairs (i < j) whose shingle sets have Jaccard >= threshold, exactly (sparse X @ X.T).

    Shingles are keyed by Python's 64-bit hash within this process: a collision would need two
    distinct shingles of the corpus to collide in 64 bits.
    """
    import numpy as np
    from scipy import sparse

    rows, cols = [], []
    for i, sl in enumerate(shingle_lists):
        hs = {hash(s) for s in sl}
        rows.append(np.full(len(hs), i, dtype=np.int64))
        cols.append(np.fromiter(hs, dtype=np.int64, count=len(hs)))
    r, c = np.concatenate(rows), np.concatenate(cols)
    _, c = np.unique(c, return_inverse=True)
    x = sparse.csr_matrix((np.ones(len(r), dtype=np.int32), (r, c)), shape=(len(shingle_lists), c.max() + 1))
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = sparse.triu(x @ x.T, k=1).tocoo()
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jac >= threshold
    return set(zip(inter.row[keep].tolist(), inter.col[keep].tolist()))


def lsh_pairs(signatures, bands: int, rows: int, verify: float | None) -> set[tuple[int, int]]:
    """All pairs (i < j) sharing an LSH band (every pair of each bucket: for evaluation, not for jobs),
    kept only if their estimated Jaccard >= ``verify`` when given."""
    import numpy as np

    from dedup.lsh import band_keys

    buckets: dict[bytes, list[int]] = {}
    for i, sig in enumerate(signatures):
        for key in band_keys(sig, bands, rows):
            buckets.setdefault(key, []).append(i)
    pairs = {(a, b) for members in buckets.values() for k, a in enumerate(members) for b in members[k + 1:]}
    if verify is None:
        return pairs
    return {(a, b) for a, b in pairs if np.count_nonzero(signatures[a] == signatures[b]) / signatures.shape[1] >= verify}


def precision_recall(found: set, truth: set) -> tuple[float, float]:
    hit = len(found & truth)
    return (hit / len(found) if found else 1.0), (hit / len(truth) if truth else 1.0)
