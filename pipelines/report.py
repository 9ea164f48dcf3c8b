"""report.json and manifest.json: what a job read, kept, dropped and why, and what it wrote.

The report is built from the same per-file counts that were pushed to Beam Metrics, and it is only
written after every stage reconciles (``in == out + dropped + failed``).
"""
from __future__ import annotations

from typing import Any

from pipelines.io.atomic import join, write_json_atomic
from pipelines.stages import StageCounts


def build_report(job: str, config: dict, inputs: list[str], counts: StageCounts,
                 outputs: list[dict], seconds: float, **extra: Any) -> dict:
    counts.check()
    report = {
        "job": job,
        "config": config,
        "inputs": inputs,
        "stages": counts.to_dict(),
        "outputs": [{"path": o["path"], "rows": o["rows"], "sha256": o["sha256"]} for o in outputs],
        "seconds": round(seconds, 3),
    }
    report.update(extra)
    return report


def write_report(out_dir: str, report: dict) -> None:
    """Write manifest.json (outputs with rows and sha256) and report.json (everything) atomically."""
    write_json_atomic(join(out_dir, "manifest.json"), {"job": report["job"], "outputs": report["outputs"]})
    write_json_atomic(join(out_dir, "report.json"), report)


def summary_table(report: dict, top: int = 3) -> str:
    """A fixed-width table: stage, in, out, dropped, failed, top reasons."""
    rows = [("stage", "in", "out", "dropped", "failed", "top reasons")]
    for name, c in report["stages"].items():
        reasons = sorted({**c["dropped"], **c["failed"]}.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        rows.append((name, str(c["in"]), str(c["out"]), str(sum(c["dropped"].values())),
                     str(sum(c["failed"].values())), ", ".join(f"{r}={n}" for r, n in reasons)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, 5)] + [r[5]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
