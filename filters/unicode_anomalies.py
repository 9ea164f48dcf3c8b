"""Characters that hide or disguise text: zero-width, bidi controls, Unicode tags, homoglyph words.

No training needed. Counted (column ``unicode_anomalies``), and a document with at least
``min_anomalies`` is dropped as ``poison.unicode``:
- zero-width space / word joiner / invisible operators / a BOM not at the start: they split words so a
  filter does not see them, or smuggle text no reader sees;
- ZWJ / ZWNJ only between two ASCII letters: elsewhere they are legitimate (emoji sequences, Persian,
  Indic scripts);
- bidi overrides, embeddings and isolates (U+202A-202E, U+2066-2069): "Trojan Source" reorders what
  a reader sees; the plain marks LRM/RLM that RTL pages use are not counted;
- Unicode tag characters (U+E0000-E007F): invisible ASCII look-alikes used to smuggle instructions;
- homoglyph words: one word mixing Latin letters with Cyrillic or Greek ones ("pаypal" with a
  Cyrillic a), which no honest writer produces.
"""
from __future__ import annotations

import re

from filters.verdict import drop, keep

STAGE = "unicode"
REASONS = {"poison.unicode": "at least min_anomalies zero-width, bidi-override, tag or homoglyph-word characters"}
COLUMNS = {"unicode_anomalies": "int"}
DEFAULT_CONFIG = {"min_anomalies": 3, "enforce": True}

_ZERO_WIDTH = re.compile("[\u200b\u2060\u2061\u2062\u2063\u2064\u180e]|(?<!^)\ufeff")
_JOINER_IN_WORD = re.compile("(?<=[A-Za-z])[\u200c\u200d]+(?=[A-Za-z])")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_TAGS = re.compile("[\U000e0000-\U000e007f]")
_SUSPECT = re.compile("[\u0370-\u03ff\u0400-\u04ff]")  # Greek, Cyrillic
_MIXED_WORD = re.compile(r"\b(?=\w*[A-Za-z])(?=\w*[\u0370-\u03ff\u0400-\u04ff])\w+\b")


def count(text: str) -> dict[str, int]:
    """Anomalies by kind; the cheap ASCII-only case returns at once."""
    if text.isascii():
        return {"zero_width": 0, "bidi": 0, "tags": 0, "homoglyph_words": 0}
    return {
        "zero_width": len(_ZERO_WIDTH.findall(text)) + len(_JOINER_IN_WORD.findall(text)),
        "bidi": len(_BIDI.findall(text)),
        "tags": len(_TAGS.findall(text)),
        "homoglyph_words": len(_MIXED_WORD.findall(text)) if _SUSPECT.search(text) else 0,
    }


def anomalies(text: str) -> int:
    return sum(count(text).values())


def stage(config: dict):
    from pipelines.stages import Stage

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    limit = int(cfg["min_anomalies"])
    if limit < 1:
        raise ValueError(f"'unicode.min_anomalies' must be >= 1 (got {limit})")

    def fn(doc: dict):
        n = anomalies(doc.get("text") or "")
        return drop("poison.unicode", unicode_anomalies=n) if n >= limit else keep(unicode_anomalies=n)

    return Stage(STAGE, fn, dict(COLUMNS), enforce=bool(cfg["enforce"]))
