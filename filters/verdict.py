"""The one return type of every filter: keep or drop, why, and the signals measured on the way."""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Verdict:
    """What a filter decided about one document.

    ``reason`` is a code ``<stage>.<rule>`` from the filter module's ``REASONS``; it is set exactly
    when ``keep`` is False. ``signals`` become Parquet columns (kept on every row, dropped or not, so a
    later job can re-threshold without recomputing). ``text``, when not None, replaces the document's
    text (C4's line cleaning is the one filter that rewrites text).
    """

    keep: bool
    reason: str | None = None
    signals: dict[str, Any] = field(default_factory=dict)
    text: str | None = None

    def __post_init__(self) -> None:
        if self.keep and self.reason is not None:
            raise ValueError(f"'reason' must be None when keep=True (got {self.reason!r})")
        if not self.keep and not self.reason:
            raise ValueError("'reason' must name a reason code when keep=False (got none)")


def keep(**signals: Any) -> Verdict:
    return Verdict(True, None, signals)


def drop(reason: str, **signals: Any) -> Verdict:
    return Verdict(False, reason, signals)


class StageFailure(Exception):
    """Raised by a filter for bad *input* (undecodable bytes, a timeout), counted as ``failed``.

    Anything else a filter raises is a bug and propagates: a bare ``except`` would count real bugs
    as bad input.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# Exact copies of a page's text are common inside one crawl file (mirrors, session-id URLs, error and login
# pages): in the sample crawl 42 of the 225 pages that reach the classifiers repeat a text seen earlier in the same
# file; the exact-duplicate stage removes them only after every scorer ran. The pretrained-model scorers cost
# seconds a page, so they remember their last verdicts by the text's hash (per worker, bounded).
MEMO_ITEMS = 4096


def memo_by_text(fn: Callable[[str], Verdict], items: int = MEMO_ITEMS) -> Callable[[dict], Verdict]:
    """A stage function ``doc -> fn(doc["text"])`` that returns the earlier verdict for a text it has already
    judged (the ``items`` most recent texts, by SHA-1). Only for ``fn`` that read nothing but the text and score
    one text alone (no batch effects), so a repeat gets the verdict a fresh call would give."""
    cache: OrderedDict[bytes, Verdict] = OrderedDict()

    def judged(doc: dict) -> Verdict:
        text = doc.get("text") or ""
        key = hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        v = cache[key] = fn(text)
        if len(cache) > items:
            cache.popitem(last=False)
        return v

    return judged
