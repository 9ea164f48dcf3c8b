"""Words, lines and paragraphs of a text, computed once and shared by every heuristic filter.

Gopher quality, Gopher repetition and FineWeb all look at the same words and lines. Splitting the
text in each rule is what makes datatrove's filters cost more than its extraction (it also runs an
NLTK word tokenizer per document); here :func:`stats` splits once and caches the result for the last
few texts, so consecutive stages on the same document reuse it. C4 rewrites the text, so the cache
holds more than one entry and FineWeb gets fresh statistics for the rewritten text.

Words are whitespace-separated tokens (``str.split()``), as in the papers' descriptions; this is
wrong for languages written without spaces (Chinese, Japanese, Thai), where these English-made rules
should not be applied anyway.
"""
from __future__ import annotations

import threading
from functools import cached_property

import numpy as np

# Marks that end a sentence or a line of prose, in the scripts lid.176 sees most. Closing quotes count
# (C4: "or end quotation mark").
TERMINAL_PUNCT = frozenset(".!?\"'”’»」』。！？…؟।")
ELLIPSES = ("...", "…")
BULLETS = frozenset("•‣⁃◦▪▫●○■□➢➤►▶-*–—·")


class TextStats:
    """Lazily computed views of one text; each property is computed at most once."""

    __slots__ = ("text", "__dict__")

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        return self.text.split()

    @cached_property
    def word_chars(self) -> int:
        """Characters in words (whitespace excluded): the denominator of the repetition fractions."""
        return sum(map(len, self.words))

    @cached_property
    def lines(self) -> list[str]:
        """Non-empty lines, stripped."""
        return [s for s in (line.strip() for line in self.text.split("\n")) if s]

    @cached_property
    def paragraphs(self) -> list[str]:
        """Blocks separated by a blank line, stripped, non-empty."""
        text = self.text
        if "\n\n" not in text and "\r\n\r\n" not in text:
            p = text.strip()
            return [p] if p else []
        out = []
        for block in text.replace("\r\n", "\n").split("\n\n"):
            b = block.strip()
            if b:
                out.append(b)
        return out

    @cached_property
    def lines_ending_punct(self) -> int:
        return sum(1 for s in self.lines if s[-1] in TERMINAL_PUNCT)


def duplicates(items: list[str]) -> tuple[int, int]:
    """(number of items, characters in items) that repeat an item seen earlier in the list.

    The first occurrence is the original; only later copies count as duplicates (as datatrove and
    the FineWeb release count them), so a text repeated twice is 50% duplicate, not 100%.
    """
    if len(items) < 2:
        return 0, 0
    seen: set[str] = set()
    n = chars = 0
    for it in items:
        if it in seen:
            n += 1
            chars += len(it)
        else:
            seen.add(it)
    return n, chars


_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
_K1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64 multipliers: a non-linear mix per step, so crafted
_K2 = np.uint64(0x94D049BB133111EB)  # word sequences cannot make n-gram hashes collide (as they can
_K3 = np.uint64(0x9E3779B97F4A7C15)  # with a plain polynomial hash modulo 2**64)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix(h: np.ndarray) -> np.ndarray:
    h = (h ^ (h >> _S30)) * _K1
    h = (h ^ (h >> _S27)) * _K2
    return h ^ (h >> _S31)


def ngram_repetition(words: list[str], top_ns: tuple[int, ...], dup_ns: tuple[int, ...],
                     total_chars: int | None = None) -> tuple[dict[int, float], dict[int, float]]:
    """Gopher's n-gram repetition fractions of a word list, for all n at once (App. A, Table A1).

    Fractions are of ``total_chars``: the document's length, as for the line and paragraph fractions
    ("fraction of characters" of the document; datatrove divides by len(text) too), or, by default,
    the characters in words.

    top[n]: characters covered by the most frequent n-gram (count x its characters) / total; 0.0
    when no n-gram occurs twice (a phrase that never repeats is not repetition); among n-grams tied
    for most frequent, the longest counts (the result must not depend on order).

    dup[n]: characters of words inside n-grams that repeat an earlier occurrence / total; a word
    covered by several such n-grams counts once ("taking care not to count characters that occur
    in overlapping n-grams more than once"). The first occurrence is the original.

    Vectorized: n-grams are 64-bit hashes extended one word per n, and repeats are found with one
    sort per n (np.unique) over the positions that can still repeat, instead of a Python tuple per
    n-gram per n.
    """
    ns = sorted(set(top_ns) | set(dup_ns))
    top = dict.fromkeys(top_ns, 0.0)
    dup = dict.fromkeys(dup_ns, 0.0)
    n_words = len(words)
    if n_words <= ns[0]:
        return top, dup
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=n_words)
    total = int(lengths.sum()) if total_chars is None else total_chars
    if total <= 0:
        return top, dup
    cs = np.concatenate(([0], np.cumsum(lengths)))
    # Python's str hash (cached on each str, randomized per process) only seeds the mix; equal words
    # get equal hashes within the process, which is all that matters here.
    word_hash = _mix(np.fromiter(map(hash, words), dtype=np.int64, count=n_words).view(np.uint64))
    h = word_hash
    repeated = np.ones(n_words, dtype=bool)  # positions whose (n-1)-gram occurs more than once
    for n in range(2, ns[-1] + 1):
        if n > n_words:
            break
        h = _mix(h[:-1] * _K3 ^ word_hash[n - 1:])  # hash of words[i:i+n], for every i
        # An n-gram can repeat only where the (n-1)-grams at i and i+1 both repeat: sort just those.
        cand = np.flatnonzero(repeated[:-1] & repeated[1:])
        if len(cand) < 2:
            break
        _, first, inverse, counts = np.unique(h[cand], return_index=True, return_inverse=True,
                                              return_counts=True)
        best = int(counts.max())
        if best < 2:
            break  # no n-gram repeats, so no longer one does either
        repeated = np.zeros(len(h), dtype=bool)
        repeated[cand] = counts[inverse] > 1
        if n in top:
            tied = cand[first[counts == best]]
            top[n] = best * int((cs[tied + n] - cs[tied]).max()) / total
        if n in dup:
            later = cand[first[inverse] != np.arange(len(cand))]  # copies after the first occurrence
            depth = np.cumsum(np.bincount(later, minlength=n_words + 1)[:n_words]
                              - np.bincount(later + n, minlength=n_words + 1)[:n_words])
            dup[n] = int(lengths[depth > 0].sum()) / total
    return top, dup


class _Cache:
    """The last few TextStats, keyed by the text; one per thread (Beam runs DoFns in threads)."""

    SIZE = 4

    def __init__(self) -> None:
        self.local = threading.local()

    def get(self, text: str) -> TextStats:
        entries = getattr(self.local, "entries", None)
        if entries is None:
            entries = self.local.entries = []
        for st in entries:
            if st.text is text or st.text == text:
                return st
        st = TextStats(text)
        entries.insert(0, st)
        del entries[self.SIZE:]
        return st


_cache = _Cache()


def stats(text: str) -> TextStats:
    """The shared statistics of ``text`` (computed once per text, reused by the next stage)."""
    return _cache.get(text)
