"""Ablation statistics: is mix A better than mix B on a held-out group, by how much, and how sure are we.

Every run evaluates the same held-out sequences, so the losses of two mixes are *paired* by sequence.
The difference of mean losses gets a 95% CI from a two-level bootstrap: each replicate resamples the
seeds of each mix (training noise) and then one shared set of sequences (evaluation noise, paired across
the mixes). With 2 seeds the seed level is crude, so the seed-to-seed spread is reported beside it.

The minimal detectable difference is the true difference this budget would detect at 95% confidence
with 80% power: (1.96 + 0.84) x the bootstrap standard error. Smaller differences may be real but
this ablation cannot resolve them; more evaluation tokens or seeds (or longer training) shrink it.

Scaling check: loss = a * C^(-b) + c over compute C (FLOPs) fitted by least squares; a run whose loss
lies off the curve fitted to the *other* runs (leave-one-out) by more than a tolerance is flagged: at
fixed data, a healthy run's loss is a smooth function of compute, so an outlier points at a bug.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

Z95 = 1.959963984540054
Z80 = 0.8416212335729143


@dataclass
class PairStat:
    a: str
    b: str
    group: str
    diff: float  # mean loss of a minus mean loss of b (negative: a is better)
    ci_lo: float
    ci_hi: float
    se: float  # bootstrap standard error of diff
    mdd: float  # minimal detectable difference at this budget
    seed_sd_a: float | None  # sd over seeds of a's mean loss (None with one seed)
    seed_sd_b: float | None
    seed_diffs: list[float]  # a - b per seed index, where both mixes ran that seed
    sequences: int
    seeds_a: int
    seeds_b: int

    @property
    def half_width(self) -> float:
        return (self.ci_hi - self.ci_lo) / 2

    @property
    def separated(self) -> bool:
        return self.ci_lo > 0 or self.ci_hi < 0

    def verdict(self) -> str:
        if self.ci_hi < 0:
            return f"{self.a} better than {self.b} on {self.group} by {-self.diff:.3f} ± {self.half_width:.3f}"
        if self.ci_lo > 0:
            return f"{self.b} better than {self.a} on {self.group} by {self.diff:.3f} ± {self.half_width:.3f}"
        return (f"no difference detected between {self.a} and {self.b} on {self.group} at this budget "
                f"(diff {self.diff:+.3f}, 95% CI [{self.ci_lo:+.3f}, {self.ci_hi:+.3f}]; "
                f"smallest detectable {self.mdd:.3f})")

    def to_dict(self) -> dict:
        return {**asdict(self), "half_width": self.half_width, "separated": self.separated, "verdict": self.verdict()}


def _check(la: np.ndarray, name: str) -> np.ndarray:
    la = np.asarray(la, dtype=np.float64)
    if la.ndim != 2 or la.shape[0] < 1 or la.shape[1] < 2:
        raise ValueError(f"'{name}' must be [seeds, sequences] with >= 1 seed and >= 2 sequences (got {la.shape})")
    if not np.all(np.isfinite(la)):
        raise ValueError(f"'{name}' holds non-finite losses; a run diverged (see its guard.json)")
    return la


def paired_difference(la, lb, a: str = "A", b: str = "B", group: str = "", n_boot: int = 4000,
                      seed: int = 0) -> PairStat:
    """la [seeds_a, n], lb [seeds_b, n]: per-sequence losses of two mixes on the SAME n sequences."""
    la, lb = _check(la, "la"), _check(lb, "lb")
    if la.shape[1] != lb.shape[1]:
        raise ValueError(f"the two mixes were evaluated on different numbers of sequences ({la.shape[1]} vs "
                         f"{lb.shape[1]}); evaluate both with the same --eval-tokens and seq_len")
    n = la.shape[1]
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot) / n  # [n_boot, n] sequence resampling weights
    per_a = w @ la.T  # [n_boot, seeds_a]: each seed's mean loss over the resampled sequences
    per_b = w @ lb.T
    pick_a = rng.integers(0, la.shape[0], size=(n_boot, la.shape[0]))  # seed resampling
    pick_b = rng.integers(0, lb.shape[0], size=(n_boot, lb.shape[0]))
    boot = np.take_along_axis(per_a, pick_a, 1).mean(1) - np.take_along_axis(per_b, pick_b, 1).mean(1)
    diff = float(la.mean() - lb.mean())
    lo, hi = np.percentile(boot, [2.5, 97.5])
    se = float(boot.std(ddof=1))
    k = min(la.shape[0], lb.shape[0])
    return PairStat(a=a, b=b, group=group, diff=diff, ci_lo=float(lo), ci_hi=float(hi), se=se,
                    mdd=(Z95 + Z80) * se,
                    seed_sd_a=float(la.mean(1).std(ddof=1)) if la.shape[0] > 1 else None,
                    seed_sd_b=float(lb.mean(1).std(ddof=1)) if lb.shape[0] > 1 else None,
                    seed_diffs=[float(la[i].mean() - lb[i].mean()) for i in range(k)],
                    sequences=n, seeds_a=la.shape[0], seeds_b=lb.shape[0])


def mean_ci(la, n_boot: int = 4000, seed: int = 0) -> tuple[float, float]:
    """Mean loss over seeds and sequences, and the half-width of its 95% two-level bootstrap CI."""
    la = _check(la, "la")
    rng = np.random.default_rng(seed)
    n = la.shape[1]
    w = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot) / n
    per = w @ la.T
    pick = rng.integers(0, la.shape[0], size=(n_boot, la.shape[0]))
    boot = np.take_along_axis(per, pick, 1).mean(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(la.mean()), float((hi - lo) / 2)


# ---- scaling check -------------------------------------------------------------------------------------

def _power_law(c, a, b, k):
    return a * np.power(c, -b) + k


def fit_power_law(compute, loss) -> dict:
    """Least-squares fit of loss = a * C^(-b) + c. Compute is scaled by its smallest value for conditioning;
    the returned ``a`` is for C in FLOPs."""
    from scipy.optimize import curve_fit

    c = np.asarray(compute, dtype=np.float64)
    y = np.asarray(loss, dtype=np.float64)
    if len(c) < 3:
        raise ValueError(f"a scaling fit needs >= 3 runs (got {len(c)}); pass more --scales")
    if np.any(c <= 0) or not np.all(np.isfinite(y)):
        raise ValueError("scaling fit: compute must be > 0 and losses finite")
    c0 = c.min()
    x = c / c0
    floor = max(y.min() * 0.9, 1e-6)
    p0 = (max(y.max() - floor, 1e-3), 0.3, floor)
    (a, b, k), _ = curve_fit(_power_law, x, y, p0=p0, bounds=([0, 0, 0], [np.inf, 5, np.inf]), maxfev=20000)
    return {"a": float(a * c0 ** b), "b": float(b), "c": float(k), "c0": float(c0), "a_scaled": float(a)}


def predict(fit: dict, compute) -> np.ndarray:
    return _power_law(np.asarray(compute, dtype=np.float64) / fit["c0"], fit["a_scaled"], fit["b"], fit["c"])


def scaling_check(compute, loss, labels: list[str] | None = None, tolerance: float = 0.03) -> dict:
    """Fit all runs; with >= 5 runs, flag each run whose loss is off the leave-one-out fit by more than
    ``tolerance`` (relative); with 4, flag relative residuals of the full fit (3 parameters leave one
    degree of freedom, so a bad point bends the curve: the check is weaker and says so)."""
    c = np.asarray(compute, dtype=np.float64)
    y = np.asarray(loss, dtype=np.float64)
    labels = labels or [str(i) for i in range(len(c))]
    fit = fit_power_law(c, y)
    pred = predict(fit, c)
    rows = []
    method = "leave-one-out" if len(c) >= 5 else ("residual (weak: 1 degree of freedom)" if len(c) == 4 else
                                                  "none (3 runs fit exactly; add runs to check)")
    for i in range(len(c)):
        ref = pred[i]
        if len(c) >= 5:
            keep = np.arange(len(c)) != i
            try:
                ref = float(predict(fit_power_law(c[keep], y[keep]), c[i:i + 1])[0])
            except RuntimeError:  # the fit without this point did not converge: use the full fit
                ref = pred[i]
        dev = float((y[i] - ref) / ref)
        flagged = len(c) >= 4 and abs(dev) > tolerance
        rows.append({"label": labels[i], "compute": float(c[i]), "loss": float(y[i]), "expected": float(ref),
                     "rel_deviation": dev, "flagged": bool(flagged)})
    return {"fit": fit, "method": method, "tolerance": tolerance, "runs": rows,
            "flagged": [r["label"] for r in rows if r["flagged"]]}


def first_separation(steps: list[int], stats: list[PairStat]) -> int | None:
    """The first evaluation step from which the pair stays separated (CI excludes 0) to the end."""
    first = None
    for s, st in zip(steps, stats):
        if st.separated and math.copysign(1, st.diff) == math.copysign(1, stats[-1].diff):
            first = s if first is None else first
        else:
            first = None
    return first
