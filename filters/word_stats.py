"""Word-level predictability features for the LLM-text detector: general-English word frequencies
against our byte LM's in-context word probabilities (Ghostbuster-style unigram features).

Why: language models prefer common words (measured on the shared data: every one of its six generators
writes words with a higher mean unigram log-probability and fewer rare words than the humans of the same
domain, davinci included), and how much *context* adds to a word's probability beyond its frequency
(the LM's word log-probability minus the unigram's) is a predictability measure that depends less on
the topic than either alone. Our own text (11 MB) is far too small for a good unigram model, so the
frequencies come from ``wordfreq`` (Speer et al., word frequencies aggregated from Wikipedia, subtitles,
news, books, web text and more; the English "large" list, 1e-8 resolution). Words it does not know get
probability 1e-9.
"""
from __future__ import annotations

import math
import re

import numpy as np

FEATURES = ("uni_logp_mean", "uni_logp_std", "uni_logp_q10", "rare_word_frac", "very_rare_word_frac",
            "lm_word_logp_mean", "ctx_gain_mean", "ctx_gain_std", "ctx_gain_q10", "ctx_gain_q90",
            "lm_uni_corr", "lm_uni_ratio", "lm_word_surprise_mean", "lm_word_surprise_std")
_WORD = re.compile(rb"[A-Za-z']+")
_UNKNOWN = math.log(1e-9)
_RARE, _VERY_RARE = math.log(1e-6), math.log(10 ** -7.5)  # Zipf 3 and 1.5
_cache: dict[str, float] = {}


def unigram_logp(word: str) -> float:
    """Natural-log probability of a lowercase English word under wordfreq (cached per process)."""
    v = _cache.get(word)
    if v is None:
        from wordfreq import word_frequency  # imported on first use: only the LLM detector needs it

        f = word_frequency(word, "en")
        v = math.log(f) if f > 0 else _UNKNOWN
        if len(_cache) > 500_000:  # bounded memory on a long-running worker
            _cache.clear()
        _cache[word] = v
    return v


def features(encoded: np.ndarray, lp: np.ndarray, ent: np.ndarray) -> np.ndarray:
    """FEATURES for one text, given its bytes and the LM's per-byte log-probability and entropy.

    ``lp[k]`` / ``ent[k]`` are for byte ``k`` given bytes ``< k`` (index 0 unused). A word's LM
    log-probability is the sum over its bytes and the delimiter after it (the LM must also predict that
    the word ends); words touching either end of the scored window are skipped.
    """
    raw = encoded.tobytes()
    lw, uw, ew = [], [], []
    for m in _WORD.finditer(raw):
        st, en = m.start(), m.end()
        if st == 0 or en >= len(raw):
            continue
        w = m.group().decode("ascii").lower().strip("'")
        if not w:
            continue
        lw.append(float(lp[st:en + 1].sum()))
        ew.append(float(ent[st:en + 1].sum()))
        uw.append(unigram_logp(w))
    if len(lw) < 2:
        return np.zeros(len(FEATURES))
    lw_a, uw_a, ew_a = np.array(lw), np.array(uw), np.array(ew)
    gain = lw_a - uw_a
    surprise = lw_a + ew_a  # observed minus expected log-probability, per word (curvature without scaling)
    corr = float(np.corrcoef(lw_a, uw_a)[0, 1]) if lw_a.std() > 0 and uw_a.std() > 0 else 0.0
    return np.array([
        uw_a.mean(), uw_a.std(), np.quantile(uw_a, 0.1), float(np.mean(uw_a < _RARE)),
        float(np.mean(uw_a < _VERY_RARE)), lw_a.mean(), gain.mean(), gain.std(), np.quantile(gain, 0.1),
        np.quantile(gain, 0.9), corr, lw_a.sum() / min(uw_a.sum(), -1e-6), surprise.mean(), surprise.std(),
    ])
