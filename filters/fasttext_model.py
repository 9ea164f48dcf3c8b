"""What the three classifiers share: text preparation, fastText training/prediction, model cards, metrics.

The same :func:`prepare` runs at training and at prediction time, so a model never sees text shaped
differently from what it was trained on. Training is single-threaded with a fixed seed: fastText is
only deterministic with ``thread=1`` (its Hogwild SGD races otherwise). Models are saved quantized
(``.ftz``) so the committed defaults stay small. A model travels with a JSON card (data files and their
sha256, parameters, held-out metrics) written next to it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import unicodedata
from typing import Iterable, Sequence

import numpy as np

# Words, or single non-space non-word characters: "Hello, world!" -> "hello , world !".
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_DIGITS = re.compile(r"\d")

# fastText defaults for our binary tasks; small dim and bucket keep models small and training fast.
DEFAULT_PARAMS = {
    "lr": 0.5, "epoch": 10, "wordNgrams": 2, "dim": 32, "minCount": 2, "bucket": 200_000,
    "minn": 0, "maxn": 0, "loss": "softmax", "thread": 1, "seed": 1,
}


def tokens(text: str, max_tokens: int = 1000) -> list[str]:
    """NFKC, lowercase, digits folded to 0, split into word/punctuation tokens; first ``max_tokens``."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DIGITS.sub("0", text)
    out = []
    for m in _TOKEN.finditer(text):
        out.append(m.group())
        if len(out) >= max_tokens:
            break
    return out


def collapse_repeats(text: str, max_repeats: int = 3, max_period: int = 4) -> str:
    """Cut runs of a repeated word or short word pattern ("ö ö ö ...", ") ] } ) ] } ...") to ``max_repeats``.

    Attackers pad with such runs to push the payload past a classifier's token window and to dilute
    per-word rates; no honest text needs more than a few repeats. Whitespace is normalized to single spaces.
    """
    words = text.split()
    # Word i is skipped when, for some period p, words[j] == words[j - p] for the p * (max_repeats - 1) + 1
    # positions j ending at i (and i >= p * max_repeats): run[p] counts how many such j end at i, so the
    # whole check is one pass (linear, not p * max_repeats comparisons per word).
    periods = range(1, max_period + 1)
    run = [0] * (max_period + 1)
    out: list[str] = []
    for i, w in enumerate(words):
        skip = False
        for p in periods:
            run[p] = run[p] + 1 if i >= p and words[i - p] == w else 0
            if i >= p * max_repeats and run[p] >= p * (max_repeats - 1) + 1:
                skip = True
        if not skip:
            out.append(w)
    return " ".join(out)


def prepare(text: str, max_tokens: int = 1000) -> str:
    """The one text preparation for fastText, identical at train and predict time (one line, no newline)."""
    return " ".join(tokens(text, max_tokens))


def train(texts: Sequence[str], labels: Sequence[int], params: dict | None = None, max_tokens: int = 1000,
          quantize: bool = True):
    """Train a binary fastText model (label 1 = positive class); returns the model.

    ``params`` overrides DEFAULT_PARAMS. Rows are written in the given order: shuffle deterministically
    before calling if the order carries the label.
    """
    import fasttext  # imported here: only training and model loading need it

    p = dict(DEFAULT_PARAMS)
    p.update(params or {})
    if p.get("thread") != 1:
        raise ValueError(f"'thread' must be 1 for a deterministic model (got {p.get('thread')})")
    if len(set(labels)) != 2:
        raise ValueError(f"'labels' must hold both classes 0 and 1 (got {sorted(set(labels))})")
    with tempfile.TemporaryDirectory(prefix="gristmill-ft-") as tmp:
        path = os.path.join(tmp, "train.txt")
        with open(path, "w", encoding="utf-8") as f:
            for t, y in zip(texts, labels):
                f.write(f"__label__{int(y)} {prepare(t, max_tokens)}\n")
        fasttext.FastText.eprint = lambda *a, **k: None  # silence its warning about load_model
        model = fasttext.train_supervised(input=path, verbose=0, **p)
        if quantize:
            # retrain=False keeps the learned weights; product quantization itself is seeded in fastText.
            model.quantize(input=path, qnorm=True, retrain=False, cutoff=50_000, thread=1, verbose=0)
    return model


def out_of_fold(texts: Sequence[str], labels: np.ndarray, groups: Sequence[str], params: dict | None = None,
                folds: int = 4) -> np.ndarray:
    """P(label 1) for every text from a model that did not train on its group (folds by a hash of the group),
    so a combiner fitted on top sees fastText as it behaves on unseen text."""
    fold = np.array([int(hashlib.sha1(g.encode()).hexdigest()[:8], 16) % folds for g in groups])
    oof = np.zeros(len(texts))
    for k in range(folds):
        tr, te = np.where(fold != k)[0], np.where(fold == k)[0]
        m = train([texts[i] for i in tr], labels[tr], params, quantize=False)
        oof[te] = predict(m, [texts[i] for i in te])
    return oof


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-row weights giving each of the two classes half the total weight."""
    pos = labels.mean()
    return np.where(labels == 1, 0.5 / pos, 0.5 / (1 - pos))


def load(path: str):
    import fasttext

    if not os.path.exists(path):
        raise FileNotFoundError(f"fastText model {path!r} does not exist; build it with "
                                f"'gristmill classifier train' (see README, 'Classifiers')")
    fasttext.FastText.eprint = lambda *a, **k: None
    return fasttext.load_model(path)


def predict(model, texts: Iterable[str], max_tokens: int = 1000) -> np.ndarray:
    """P(label 1) for each text, as float64."""
    prepared = [prepare(t, max_tokens) for t in texts]
    if not prepared:
        return np.zeros(0)
    labels, probs = model.predict(prepared, k=2)
    out = np.empty(len(prepared))
    for i, (ls, ps) in enumerate(zip(labels, probs)):
        p1 = 0.0
        for lab, p in zip(ls, ps):
            if lab == "__label__1":
                p1 = float(p)
            elif len(ls) == 1:  # only the other label came back: P(1) is its complement
                p1 = 1.0 - float(p)
        out[i] = min(max(p1, 0.0), 1.0)
    return out


# ---------------------------------------------------------------- metrics


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties count one half)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def threshold_at_fpr(scores: Sequence[float], labels: Sequence[int], fpr: float = 0.01) -> float:
    """The lowest threshold t such that at most ``fpr`` of negatives score strictly above t."""
    s = np.asarray(scores, dtype=float)
    neg = np.sort(s[np.asarray(labels) == 0])[::-1]
    if len(neg) == 0:
        return float("-inf")
    k = int(math.floor(fpr * len(neg)))
    return float(neg[min(k, len(neg) - 1)])


def recall_at_fpr(scores: Sequence[float], labels: Sequence[int], fpr: float = 0.01) -> float:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    if y.sum() == 0:
        return float("nan")
    t = threshold_at_fpr(s, y, fpr)
    return float((s[y == 1] > t).mean())


def metrics(scores: Sequence[float], labels: Sequence[int], threshold: float = 0.5) -> dict:
    """Held-out metrics for a card: n, precision/recall at ``threshold``, AUROC, recall at 1% FPR."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    pred = s >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    return {
        "n": int(len(y)), "n_pos": int(y.sum()), "threshold": threshold,
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        "auroc": round(auroc(s, y), 4),
        "recall_at_1pct_fpr": round(recall_at_fpr(s, y, 0.01), 4),
        "threshold_at_1pct_fpr": round(threshold_at_fpr(s, y, 0.01), 6),
    }


# ---------------------------------------------------------------- cards


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_files(paths: Iterable[str], root: str = "") -> list[dict]:
    """[{path, sha256}] for the card; ``paths`` relative to ``root`` (or to the repo, with the
    classifier_data.REPO_PREFIX), recorded as given."""
    from filters.classifier_data import path_of

    return [{"path": p, "sha256": file_sha256(path_of(p, root))} for p in sorted(set(paths))]


def save_card(path: str, card: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def load_card(path: str) -> dict:
    if not os.path.exists(path):
        raise FileNotFoundError(f"model card {path!r} does not exist; a model directory holds card.json "
                                f"written by 'gristmill classifier train'")
    with open(path, encoding="utf-8") as f:
        return json.load(f)
