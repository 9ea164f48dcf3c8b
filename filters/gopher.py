"""Gopher quality and repetition filters (Rae et al. 2021, "Scaling Language Models: Methods, Analysis
& Insights from Training Gopher", Appendix A.1.1 "quality filters" and A.1.2 / Table A1 "repetition").

Two stages, one module: ``quality_stage`` (document length, word shape, symbols, stop words) and
``repetition_stage`` (duplicated lines/paragraphs, dominant and repeated n-grams). Every rule has its
own reason code and signal column, and the thresholds below are the paper's unless a config key
overrides them. Words and lines come from :mod:`filters.text_stats`, computed once per text.

The rules were made for English (MassiveWeb): the stop-word rule drops any text without two English
stop words and word lengths mean little in scripts written without spaces.
"""
from __future__ import annotations

from filters import options
from filters.text_stats import BULLETS, ELLIPSES, duplicates, ngram_repetition, stats
from filters.verdict import Verdict, drop, keep
from pipelines.stages import Stage

# A.1.1: "does not contain at least two of the following English words: the, be, to, of, and, that,
# have, with".
STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])

QUALITY_DEFAULTS = {
    "min_words": 50,              # A.1.1: "fewer than 50 or greater than 100,000 words"
    "max_words": 100_000,
    "min_mean_word_length": 3,    # "mean word length is outside the range of 3 to 10 characters"
    "max_mean_word_length": 10,
    "max_symbol_word_ratio": 0.1,  # "symbol-to-word ratio greater than 0.1 for either the hash symbol or the ellipsis"
    "max_bullet_lines_ratio": 0.9,  # "more than 90% of lines starting with a bullet point"
    "max_ellipsis_lines_ratio": 0.3,  # "more than 30% ending with an ellipsis"
    "min_alpha_words_ratio": 0.8,  # "80% of words in a document contain at least one alphabetic character"
    "min_stop_words": 2,          # "at least two of the following English words"
}

# Table A1: fractions above these remove the document.
REPETITION_DEFAULTS = {
    "max_dup_line_ratio": 0.30,        # duplicate line fraction
    "max_dup_para_ratio": 0.30,        # duplicate paragraph fraction
    "max_dup_line_char_ratio": 0.20,   # duplicate line character fraction
    "max_dup_para_char_ratio": 0.20,   # duplicate paragraph character fraction
    "max_top_2gram_ratio": 0.20,       # top 2-gram character fraction
    "max_top_3gram_ratio": 0.18,
    "max_top_4gram_ratio": 0.16,
    "max_dup_5gram_ratio": 0.15,       # duplicate 5-gram character fraction
    "max_dup_6gram_ratio": 0.14,
    "max_dup_7gram_ratio": 0.13,
    "max_dup_8gram_ratio": 0.12,
    "max_dup_9gram_ratio": 0.11,
    "max_dup_10gram_ratio": 0.10,
}
TOP_NS = (2, 3, 4)
DUP_NS = (5, 6, 7, 8, 9, 10)

REASONS = {
    "gopher.too_short": "fewer words than min_words (50)",
    "gopher.too_long": "more words than max_words (100,000)",
    "gopher.word_length": "mean word length outside [3, 10] characters",
    "gopher.symbols": "'#' or ellipsis per word above 0.1",
    "gopher.bullet_lines": "more than 90% of lines start with a bullet",
    "gopher.ellipsis_lines": "more than 30% of lines end with an ellipsis",
    "gopher.few_alpha_words": "fewer than 80% of words contain a letter",
    "gopher.few_stop_words": "fewer than 2 of the English stop words the/be/to/of/and/that/have/with",
    "gopher.dup_lines": "more than 30% of lines repeat an earlier line",
    "gopher.dup_paragraphs": "more than 30% of paragraphs repeat an earlier paragraph",
    "gopher.dup_line_chars": "more than 20% of characters are in repeated lines",
    "gopher.dup_paragraph_chars": "more than 20% of characters are in repeated paragraphs",
    **{f"gopher.top_{n}gram": f"the most frequent {n}-gram covers more than "
       f"{REPETITION_DEFAULTS[f'max_top_{n}gram_ratio']:.0%} of characters" for n in TOP_NS},
    **{f"gopher.dup_{n}gram": f"repeated {n}-grams cover more than "
       f"{REPETITION_DEFAULTS[f'max_dup_{n}gram_ratio']:.0%} of characters" for n in DUP_NS},
}

QUALITY_COLUMNS = {
    "gopher_words": "int",
    "gopher_mean_word_length": "float",
    "gopher_symbol_word_ratio": "float",
    "gopher_bullet_lines_ratio": "float",
    "gopher_ellipsis_lines_ratio": "float",
    "gopher_alpha_words_ratio": "float",
    "gopher_stop_words": "int",
}
REPETITION_COLUMNS = {
    "gopher_dup_line_ratio": "float",
    "gopher_dup_para_ratio": "float",
    "gopher_dup_line_char_ratio": "float",
    "gopher_dup_para_char_ratio": "float",
    **{f"gopher_top_{n}gram_ratio": "float" for n in TOP_NS},
    **{f"gopher_dup_{n}gram_ratio": "float" for n in DUP_NS},
}
COLUMNS = {**QUALITY_COLUMNS, **REPETITION_COLUMNS}


def _config(config: dict | None, defaults: dict, stage: str) -> dict:
    config = config or {}
    options.no_unknown(config, set(defaults), stage)
    return {k: options.number(config, k, d, lo=0, integer=isinstance(d, int) and k.endswith("words"))
            for k, d in defaults.items()}


def quality(text: str, cfg: dict = QUALITY_DEFAULTS) -> Verdict:
    """Gopher quality rules on ``text``; the first failing rule (in the paper's order) is the reason."""
    st = stats(text)
    words = st.words
    n = len(words)
    lines = st.lines
    n_lines = len(lines) or 1
    hashes = text.count("#")
    ellipses = text.count("...") + text.count("…")
    # Measured fastest (faster than regexes over the text): most words are all letters, so the
    # inner loop runs for few words; lower() and the set test run in C through map().
    no_alpha = 0
    for w in words:
        if not w.isalpha():
            for c in w:
                if c.isalpha():
                    break
            else:
                no_alpha += 1
    alpha = n - no_alpha
    stop = sum(map(STOP_WORDS.__contains__, map(str.lower, words)))
    signals = {
        "gopher_words": n,
        "gopher_mean_word_length": st.word_chars / n if n else 0.0,
        "gopher_symbol_word_ratio": max(hashes, ellipses) / n if n else 0.0,
        "gopher_bullet_lines_ratio": sum(1 for s in lines if s[0] in BULLETS) / n_lines,
        "gopher_ellipsis_lines_ratio": sum(1 for s in lines if s.endswith(ELLIPSES)) / n_lines,
        "gopher_alpha_words_ratio": alpha / n if n else 0.0,
        "gopher_stop_words": stop,
    }
    s = signals
    if n < cfg["min_words"]:
        return drop("gopher.too_short", **s)
    if n > cfg["max_words"]:
        return drop("gopher.too_long", **s)
    if not cfg["min_mean_word_length"] <= s["gopher_mean_word_length"] <= cfg["max_mean_word_length"]:
        return drop("gopher.word_length", **s)
    if s["gopher_symbol_word_ratio"] > cfg["max_symbol_word_ratio"]:
        return drop("gopher.symbols", **s)
    if s["gopher_bullet_lines_ratio"] > cfg["max_bullet_lines_ratio"]:
        return drop("gopher.bullet_lines", **s)
    if s["gopher_ellipsis_lines_ratio"] > cfg["max_ellipsis_lines_ratio"]:
        return drop("gopher.ellipsis_lines", **s)
    if s["gopher_alpha_words_ratio"] < cfg["min_alpha_words_ratio"]:
        return drop("gopher.few_alpha_words", **s)
    if stop < cfg["min_stop_words"]:
        return drop("gopher.few_stop_words", **s)
    return keep(**s)


def repetition(text: str, cfg: dict = REPETITION_DEFAULTS) -> Verdict:
    """Gopher repetition rules on ``text``, in Table A1's order; the first rule that fires is the reason.

    Every fraction is computed on every document (all columns filled, so a later job can re-threshold);
    the n-gram ones cost about as much as splitting the text, see text_stats.ngram_repetition.
    """
    st = stats(text)
    total = len(text) or 1
    lines, paras = st.lines, st.paragraphs
    dup_lines, dup_line_chars = duplicates(lines)
    dup_paras, dup_para_chars = duplicates(paras)
    s: dict[str, float] = {
        "gopher_dup_line_ratio": dup_lines / len(lines) if lines else 0.0,
        "gopher_dup_para_ratio": dup_paras / len(paras) if paras else 0.0,
        "gopher_dup_line_char_ratio": dup_line_chars / total,
        "gopher_dup_para_char_ratio": dup_para_chars / total,
    }
    top, dup = ngram_repetition(st.words, TOP_NS, DUP_NS, len(text))
    s.update({f"gopher_top_{n}gram_ratio": top[n] for n in TOP_NS})
    s.update({f"gopher_dup_{n}gram_ratio": dup[n] for n in DUP_NS})
    if s["gopher_dup_line_ratio"] > cfg["max_dup_line_ratio"]:
        return drop("gopher.dup_lines", **s)
    if s["gopher_dup_para_ratio"] > cfg["max_dup_para_ratio"]:
        return drop("gopher.dup_paragraphs", **s)
    if s["gopher_dup_line_char_ratio"] > cfg["max_dup_line_char_ratio"]:
        return drop("gopher.dup_line_chars", **s)
    if s["gopher_dup_para_char_ratio"] > cfg["max_dup_para_char_ratio"]:
        return drop("gopher.dup_paragraph_chars", **s)
    for n in TOP_NS:
        if top[n] > cfg[f"max_top_{n}gram_ratio"]:
            return drop(f"gopher.top_{n}gram", **s)
    for n in DUP_NS:
        if dup[n] > cfg[f"max_dup_{n}gram_ratio"]:
            return drop(f"gopher.dup_{n}gram", **s)
    return keep(**s)


def quality_stage(config: dict | None = None) -> Stage:
    """Stage ``gopher_quality``; config keys (defaults = the paper's): see QUALITY_DEFAULTS."""
    cfg = _config(config, QUALITY_DEFAULTS, "gopher_quality")
    return Stage("gopher_quality", lambda doc: quality(doc.get("text") or "", cfg), QUALITY_COLUMNS)


def repetition_stage(config: dict | None = None) -> Stage:
    """Stage ``gopher_repetition``; config keys (defaults = the paper's): see REPETITION_DEFAULTS."""
    cfg = _config(config, REPETITION_DEFAULTS, "gopher_repetition")
    return Stage("gopher_repetition", lambda doc: repetition(doc.get("text") or "", cfg), REPETITION_COLUMNS)
