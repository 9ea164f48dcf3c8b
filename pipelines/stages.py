"""Run a chain of filters over one document and count what happened at every stage.

This is the datatrove idea ("a base counts in/out/dropped-by-reason for all filters") without any
engine in it: the Beam DoFns, the CLI's ``extract`` and the tests all call :func:`run_chain`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from filters.verdict import StageFailure, Verdict

# Column types a stage may declare for its signals: they become Parquet columns.
COLUMN_TYPES = ("int", "float", "str", "bool")


@dataclass
class Stage:
    """One named step of a chain: ``fn(doc) -> Verdict``.

    ``columns`` declares the signal columns the stage writes (name -> one of COLUMN_TYPES) so that every
    output file has the same schema, whichever documents it happened to hold. ``enforce=False`` makes
    the stage score only: signals are recorded, a drop verdict is counted as ``out``.
    """

    name: str
    fn: Callable[[dict], Verdict]
    columns: dict[str, str] = field(default_factory=dict)
    enforce: bool = True

    def __post_init__(self) -> None:
        for col, typ in self.columns.items():
            if typ not in COLUMN_TYPES:
                raise ValueError(f"stage {self.name!r}: column {col!r} has type {typ!r}; allowed: {COLUMN_TYPES}")


class ReconcileError(RuntimeError):
    """A stage's counts do not add up: a record was lost or double counted (always a bug)."""


@dataclass
class StageCounts:
    """in / out / dropped{reason} / failed{reason} per stage, in the order stages were first seen."""

    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _get(self, stage: str) -> dict[str, Any]:
        if stage not in self.stages:
            self.stages[stage] = {"in": 0, "out": 0, "dropped": {}, "failed": {}}
        return self.stages[stage]

    def enter(self, stage: str, n: int = 1) -> None:
        self._get(stage)["in"] += n

    def out(self, stage: str, n: int = 1) -> None:
        self._get(stage)["out"] += n

    def drop(self, stage: str, reason: str, n: int = 1) -> None:
        d = self._get(stage)["dropped"]
        d[reason] = d.get(reason, 0) + n

    def fail(self, stage: str, reason: str, n: int = 1) -> None:
        f = self._get(stage)["failed"]
        f[reason] = f.get(reason, 0) + n

    def merge(self, other: "StageCounts | dict") -> "StageCounts":
        stages = other.stages if isinstance(other, StageCounts) else other
        for name, c in stages.items():
            mine = self._get(name)
            mine["in"] += c["in"]
            mine["out"] += c["out"]
            for kind in ("dropped", "failed"):
                for reason, n in c[kind].items():
                    mine[kind][reason] = mine[kind].get(reason, 0) + n
        return self

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """A JSON-ready copy with reasons sorted, so equal counts serialize to equal bytes."""
        return {
            name: {"in": c["in"], "out": c["out"],
                   "dropped": dict(sorted(c["dropped"].items())), "failed": dict(sorted(c["failed"].items()))}
            for name, c in self.stages.items()
        }

    def check(self) -> None:
        """Raise ReconcileError unless ``in == out + sum(dropped) + sum(failed)`` for every stage."""
        for name, c in self.stages.items():
            total = c["out"] + sum(c["dropped"].values()) + sum(c["failed"].values())
            if c["in"] != total:
                raise ReconcileError(
                    f"stage {name!r} does not reconcile: in={c['in']} but out+dropped+failed={total} ({c})")

    def metric_items(self) -> Iterable[tuple[str, int]]:
        """(counter name, value) pairs named ``<stage>.in``, ``<stage>.out`` and ``<reason>``."""
        for name, c in self.stages.items():
            yield f"{name}.in", c["in"]
            yield f"{name}.out", c["out"]
            for kind in ("dropped", "failed"):
                for reason, n in c[kind].items():
                    yield reason if reason.startswith(name + ".") else f"{name}.{reason}", n


def rejected_row(doc: dict, stage: str, reason: str, detail: str = "") -> dict:
    row = dict(doc)
    row["stage"] = stage
    row["reason"] = reason
    row["detail"] = detail[:500]
    return row


def run_chain(doc: dict, stages: list[Stage], counts: StageCounts) -> tuple[dict | None, dict | None]:
    """Pass ``doc`` through ``stages``; return (kept doc, None) or (None, rejected row).

    Signals from every stage that ran are merged into the document, including the one that dropped it,
    so rejected rows carry the value that crossed the threshold.
    """
    for st in stages:
        counts.enter(st.name)
        try:
            verdict = st.fn(doc)
        except StageFailure as e:
            counts.fail(st.name, e.reason)
            return None, rejected_row(doc, st.name, e.reason, e.detail)
        doc.update(verdict.signals)
        if verdict.text is not None:
            doc["text"] = verdict.text
        if not verdict.keep and st.enforce:
            counts.drop(st.name, verdict.reason)
            return None, rejected_row(doc, st.name, verdict.reason)
        counts.out(st.name)
    return doc, None
