"""Logistic regression over a handful of named features: how a classifier combines fastText with signals.

A few features and a few thousand rows need no library: Newton's method on the L2-regularized log loss
converges in ~10 steps and is deterministic. Saved as JSON (names, standardization, weights), never
pickled.

``nonneg`` names features whose weight may not be negative: a signal that describes an attack's move
(or any evidence *for* the class) must never lower the score. Without the constraint, a feature that the
training families happen to share with hard negatives gets a negative weight, and an unseen family that
makes that move is scored down (measured: the "rule hits" weight went negative when hijacking was held
out). Solved by active set: refit without the features whose weight came out negative (their weight is 0).

``signs`` generalizes it: {name: +1 or -1}, the direction a feature may move the score. The LLM-text detector
uses it so that its predictability features count only the way zero-shot detection says they should
(filters/llm_text.py: SIGNS).
"""
from __future__ import annotations

import abc
import json

import numpy as np


def logit(p, eps: float = 1e-4) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [eps, 1 - eps]: how a probability (fastText's, another head's) enters a
    combiner, and how a combiner's output is put back on the logit scale; the clip keeps a saturated 0 or 1 finite."""
    p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    return np.log(p / (1 - p))


class JsonModel(abc.ABC):
    """``save`` / ``load`` through ``to_dict`` / ``from_dict``: a model file is JSON, never a pickle."""

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """The model as plain JSON values."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, d: dict):
        """The model ``to_dict`` gave."""

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
            f.write("\n")

    @classmethod
    def load(cls, path: str):
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


class Combiner(JsonModel):
    def __init__(self, names: list[str], mean: np.ndarray, std: np.ndarray, w: np.ndarray, b: float):
        self.names, self.mean, self.std, self.w, self.b = list(names), mean, std, w, float(b)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, names: list[str], l2: float = 1.0,
            sample_weight: np.ndarray | None = None, iters: int = 50,
            nonneg: tuple[str, ...] | list[str] = (), signs: dict[str, int] | None = None) -> "Combiner":
        unknown = sorted(set(nonneg) - set(names))
        if unknown:
            raise ValueError(f"'nonneg' names features not in 'names': {unknown}")
        signs = {**{n: 1 for n in nonneg}, **(signs or {})}
        bad = {n: v for n, v in signs.items() if n not in names or v not in (1, -1)}
        if bad:
            raise ValueError(f"'signs' must map features in 'names' to +1 or -1, got {bad}")
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.shape[1] != len(names):
            raise ValueError(f"'names' has {len(names)} entries but X has {X.shape[1]} columns")
        sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        mean = X.mean(0)
        std = X.std(0)
        std[std == 0] = 1.0
        Z = np.hstack([(X - mean) / std, np.ones((len(X), 1))])
        sign = np.array([signs.get(n, 0) for n in names])
        active = list(range(X.shape[1]))
        while True:
            beta = cls._newton(Z[:, active + [X.shape[1]]], y, sw, l2, iters)
            wrong = [active[j] for j, w in enumerate(beta[:-1]) if w * sign[active[j]] < 0]
            if not wrong:
                break
            active = [a for a in active if a not in wrong]
        w = np.zeros(X.shape[1])
        w[active] = beta[:-1]
        return cls(names, mean, std, w, beta[-1])

    @staticmethod
    def _newton(Z: np.ndarray, y: np.ndarray, sw: np.ndarray, l2: float, iters: int) -> np.ndarray:
        """Weights (last = bias) minimizing the weighted, L2-penalized log loss; Z's last column is ones."""
        beta = np.zeros(Z.shape[1])
        reg = np.full(Z.shape[1], l2)
        reg[-1] = 0.0  # no penalty on the bias
        for _ in range(iters):
            p = 1 / (1 + np.exp(-np.clip(Z @ beta, -30, 30)))
            g = Z.T @ (sw * (p - y)) + reg * beta
            H = (Z * (sw * p * (1 - p))[:, None]).T @ Z + np.diag(reg) + 1e-9 * np.eye(len(beta))
            step = np.linalg.solve(H, g)
            beta -= step
            if np.abs(step).max() < 1e-8:
                break
        return beta

    def predict(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=float) - self.mean) / self.std
        return 1 / (1 + np.exp(-np.clip(Z @ self.w + self.b, -30, 30)))

    def to_dict(self) -> dict:
        r = lambda a: [round(float(v), 8) for v in a]
        return {"names": self.names, "mean": r(self.mean), "std": r(self.std), "weights": r(self.w),
                "bias": round(self.b, 8)}

    @classmethod
    def from_dict(cls, d: dict) -> "Combiner":
        return cls(d["names"], np.array(d["mean"]), np.array(d["std"]), np.array(d["weights"]), d["bias"])
