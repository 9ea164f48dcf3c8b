"""Silent-bug guards fire on planted bugs, name what they saw, and point at the last good checkpoint."""
import json

import pytest

import trainer_shards
import trainer.train as train_mod
from shards.mix import MixSampler, load_mix
from trainer.cli import load_data
from trainer.guards import GuardError, LossWatch, check_first_loss
from trainer.model import Attention, preset
from trainer.train import TrainConfig, check_determinism, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    return trainer_shards.shared()


def go(data, out=None, model=None, **kw):
    d = load_data(data["shards"], data["dirty_mix"], 64, seed=0)
    cfg = TrainConfig(**{**dict(tokens=8 * 64 * 12, batch_size=8, lr=3e-3, log_every=2, progress=False,
                                eval_tokens=64 * 4), **kw})
    return train(model or preset("tiny", vocab_size=512), cfg, d.sampler, d.eval_sources, out, log=lambda s: None)


def test_scrambled_label_shift_is_caught(data, monkeypatch):
    monkeypatch.setattr(train_mod, "split_batch", lambda b: (b[:, :-1], b[:, :-1]))  # planted: targets = inputs
    with pytest.raises(GuardError, match=r"targets are not the inputs shifted by one token \(targets == inputs"):
        go(data)


def test_off_by_two_shift_is_caught(data, monkeypatch):
    monkeypatch.setattr(train_mod, "split_batch", lambda b: (b[:, :-2], b[:, 2:]))
    with pytest.raises(GuardError, match="shift"):
        go(data)


def test_leaky_attention_mask_is_caught(data, monkeypatch):
    monkeypatch.setattr(Attention, "causal", False)
    with pytest.raises(GuardError, match="attention sees the future"):
        go(data)


def test_bad_init_is_caught_at_the_first_step(data):
    with pytest.raises(GuardError, match=r"first-step loss .* outside .* ln\(vocab=512\)"):
        go(data, model=preset("tiny", vocab_size=512, init_std=3.0))


def test_divergence_stops_with_the_last_good_checkpoint(data, tmp_path):
    # Warming up to lr 1.0 without clipping diverges after a few steps (measured: 6.1, 6.2, 6.8, 9.9, 14.2, ...).
    with pytest.raises(GuardError) as e:
        go(data, tmp_path, lr=1.0, warmup_frac=1.0, grad_clip=0.0, ckpt_every=2, spike_warmup=2, log_every=1)
    assert e.value.guard in ("nan", "spike") and e.value.step >= 2
    rec = json.loads((tmp_path / "guard.json").read_text())
    # last_good_step counts completed steps; the failing step is a 0-based index, so it was never completed
    assert rec["last_good_step"] is not None and 2 <= rec["last_good_step"] <= e.value.step
    assert "last good checkpoint" in str(e.value) and str(tmp_path / "latest.pt") in str(e.value)


def test_loss_watch_thresholds():
    w = LossWatch(spike_ratio=1.5, warmup=3)
    for s, l in enumerate([5.0, 4.0, 3.9, 3.8, 3.9]):
        w(s, l)
    with pytest.raises(GuardError, match="over 1.5x its smoothed value"):
        w(5, 9.0)
    with pytest.raises(GuardError, match="loss is nan at step 6"):
        w(6, float("nan"))
    check_first_loss(6.3, 512)  # ln 512 = 6.24
    with pytest.raises(GuardError):
        check_first_loss(2.0, 512)


def test_unseeded_sampler_fails_the_determinism_check(data):
    seeds = iter([1, 2])  # planted: each run draws a different data order
    with pytest.raises(GuardError, match="two identical 3-step runs differ"):
        check_determinism(preset("tiny", vocab_size=512), TrainConfig(tokens=1, batch_size=8, progress=False),
                          lambda: MixSampler(data["shards"], load_mix(data["dirty_mix"]), 64, seed=next(seeds)), steps=3)
