"""C4 cleaning (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer", section 2.2).

C4 is the one heuristic that REWRITES the text: lines that do not end in terminal punctuation, lines
with fewer than 3 words and lines mentioning Javascript are removed (Verdict.text carries the cleaned
text); then the page is dropped if it contains "lorem ipsum" or a curly bracket, if fewer than 5
sentences remain, or (when a word list is given) if it contains a listed bad word.

Thresholds: the paper's bullets as implemented by its released code (TensorFlow Datasets c4_utils):
at least 3 words per line, at least 5 sentences per page. The "List of Dirty, Naughty, Obscene or
Otherwise Bad Words" is not bundled (its licence and content are the user's call): pass
``bad_words_file`` to enable that rule. C4's 3-sentence-span deduplication is the dedup job's work.

Running C4's line rule before FineWeb leaves only punctuated lines, so FineWeb's line-punctuation rule
can no longer fire; FineWeb's own pipeline therefore ran C4 with that rule off
(``remove_no_terminal_punct_lines: false``).
"""
from __future__ import annotations

import re

from filters import options
from filters.text_stats import TERMINAL_PUNCT
from filters.verdict import Verdict, drop
from pipelines.stages import Stage

DEFAULTS = {
    "min_words_per_line": 3,       # "only retained lines that contained at least 3 words"
    "min_sentences": 5,            # "discarded any page with fewer than 5 sentences"
    "remove_no_terminal_punct_lines": True,  # "only retained lines that ended in a terminal punctuation mark"
    "remove_javascript_lines": True,  # "removed any line with the word Javascript"
    "drop_lorem_ipsum": True,      # "removed any page where the phrase 'lorem ipsum' appeared"
    "drop_curly_bracket": True,    # "removed any pages that contained a curly bracket"
    "bad_words_file": None,        # one word or phrase per line; None = rule off
}

REASONS = {
    "c4.lorem_ipsum": "the page contains 'lorem ipsum' (placeholder text)",
    "c4.curly_bracket": "the page contains '{' (code or templates)",
    "c4.bad_words": "the page contains a word from bad_words_file",
    "c4.too_few_sentences": "fewer than 5 sentences left after line cleaning",
}
COLUMNS = {
    "c4_lines_removed": "int",     # lines removed by the three line rules together
    "c4_sentences": "int",         # sentences in the cleaned text
}

# A sentence ends in . ! ? (or their CJK forms), optionally followed by closing quotes/brackets,
# then whitespace or the end of the text (so "3.5" and "e.g.x" are not ends).
_SENTENCE_END = re.compile(r"[.!?。！？]+[\"'”’»)\]]*(?=\s|$)")
_WORD_CHARS = re.compile(r"[\w'-]+")


def _load_bad_words(path: str) -> tuple[frozenset, re.Pattern | None]:
    try:
        with open(path, encoding="utf-8") as f:
            entries = [ln.strip().lower() for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError as e:
        raise ValueError(f"'bad_words_file' cannot be read ({path!r}: {e.strerror}); give a readable "
                         "text file with one word per line, or leave it unset") from None
    words = frozenset(w for w in entries if " " not in w)
    phrases = [re.escape(p) for p in entries if " " in p]
    return words, (re.compile(r"\b(?:" + "|".join(phrases) + r")\b") if phrases else None)


def count_sentences(text: str) -> int:
    return len(_SENTENCE_END.findall(text))


def clean(text: str, cfg: dict = DEFAULTS, bad_words: tuple = (frozenset(), None)) -> Verdict:
    """Apply C4's page and line rules; on keep, ``Verdict.text`` is the cleaned text."""
    lower = text.lower()
    if cfg["drop_lorem_ipsum"] and "lorem ipsum" in lower:
        return drop("c4.lorem_ipsum", c4_lines_removed=0, c4_sentences=None)
    if cfg["drop_curly_bracket"] and "{" in text:
        return drop("c4.curly_bracket", c4_lines_removed=0, c4_sentences=None)
    words, phrases = bad_words
    if words or phrases:
        if (words and not words.isdisjoint(_WORD_CHARS.findall(lower))) or (phrases and phrases.search(lower)):
            return drop("c4.bad_words", c4_lines_removed=0, c4_sentences=None)
    min_words = cfg["min_words_per_line"]
    punct, js = cfg["remove_no_terminal_punct_lines"], cfg["remove_javascript_lines"]
    kept: list[str] = []
    removed = 0
    for line in text.split("\n"):
        s = line.strip()
        if not s:
            continue
        if (punct and s[-1] not in TERMINAL_PUNCT) or len(s.split()) < min_words \
                or (js and "javascript" in s.lower()):
            removed += 1
            continue
        kept.append(s)
    cleaned = "\n".join(kept)
    sentences = count_sentences(cleaned)
    if sentences < cfg["min_sentences"]:
        return drop("c4.too_few_sentences", c4_lines_removed=removed, c4_sentences=sentences)
    return Verdict(True, None, {"c4_lines_removed": removed, "c4_sentences": sentences}, cleaned)


def stage(config: dict | None = None) -> Stage:
    """Stage ``c4``; config keys and defaults in DEFAULTS."""
    config = config or {}
    options.no_unknown(config, set(DEFAULTS), "c4")
    cfg = {
        "min_words_per_line": options.number(config, "min_words_per_line", 3, lo=0, integer=True),
        "min_sentences": options.number(config, "min_sentences", 5, lo=0, integer=True),
        **{k: options.flag(config, k, DEFAULTS[k]) for k in
           ("remove_no_terminal_punct_lines", "remove_javascript_lines", "drop_lorem_ipsum", "drop_curly_bracket")},
    }
    path = config.get("bad_words_file")
    if path is not None and not isinstance(path, str):
        raise ValueError(f"'bad_words_file' must be a path (got {path!r})")
    bad = _load_bad_words(path) if path else (frozenset(), None)
    return Stage("c4", lambda doc: clean(doc.get("text") or "", cfg, bad), COLUMNS)
