"""The one return type of every filter: keep or drop, why, and the signals measured on the way."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
