"""``gristmill ablate``: train one model per mix x seed, evaluate all on the same held-out sequences, and
say which mix is better on which held-out group, by how much, and how sure that is.

    gristmill ablate --shards DIR --mixes mixes.yaml --preset tiny --tokens 2e5 --seeds 2 --output ABL

Resumable: each run lives in ``ABL/runs/<mix>/seed<k>/``; a run whose result.json exists is skipped on a
rerun, and a run that was killed continues from its last checkpoint. On one device the runs go in
sequence; where several GPUs are visible, one run per GPU (``CUDA_VISIBLE_DEVICES``) at a time.

``--scales tokens=1e5,2e5,4e5,8e5`` (or ``preset=tiny,20m``) also trains ``--scale-mix`` at each scale,
fits loss = a·C^(-b) + c over compute and flags runs off the curve. Writes ABL/report.json,
ABL/report.html and PNG plots (trainer/report_html.py).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gristmill ablate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--shards", required=True, help="gristmill tokenize output")
    p.add_argument("--mixes", required=True, help="YAML list of mixes (or {mixes: [...]}), each name + groups")
    p.add_argument("--output", required=True, help="ablation folder")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--tokens", type=float, required=True, help="training tokens per run")
    p.add_argument("--seeds", type=int, default=2, help="runs per mix (seeds 0..K-1)")
    p.add_argument("--tokenizer", help="tokenizer JSON of the shards: adds bits per byte")
    p.add_argument("--curate", help="curate output folder: its drop reasons and score histograms go in the report")
    p.add_argument("--scales", help="tokens=N1,N2,... or preset=P1,P2,...: scaling check of --scale-mix")
    p.add_argument("--scale-mix", help="mix for --scales (default: the first mix)")
    p.add_argument("--scale-group", help="held-out group for the scaling fit (default: the first group)")
    p.add_argument("--seq-len", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--eval-every", type=int, default=0, help="steps between evaluations (curves, time to separation)")
    p.add_argument("--eval-tokens", type=float, default=1 << 18)
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--no-progress", action="store_true")
    return p


def _train_argv(args, mix_file: str, out: str, seed: int, preset: str, tokens: float) -> list[str]:
    argv = ["--shards", args.shards, "--mix", mix_file, "--output", out, "--preset", preset, "--tokens", str(int(tokens)),
            "--seed", str(seed), "--eval-tokens", str(int(args.eval_tokens)), "--eval-every", str(args.eval_every),
            "--device", args.device, "--resume"]
    for flag, val in (("--seq-len", args.seq_len), ("--batch-size", args.batch_size), ("--lr", args.lr),
                      ("--tokenizer", args.tokenizer)):
        if val is not None:
            argv += [flag, str(val)]
    if args.compile is not None:
        argv.append("--compile" if args.compile else "--no-compile")
    if args.no_progress:
        argv.append("--no-progress")
    return argv


def plan(args, mixes) -> list[dict]:
    """Every run: (kind, mix, seed, preset, tokens, folder). Mix files are written next to the runs."""
    out = Path(args.output)
    runs = []
    for m in mixes:
        for s in range(args.seeds):
            runs.append({"kind": "mix", "mix": m.name, "seed": s, "preset": args.preset, "tokens": args.tokens,
                         "dir": str(out / "runs" / m.name / f"seed{s}")})
    if args.scales:
        key, _, vals = args.scales.partition("=")
        if key not in ("tokens", "preset") or not vals:
            raise ValueError(f"--scales must be tokens=N1,N2,... or preset=P1,P2,... (got {args.scales!r})")
        name = args.scale_mix or mixes[0].name
        if name not in {m.name for m in mixes}:
            raise ValueError(f"--scale-mix {name!r} is not a mix of {args.mixes}")
        for v in vals.split(","):
            preset, tokens = (args.preset, float(v)) if key == "tokens" else (v, args.tokens)
            label = f"{key}={v}"
            runs.append({"kind": "scale", "mix": name, "seed": 0, "preset": preset, "tokens": tokens, "label": label,
                         "dir": str(out / "scales" / name / label.replace("=", "_"))})
    return runs


def execute(args, runs: list[dict], mix_files: dict[str, str]) -> None:
    from trainer.cli import main as train_main

    todo = [r for r in runs if not (Path(r["dir"]) / "result.json").exists()]
    for r in runs:
        if r not in todo:
            print(f"skip run:{r['dir']} (finished)", flush=True)
    n_gpu = _gpu_count() if args.device == "auto" else 0
    if n_gpu > 1 and len(todo) > 1:  # one process per GPU, each pinned with CUDA_VISIBLE_DEVICES
        pending = list(todo)
        active: dict[int, tuple[subprocess.Popen, dict]] = {}
        while pending or active:
            for gpu in range(n_gpu):
                if gpu not in active and pending:
                    r = pending.pop(0)
                    argv = _train_argv(args, mix_files[r["mix"]], r["dir"], r["seed"], r["preset"], r["tokens"])
                    env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(gpu)}
                    active[gpu] = (subprocess.Popen([sys.executable, "-m", "trainer.cli", *argv, "--no-progress"],
                                                    env=env), r)
            time.sleep(1)
            for gpu, (proc, r) in list(active.items()):
                if proc.poll() is not None:
                    del active[gpu]
                    if proc.returncode != 0:
                        raise RuntimeError(f"run {r['dir']} failed with exit code {proc.returncode}; see its "
                                           "metrics.jsonl / guard.json, fix, and rerun (finished runs are kept)")
        return
    for r in todo:
        print(f"run:{r['dir']} mix:{r['mix']} seed:{r['seed']} preset:{r['preset']} tokens:{int(r['tokens'])}", flush=True)
        rc = train_main(_train_argv(args, mix_files[r["mix"]], r["dir"], r["seed"], r["preset"], r["tokens"]))
        if rc != 0:
            raise RuntimeError(f"run {r['dir']} failed (exit code {rc}); see its metrics.jsonl / guard.json, fix, and "
                               "rerun (finished runs are kept)")


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _losses(results: list[dict], group: str, evals_index: int = -1) -> np.ndarray:
    return np.array([r["evals"][evals_index]["groups"][group]["seq_losses"] for r in results])  # [seeds, n]


def analyse(runs: list[dict], mixes, args) -> dict:
    from trainer.stats import first_separation, mean_ci, paired_difference, scaling_check

    results: dict[str, list[dict]] = {}
    for r in runs:
        if r["kind"] == "mix":
            results.setdefault(r["mix"], []).append(json.loads((Path(r["dir"]) / "result.json").read_text()))
    names = [m.name for m in mixes]
    groups = sorted(results[names[0]][0]["final_eval"])
    table = {}
    for m in names:
        table[m] = {}
        for g in groups:
            mean, hw = mean_ci(_losses(results[m], g))
            bpbs = [r["final_eval"][g]["bits_per_byte"] for r in results[m]]
            table[m][g] = {"loss": mean, "ci95": hw, "bits_per_byte": None if None in bpbs else float(np.mean(bpbs)),
                           "seed_losses": [r["final_eval"][g]["loss"] for r in results[m]]}
    pairs, mdd = [], {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for g in groups:
                st = paired_difference(_losses(results[a], g), _losses(results[b], g), a, b, g)
                rec = st.to_dict()
                # Time to separation: the first evaluation from which the CI stays clear of 0, and the GPU time
                # both mixes' runs (all seeds) had trained for until then.
                n_evals = min(len(r["evals"]) for r in results[a] + results[b])
                if n_evals > 1:
                    steps = [results[a][0]["evals"][k]["step"] for k in range(n_evals)]
                    series = [paired_difference(_losses(results[a], g, k), _losses(results[b], g, k), a, b, g, n_boot=1000)
                              for k in range(n_evals)]
                    first = first_separation(steps, series) if st.separated else None
                    rec["curve"] = [{"step": s, "diff": x.diff, "ci_lo": x.ci_lo, "ci_hi": x.ci_hi}
                                    for s, x in zip(steps, series)]
                    rec["separated_at_step"] = first
                    if first is not None:
                        k = steps.index(first)
                        rec["device_seconds_to_separate"] = sum(r["evals"][k]["train_seconds"]
                                                                for r in results[a] + results[b])
                pairs.append(rec)
                mdd.setdefault(g, []).append(st.mdd)
    any_run = results[names[0]][0]
    report = {
        "job": "ablate", "shards": args.shards, "preset": args.preset, "tokens_per_run": int(args.tokens),
        "seeds": args.seeds, "mixes": [{"name": m.name, "groups": dict(m.groups)} for m in mixes], "groups": groups,
        "table": table, "pairs": pairs, "verdicts": [p["verdict"] for p in pairs],
        "min_detectable_difference": {g: {"median": float(np.median(v)), "max": float(np.max(v))} for g, v in mdd.items()},
        "runs": [{"mix": m, "seed": r["train"]["seed"], "train_seconds": r["train_seconds"], "tok_s": r["tok_s"],
                  "mfu": r["mfu"], "epochs": r["epochs"], "dir": d["dir"]}
                 for m in names for r, d in zip(results[m], [x for x in runs if x["kind"] == "mix" and x["mix"] == m])],
        "device": {k: any_run.get(k) for k in ("device", "gpu", "torch", "cuda", "cpu_threads")},
        "params": any_run["params"], "code_version": any_run["code_version"],
        "total_train_seconds": sum(r["train_seconds"] for v in results.values() for r in v),
    }
    scale_runs = [r for r in runs if r["kind"] == "scale"]
    if scale_runs:
        res = [json.loads((Path(r["dir"]) / "result.json").read_text()) for r in scale_runs]
        g = args.scale_group or groups[0]
        compute = [x["flops_per_token"] * x["tokens"] for x in res]
        loss = [x["final_eval"][g]["loss"] for x in res]
        try:
            report["scaling"] = {"group": g, "mix": scale_runs[0]["mix"],
                                 **scaling_check(compute, loss, [r["label"] for r in scale_runs])}
        except (RuntimeError, ValueError) as e:  # curve_fit did not converge, or too few runs
            report["scaling"] = {"group": g, "error": str(e), "runs": [
                {"label": r["label"], "compute": c, "loss": l} for r, c, l in zip(scale_runs, compute, loss)]}
    return report


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from shards.mix import load_mixes

    try:
        mixes = load_mixes(args.mixes, args.shards)
        if args.seeds < 1:
            raise ValueError(f"'seeds' must be >= 1 (got {args.seeds})")
        out = Path(args.output)
        (out / "mixes").mkdir(parents=True, exist_ok=True)
        mix_files = {}
        for m in mixes:
            path = out / "mixes" / f"{m.name}.json"  # JSON is YAML: load_mix reads it
            path.write_text(json.dumps({"name": m.name, "groups": dict(m.groups)}))
            mix_files[m.name] = str(path)
        runs = plan(args, mixes)
    except (ValueError, FileNotFoundError) as e:
        print(f"gristmill ablate: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        execute(args, runs, mix_files)
    except RuntimeError as e:
        print(f"gristmill ablate: {e}", file=sys.stderr)
        return 3
    report = analyse(runs, mixes, args)
    report["seconds"] = round(time.time() - t0, 3)
    from trainer.report_html import write_report

    write_report(out, report, runs, curate=args.curate)
    for v in report["verdicts"]:
        print("verdict: " + v)
    for g, d in report["min_detectable_difference"].items():
        print(f"min_detectable_difference group:{g} median:{d['median']:.4f}")
    if "scaling" in report and report["scaling"].get("flagged"):
        print(f"scaling: runs off the fitted curve: {report['scaling']['flagged']}")
    print(f"report:{out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
