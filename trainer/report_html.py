"""The ablation report: report.json, report.html and PNG plots (matplotlib, Agg backend: no display needed).

The page is static and self-contained apart from its PNG files beside it: the mixes, a loss curve per
mix, the held-out losses with 95% CIs per group, the verdicts, the smallest detectable difference, the
scaling check, and (with ``--curate``) the curation pipeline's drop reasons and score histograms.
"""
from __future__ import annotations

import glob
import html
import json
import os
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def plot_curves(out: Path, runs: list[dict]) -> list[str]:
    """One PNG per mix: training loss against tokens, one line per seed, held-out evaluations as points."""
    plt = _plt()
    files = []
    by_mix: dict[str, list[dict]] = {}
    for r in runs:
        if r["kind"] == "mix":
            by_mix.setdefault(r["mix"], []).append(r)
    for i, (mix, rs) in enumerate(by_mix.items()):
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
        for r in rs:
            res = json.loads((Path(r["dir"]) / "result.json").read_text())
            tps = res["tokens"] / res["steps"]
            curve = res["train_curve"]
            ax.plot([(h["step"] + 1) * tps for h in curve], [h["loss"] for h in curve], lw=1,
                    label=f"train, seed {r['seed']}")
            for g in sorted(res["final_eval"]):
                pts = [(e["tokens"], e["groups"][g]["loss"]) for e in res["evals"]]
                ax.plot(*zip(*pts), "o--", ms=3, lw=0.8, label=f"held-out {g}, seed {r['seed']}")
        ax.set_xlabel("training tokens")
        ax.set_ylabel("loss (nats/token)")
        ax.set_title(f"mix {mix}")
        ax.legend(fontsize=6)
        fig.tight_layout()
        name = f"curve_{i}.png"
        fig.savefig(out / name)
        plt.close(fig)
        files.append(name)
    return files


def plot_heldout(out: Path, report: dict) -> str:
    plt = _plt()
    mixes = [m["name"] for m in report["mixes"]]
    groups = report["groups"]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
    width = 0.8 / len(mixes)
    for i, m in enumerate(mixes):
        x = np.arange(len(groups)) + i * width
        ax.bar(x, [report["table"][m][g]["loss"] for g in groups], width,
               yerr=[report["table"][m][g]["ci95"] for g in groups], capsize=3, label=m)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups)
    ax.set_ylabel("held-out loss (95% CI)")
    lo = min(report["table"][m][g]["loss"] for m in mixes for g in groups)
    ax.set_ylim(bottom=max(0.0, lo - 0.5))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "heldout.png")
    plt.close(fig)
    return "heldout.png"


def plot_scaling(out: Path, scaling: dict) -> str | None:
    if "fit" not in scaling:
        return None
    from trainer.stats import predict

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
    c = np.array([r["compute"] for r in scaling["runs"]])
    y = np.array([r["loss"] for r in scaling["runs"]])
    flagged = np.array([r["flagged"] for r in scaling["runs"]])
    grid = np.geomspace(c.min(), c.max(), 100)
    ax.plot(grid, predict(scaling["fit"], grid), "-", lw=1, label="fit a·C^-b + c")
    ax.plot(c[~flagged], y[~flagged], "o", label="runs")
    if flagged.any():
        ax.plot(c[flagged], y[flagged], "rx", ms=10, label="off the curve")
    ax.set_xscale("log")
    ax.set_xlabel("compute (FLOPs)")
    ax.set_ylabel(f"held-out loss ({scaling['group']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "scaling.png")
    plt.close(fig)
    return "scaling.png"


def curate_summary(curate_dir: str) -> dict:
    """Drop-reason counts from a curate report.json and numeric score columns of its kept / rejected docs."""
    import pyarrow.parquet as pq

    rep = json.loads(Path(curate_dir, "report.json").read_text())
    reasons: dict[str, int] = {}
    for st in rep.get("stages", {}).values():
        for k, v in {**st.get("dropped", {}), **st.get("failed", {})}.items():
            reasons[k] = reasons.get(k, 0) + int(v)
    scores: dict[str, dict[str, list[float]]] = {}
    for part in ("docs", "rejected"):
        for f in sorted(glob.glob(os.path.join(curate_dir, part, "*.parquet"))):
            t = pq.read_table(f)
            for name in t.column_names:
                if name.endswith("score") and name != "lang_score" or name in ("quality", "llm_score"):
                    col = t.column(name).to_numpy(zero_copy_only=False)
                    vals = [float(x) for x in col if x is not None and np.isfinite(x)]
                    scores.setdefault(name, {}).setdefault("kept" if part == "docs" else "rejected", []).extend(vals)
    return {"report": str(Path(curate_dir, "report.json")), "drop_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
            "scores": scores}


def plot_scores(out: Path, scores: dict) -> str | None:
    if not scores:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(scores), figsize=(3.2 * len(scores), 3), dpi=90, squeeze=False)
    for ax, (name, parts) in zip(axes[0], sorted(scores.items())):
        for part, vals in sorted(parts.items()):
            if vals:
                ax.hist(vals, bins=20, alpha=0.6, label=f"{part} ({len(vals)})")
        ax.set_title(name, fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "scores.png")
    plt.close(fig)
    return "scores.png"


def _e(x) -> str:
    return html.escape(str(x))


def render(report: dict, images: dict) -> str:
    groups = report["groups"]
    mixes = [m["name"] for m in report["mixes"]]
    h = ["<!doctype html><html><head><meta charset='utf-8'><title>gristmill ablation</title><style>",
         "body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
         ".verdict{font-weight:bold}img{max-width:100%}</style></head><body>",
         f"<h1>gristmill ablation</h1><p>preset <b>{_e(report['preset'])}</b>, {report['tokens_per_run']:,} "
         f"training tokens per run, {report['seeds']} seed(s) per mix, {report['params']:,} parameters; "
         f"device {_e(report['device'].get('gpu') or report['device'].get('device'))}, torch "
         f"{_e(report['device'].get('torch'))}; code {_e(report['code_version'])}; "
         f"{report['total_train_seconds'] / 60:.2f} device-minutes of training.</p>",
         "<h2>Mixes</h2><table id='mixes'><tr><th>mix</th><th>groups (weight)</th></tr>"]
    for m in report["mixes"]:
        h.append(f"<tr><td>{_e(m['name'])}</td><td>{_e(', '.join(f'{g} ({w:g})' for g, w in m['groups'].items()))}</td></tr>")
    h.append("</table><h2>Held-out loss</h2><p>Mean loss (nats/token) over seeds and the same evaluation "
             "sequences, with the half-width of its 95% CI (bootstrap over seeds and sequences); bits per byte "
             "where the tokenizer was given.</p><table id='heldout'><tr><th>mix</th>"
             + "".join(f"<th>{_e(g)}</th>" for g in groups) + "</tr>")
    for m in mixes:
        cells = []
        for g in groups:
            c = report["table"][m][g]
            bpb = f" <small>({c['bits_per_byte']:.3f} bpb)</small>" if c["bits_per_byte"] else ""
            cells.append(f"<td>{c['loss']:.4f} ± {c['ci95']:.4f}{bpb}</td>")
        h.append(f"<tr><td>{_e(m)}</td>{''.join(cells)}</tr>")
    h.append(f"</table><p><img src='{images['heldout']}' alt='held-out losses'></p>")
    h.append("<h2>Verdicts</h2><p>Paired bootstrap 95% CI of the difference in held-out loss (same sequences for "
             "every run; seeds resampled too). Seed spread = sd of per-seed mean losses.</p><ul id='verdicts'>")
    for p in report["pairs"]:
        extra = ""
        if p.get("device_seconds_to_separate") is not None:
            extra = f" — separated from step {p['separated_at_step']} ({p['device_seconds_to_separate'] / 60:.2f} device-minutes)"
        spread = ", ".join(f"{s:.4f}" for s in (p["seed_sd_a"], p["seed_sd_b"]) if s is not None)
        h.append(f"<li><span class='verdict'>{_e(p['verdict'])}</span>"
                 f"{' (seed spread ' + spread + ')' if spread else ''}{_e(extra)}</li>")
    h.append("</ul><h2>Smallest detectable difference</h2><p>Differences below these (nats/token) cannot be told "
             "apart at this budget (95% confidence, 80% power).</p><table id='mdd'><tr><th>group</th><th>median over "
             "pairs</th><th>max</th></tr>")
    for g, d in report["min_detectable_difference"].items():
        h.append(f"<tr><td>{_e(g)}</td><td>{d['median']:.4f}</td><td>{d['max']:.4f}</td></tr>")
    h.append("</table><h2>Loss curves</h2>")
    for f in images["curves"]:
        h.append(f"<p><img src='{f}' alt='loss curve'></p>")
    sc = report.get("scaling")
    if sc:
        h.append(f"<h2>Scaling check</h2><p>mix {_e(sc.get('mix'))}, held-out group {_e(sc['group'])}. ")
        if "fit" in sc:
            f = sc["fit"]
            h.append(f"Fit: loss = {f['a']:.4g}·C^(-{f['b']:.3f}) + {f['c']:.3f}; check: {_e(sc['method'])}, "
                     f"tolerance {sc['tolerance']:.0%}.</p><table id='scaling'><tr><th>run</th><th>compute</th>"
                     "<th>loss</th><th>expected</th><th>deviation</th><th>flag</th></tr>")
            for r in sc["runs"]:
                h.append(f"<tr><td>{_e(r['label'])}</td><td>{r['compute']:.3g}</td><td>{r['loss']:.4f}</td>"
                         f"<td>{r['expected']:.4f}</td><td>{r['rel_deviation']:+.1%}</td>"
                         f"<td>{'OFF THE CURVE' if r['flagged'] else 'ok'}</td></tr>")
            h.append("</table>")
            if images.get("scaling"):
                h.append(f"<p><img src='{images['scaling']}' alt='scaling fit'></p>")
        else:
            h.append(f"No fit: {_e(sc['error'])}</p>")
    cur = report.get("curate")
    if cur:
        h.append(f"<h2>Curation</h2><p>From {_e(cur['report'])}.</p><table id='drops'><tr><th>reason</th>"
                 "<th>documents</th></tr>")
        for k, v in cur["drop_reasons"].items():
            h.append(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>")
        h.append("</table>")
        if images.get("scores"):
            h.append(f"<p><img src='{images['scores']}' alt='score histograms'></p>")
    h.append("<h2>Runs</h2><table id='runs'><tr><th>mix</th><th>seed</th><th>train s</th><th>tokens/s</th>"
             "<th>MFU</th><th>epochs per group</th></tr>")
    for r in report["runs"]:
        ep = ", ".join(f"{g} {e:.2f}" for g, e in (r["epochs"] or {}).items())
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        h.append(f"<tr><td>{_e(r['mix'])}</td><td>{r['seed']}</td><td>{r['train_seconds']:.1f}</td>"
                 f"<td>{r['tok_s']:,}</td><td>{mfu}</td><td>{_e(ep)}</td></tr>")
    h.append("</table></body></html>")
    return "\n".join(h)


def write_report(out: str | os.PathLike, report: dict, runs: list[dict], curate: str | None = None) -> None:
    out = Path(out)
    if curate:
        cs = curate_summary(curate)
        report["curate"] = {"report": cs["report"], "drop_reasons": cs["drop_reasons"],
                            "score_counts": {k: {p: len(v) for p, v in parts.items()} for k, parts in cs["scores"].items()}}
    images = {"curves": plot_curves(out, runs), "heldout": plot_heldout(out, report)}
    if report.get("scaling"):
        images["scaling"] = plot_scaling(out, report["scaling"])
    if curate:
        images["scores"] = plot_scores(out, cs["scores"])
    report["images"] = images
    _write_json(out / "report.json", report)
    tmp = out / f"report.html.tmp-{os.getpid()}"
    tmp.write_text(render(report, images), encoding="utf-8")
    os.replace(tmp, out / "report.html")
