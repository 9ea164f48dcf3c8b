"""DCLM-style quality score: how much a document reads like clean, edited reference text.

A fastText classifier, positives = the reference corpus (books, Wikipedia articles, speeches),
negatives = main text that trafilatura extracts from web pages. Score column ``quality_score`` =
P(reference-like). Filter by ``threshold``, or by ``keep_top_fraction``: keep documents scoring in the
top fraction of *web text as the model saw it at training time* (the card stores the quantiles of
held-out web-page scores), which is DCLM's "keep the top 10%" expressed per document so that it needs
no global pass. Reason ``quality.below_threshold``.
"""
from __future__ import annotations

import os

import numpy as np

from filters import fasttext_model as ftm
from filters.options import number
from filters.verdict import drop, keep

STAGE = "quality"
REASONS = {"quality.below_threshold": "quality_score below the threshold or outside keep_top_fraction (score-only by default)"}
COLUMNS = {"quality_score": "float"}
DEFAULT_MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "quality")
# Score-only by default: the right cut depends on the data mix, which `gristmill ablate` measures.
DEFAULT_CONFIG = {"model": DEFAULT_MODEL_DIR, "threshold": 0.5, "keep_top_fraction": None, "enforce": False}


def threshold_for(config: dict, card: dict) -> float:
    frac = config.get("keep_top_fraction")
    if frac is None:
        return float(number(config, "threshold", DEFAULT_CONFIG["threshold"], 0.0, 1.0, stage="quality"))
    frac = float(frac)
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"'quality.keep_top_fraction' must be in (0, 1] (got {frac})")
    q = card.get("web_score_quantiles")
    if not q:
        raise ValueError("'quality.keep_top_fraction' needs a model card with 'web_score_quantiles'; "
                         "retrain with 'gristmill classifier train --kind quality'")
    # quantiles are at 0%, 1%, ..., 100%: keep the top `frac` -> cut at the (1 - frac) quantile
    return float(np.interp(1.0 - frac, np.linspace(0, 1, len(q)), q))


def stage(config: dict):
    from pipelines.stages import Stage

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    card = ftm.load_card(os.path.join(cfg["model"], "card.json"))
    thr = threshold_for(cfg, card)
    model = ftm.load(os.path.join(cfg["model"], "fasttext.ftz"))

    def fn(doc: dict):
        s = float(ftm.predict(model, [doc.get("text") or ""])[0])
        return keep(quality_score=s) if s >= thr else drop("quality.below_threshold", quality_score=s)

    return Stage(STAGE, fn, dict(COLUMNS), enforce=bool(cfg["enforce"]))


class Scorer:
    """Batch scoring for `gristmill score --kind quality`."""

    def __init__(self, model_dir: str = DEFAULT_MODEL_DIR):
        self.model = ftm.load(os.path.join(model_dir, "fasttext.ftz"))

    def score(self, texts: list[str]) -> np.ndarray:
        return ftm.predict(self.model, texts)
