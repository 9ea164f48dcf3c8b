"""Silent-bug guards: checks that stop a run whose numbers would otherwise look plausible but mean nothing.

An ablation's conclusion is only as good as the runs under it, and the worst bugs do not crash: a
label shift lost in a refactor, a mask that lets attention see the future, a bad init, a loss that
diverged. Each guard raises ``GuardError`` with what it saw, what it expected and what to check.

- ``check_shift``: targets must be the inputs shifted by one token (a wrong shift trains a model to copy).
- ``check_causal``: changing a future token must not change earlier logits (a leaky mask does).
- ``check_first_loss``: the loss before learning is near ln(vocab); far from it is a wiring or init bug.
- ``LossWatch``: NaN/inf or a spike far above the recent smoothed loss stops the run.
- ``check_determinism`` (in train.py, needs two runs): two identical short runs give the same losses.
"""
from __future__ import annotations

import math

import torch


class GuardError(RuntimeError):
    """A guard fired. ``step`` is the step at which it did (None before training)."""

    def __init__(self, guard: str, message: str, step: int | None = None):
        super().__init__(f"[guard {guard}] {message}")
        self.guard = guard
        self.step = step


def check_shift(batch: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
    """The batch is [B, T+1] tokens; x must be its first T and y its last T (next-token targets)."""
    B, T1 = batch.shape
    if x.shape != (B, T1 - 1) or y.shape != (B, T1 - 1):
        raise GuardError("shift", f"inputs {tuple(x.shape)} and targets {tuple(y.shape)} must both be {(B, T1 - 1)} "
                                  f"for a batch of {tuple(batch.shape)}")
    if not (torch.equal(x, batch[:, :-1]) and torch.equal(y, batch[:, 1:])):
        same = bool(torch.equal(x, y))
        raise GuardError("shift", "targets are not the inputs shifted by one token"
                         + (" (targets == inputs: the model would learn to copy)" if same else "")
                         + "; check how the batch is split into inputs and targets")


@torch.no_grad()
def check_causal(model: torch.nn.Module, vocab: int, seq_len: int, device: torch.device) -> None:
    """Change the token at position p and require logits before p to stay put (up to float noise)."""
    was_training = model.training
    model.eval()
    try:
        g = torch.Generator().manual_seed(1234)
        T = min(seq_len, 32)
        x = torch.randint(0, vocab, (2, T), generator=g)
        p = T // 2
        x2 = x.clone()
        x2[:, p] = (x2[:, p] + 1) % vocab
        a = model(x.to(device)).float()
        b = model(x2.to(device)).float()
        before = (a[:, :p] - b[:, :p]).abs().max().item()
        after = (a[:, p:] - b[:, p:]).abs().max().item()
    finally:
        model.train(was_training)
    if not before <= 1e-4 * max(1.0, after):
        raise GuardError("causal", f"changing the token at position {p} changed the logits at earlier positions by "
                                   f"{before:.3g} (changes at {p} and later: {after:.3g}); attention sees the future: "
                                   "check the causal mask")


def first_loss_band(vocab: int, tolerance: float) -> tuple[float, float]:
    ln_v = math.log(vocab)
    return ln_v * (1 - tolerance), ln_v * (1 + tolerance)


def check_first_loss(loss: float, vocab: int, tolerance: float = 0.25) -> None:
    """Before any update, a well-initialised model is near uniform over its vocab: loss ≈ ln(vocab)."""
    lo, hi = first_loss_band(vocab, tolerance)
    if not (lo <= loss <= hi):
        raise GuardError("first_loss", f"first-step loss {loss:.4f} is outside [{lo:.3f}, {hi:.3f}] around ln(vocab="
                                       f"{vocab})={math.log(vocab):.3f}; check the init scale (init_std), the "
                                       "output layer and the loss wiring", step=0)


class LossWatch:
    """Stops on a non-finite loss, or on a loss above ``spike_ratio`` x its smoothed value after ``warmup`` steps."""

    def __init__(self, spike_ratio: float = 1.8, warmup: int = 50, beta: float = 0.95):
        if spike_ratio <= 1:
            raise ValueError(f"'spike_ratio' must be > 1 (got {spike_ratio})")
        self.spike_ratio, self.warmup, self.beta = spike_ratio, warmup, beta
        self.ema: float | None = None
        self.seen = 0

    def __call__(self, step: int, loss: float) -> None:
        if not math.isfinite(loss):
            raise GuardError("nan", f"loss is {loss} at step {step}", step=step)
        if self.ema is not None and self.seen >= self.warmup and loss > self.spike_ratio * self.ema:
            raise GuardError("spike", f"loss {loss:.4f} at step {step} is over {self.spike_ratio}x its smoothed value "
                                      f"{self.ema:.4f}; lower the learning rate or raise --spike-ratio", step=step)
        self.ema = loss if self.ema is None else self.beta * self.ema + (1 - self.beta) * loss
        self.seen += 1

    def state_dict(self) -> dict:
        return {"ema": self.ema, "seen": self.seen}

    def load_state_dict(self, d: dict) -> None:
        self.ema, self.seen = d["ema"], d["seen"]
