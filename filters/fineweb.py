"""FineWeb's custom filters (Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest
Text Data at Scale", section 3.4 "Developing additional heuristic filters").

Four rules, each dropping the document with its own reason:
- fraction of lines ending in terminal punctuation < 0.12;
- fraction of lines of at most 30 characters > 0.67;
- fraction of characters in lines that repeat an earlier line > 0.01. The paper's text says 0.1;
  the thresholds FineWeb was actually built with (its released datatrove pipeline,
  FineWebQualityFilter) use 0.01, which is what the paper's removal percentages were measured with;
- newlines per word > 0.3 (list-like pages; from the released pipeline, not the paper's list).
"""
from __future__ import annotations

from filters import options
from filters.text_stats import duplicates, stats
from filters.verdict import Verdict, drop, keep
from pipelines.stages import Stage

DEFAULTS = {
    "min_line_punct_ratio": 0.12,   # "fraction of lines ending with punctuation <= 0.12" removes
    "max_short_line_ratio": 0.67,   # "fraction of lines shorter than 30 characters >= 0.67" removes
    "short_line_length": 30,
    "max_char_dup_ratio": 0.01,     # characters in duplicated lines (released pipeline value)
    "max_newline_word_ratio": 0.3,  # newlines / words (released pipeline value)
}
REASONS = {
    "fineweb.line_punct": "fewer than 12% of lines end in terminal punctuation",
    "fineweb.short_lines": "more than 67% of lines are 30 characters or shorter",
    "fineweb.dup_line_chars": "more than 1% of characters are in lines that repeat an earlier line",
    "fineweb.list_like": "more than 0.3 newlines per word",
    "fineweb.empty": "no text at all (nothing to measure)",
}
COLUMNS = {
    "fineweb_line_punct_ratio": "float",
    "fineweb_short_line_ratio": "float",
    "fineweb_char_dup_ratio": "float",
    "fineweb_newline_word_ratio": "float",
}


def check(text: str, cfg: dict = DEFAULTS) -> Verdict:
    st = stats(text)
    lines = st.lines
    if not lines:
        return drop("fineweb.empty", **{c: None for c in COLUMNS})
    n = len(lines)
    short = cfg["short_line_length"]
    _, dup_chars = duplicates(lines)
    s = {
        "fineweb_line_punct_ratio": st.lines_ending_punct / n,
        "fineweb_short_line_ratio": sum(1 for ln in lines if len(ln) <= short) / n,
        # Denominator: all characters of the text without the line breaks, as the duplicates'
        # characters are counted from the stripped lines.
        "fineweb_char_dup_ratio": dup_chars / max(1, len(text) - text.count("\n")),
        "fineweb_newline_word_ratio": text.count("\n") / max(1, len(st.words)),
    }
    if s["fineweb_line_punct_ratio"] < cfg["min_line_punct_ratio"]:
        return drop("fineweb.line_punct", **s)
    if s["fineweb_short_line_ratio"] > cfg["max_short_line_ratio"]:
        return drop("fineweb.short_lines", **s)
    if s["fineweb_char_dup_ratio"] > cfg["max_char_dup_ratio"]:
        return drop("fineweb.dup_line_chars", **s)
    if s["fineweb_newline_word_ratio"] > cfg["max_newline_word_ratio"]:
        return drop("fineweb.list_like", **s)
    return keep(**s)


def stage(config: dict | None = None) -> Stage:
    """Stage ``fineweb``; config keys and defaults in DEFAULTS."""
    config = config or {}
    options.no_unknown(config, set(DEFAULTS), "fineweb")
    cfg = {
        "min_line_punct_ratio": options.number(config, "min_line_punct_ratio", 0.12, lo=0, hi=1),
        "max_short_line_ratio": options.number(config, "max_short_line_ratio", 0.67, lo=0, hi=1),
        "short_line_length": options.number(config, "short_line_length", 30, lo=0, integer=True),
        "max_char_dup_ratio": options.number(config, "max_char_dup_ratio", 0.01, lo=0, hi=1),
        "max_newline_word_ratio": options.number(config, "max_newline_word_ratio", 0.3, lo=0),
    }
    return Stage("fineweb", lambda doc: check(doc.get("text") or "", cfg), COLUMNS)
