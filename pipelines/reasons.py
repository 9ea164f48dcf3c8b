"""Every reason code a job can write into ``rejected/`` and report.json, with its meaning.

``python -m pipelines.reasons`` prints the table the README carries; a test checks that the README
lists every code, so the documentation cannot fall behind the code.
"""
from __future__ import annotations

import importlib

# (module, attribute) in data-path order; each attribute maps code -> one-line meaning.
SOURCES = [
    ("pipelines.io.warc", "REASONS"),
    ("filters.decode", "REASONS"),
    ("filters.hidden_text", "REASONS"),
    ("filters.extract", "REASONS"),
    ("filters.lang", "REASONS"),
    ("filters.gopher", "REASONS"),
    ("filters.c4", "REASONS"),
    ("filters.fineweb", "REASONS"),
    ("filters.quality", "REASONS"),
    ("filters.llm_text", "REASONS"),
    ("filters.injection", "REASONS"),
    ("filters.unicode_anomalies", "REASONS"),
    ("pipelines.curate", "EXACT_REASONS"),
    ("pipelines.triggers", "REASONS"),
    ("pipelines.dedup", "REASONS"),
    ("shards.build", "REASONS"),
]


def all_reasons() -> dict[str, str]:
    out: dict[str, str] = {}
    for module, attr in SOURCES:
        table = getattr(importlib.import_module(module), attr)
        if not isinstance(table, dict):
            raise TypeError(f"{module}.{attr} must map reason code -> meaning (got {type(table).__name__})")
        for code, meaning in table.items():
            out.setdefault(code, meaning)
    return out


def markdown() -> str:
    lines = ["| reason | meaning |", "|---|---|"]
    lines += [f"| `{code}` | {meaning} |" for code, meaning in all_reasons().items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
