"""Logistic regression over a handful of named features: how a classifier combines fastText with signals.

A few features and a few thousand rows need no library: Newton's method on the L2-regularized log loss
converges in ~10 steps and is deterministic. Saved as JSON (names, standardization, weights), never
pickled.
"""
from __future__ import annotations

import json

import numpy as np


class Combiner:
    def __init__(self, names: list[str], mean: np.ndarray, std: np.ndarray, w: np.ndarray, b: float):
        self.names, self.mean, self.std, self.w, self.b = list(names), mean, std, w, float(b)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, names: list[str], l2: float = 1.0,
            sample_weight: np.ndarray | None = None, iters: int = 50) -> "Combiner":
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.shape[1] != len(names):
            raise ValueError(f"'names' has {len(names)} entries but X has {X.shape[1]} columns")
        sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        mean = X.mean(0)
        std = X.std(0)
        std[std == 0] = 1.0
        Z = np.hstack([(X - mean) / std, np.ones((len(X), 1))])
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
        return cls(names, mean, std, beta[:-1], beta[-1])

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

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
            f.write("\n")

    @classmethod
    def load(cls, path: str) -> "Combiner":
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))
