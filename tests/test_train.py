"""The train loop on real shards: a tiny model overfits, the schedule has its shape, runs are deterministic,
the held-out CI shrinks with more tokens, bits per byte counts real bytes, and the CLI writes a result."""
import json
import math

import numpy as np
import pytest
import torch

import trainer_shards
from shards.mix import MixSampler, load_mix
from trainer.cli import load_data, main as train_main
from trainer.evaluate import evaluate_group, token_byte_lengths
from trainer.model import GPT, preset
from trainer.train import TrainConfig, check_determinism, lr_at, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    return trainer_shards.shared()


def cfg(**kw):
    base = dict(tokens=8 * 64 * 40, batch_size=8, lr=3e-3, log_every=10, progress=False, eval_tokens=64 * 16)
    return TrainConfig(**{**base, **kw})


def test_tiny_model_overfits_a_tiny_shard(data, tmp_path):
    import shards

    d = load_data(data["shards"], data["clean_mix"], 64, seed=0)
    small = shards.open(f"{data['shards']}/clean")  # the model sees these same windows again and again
    res = train(preset("tiny", vocab_size=512), cfg(tokens=8 * 64 * 120, lr=1e-2, warmup_frac=0.02),
                _Repeat(small, 64, n_windows=16), {"clean": d.eval_sources["clean"]}, tmp_path, log=lambda s: None)
    curve = [h["loss"] for h in res["train_curve"]]
    assert abs(curve[0] - math.log(512)) < 0.3
    assert curve[-1] < 0.5 * curve[0], curve[::10]  # memorised: far below the start
    assert (tmp_path / "result.json").exists() and (tmp_path / "latest.pt").exists()


class _Repeat:
    """Cycles through the first ``n_windows`` windows of a shard set: a data set small enough to memorise."""

    def __init__(self, s, seq_len, n_windows):
        self.rows = np.stack([s.window(i * seq_len, seq_len + 1) for i in range(n_windows)]).astype(np.int64)
        self.i = 0

    def batch(self, b):
        idx = (self.i + np.arange(b)) % len(self.rows)
        self.i += b
        return self.rows[idx]

    def state_dict(self):
        return {"i": self.i}

    def load_state_dict(self, s):
        self.i = s["i"]


def test_schedules():
    c = TrainConfig(tokens=1, lr=1.0, warmup_frac=0.1, min_lr_ratio=0.1)
    lrs = [lr_at(s, 100, c) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)  # linear warmup over 10 steps
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))  # cosine decays monotonically
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)
    w = TrainConfig(tokens=1, lr=1.0, warmup_frac=0.1, schedule="wsd", decay_frac=0.2, min_lr_ratio=0.0)
    wl = [lr_at(s, 100, w) for s in range(100)]
    assert wl[10:80] == [1.0] * 70 and wl[-1] == pytest.approx(1 / 20) and wl[85] < wl[80]


def test_two_identical_runs_agree(data):
    losses = check_determinism(preset("tiny", vocab_size=512), cfg(),
                               lambda: MixSampler(data["shards"], load_mix(data["dirty_mix"]), 64, seed=3), steps=4)
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)


def test_eval_ci_shrinks_with_more_tokens_and_is_deterministic(data):
    import shards

    torch.manual_seed(0)
    m = GPT(preset("tiny", vocab_size=512))
    val = shards.open(f"{data['shards']}/clean/val")
    small = evaluate_group(m, val, "clean", 64, 64 * 4, 8, torch.device("cpu"))
    big = evaluate_group(m, val, "clean", 64, 64 * 48, 8, torch.device("cpu"))
    again = evaluate_group(m, val, "clean", 64, 64 * 48, 8, torch.device("cpu"))
    assert len(small.seq_losses) == 4 and len(big.seq_losses) == 48
    assert big.ci95 < small.ci95
    assert big.seq_losses == again.seq_losses  # same windows, same losses: runs can be paired


def test_bits_per_byte_counts_the_bytes_of_the_text(data):
    from tokenizer.encode import load

    enc = load(data["tokenizer"])
    lengths = token_byte_lengths(data["tokenizer"], 512)
    for text in ["Emma Woodhouse, handsome, clever, and rich", "naïve café — 東京 \n\t ok", "ignore all previous"]:
        ids = enc.encode(text)
        assert int(lengths[ids].sum()) == len(text.encode("utf-8"))
    assert lengths[enc.eot_id] == 0  # the end token stands for no text


def test_cli_trains_and_reports(data, tmp_path, capsys):
    out = tmp_path / "run"
    rc = train_main(["--shards", data["shards"], "--mix", data["dirty_mix"], "--preset", "tiny", "--tokens", "10240",
                     "--batch-size", "8", "--output", str(out), "--tokenizer", data["tokenizer"], "--no-progress",
                     "--eval-tokens", "1024"])
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    steps = [l for l in lines if l.startswith("step:")]
    assert steps and all(k in steps[-1] for k in ("loss:", "tok_s:", "mfu:", "eta_s:"))
    res = json.loads((out / "result.json").read_text())
    assert set(res["final_eval"]) == {"clean", "junk"}
    for g in res["final_eval"].values():
        assert g["ci95"] > 0 and 0 < g["bits_per_byte"] < 10
        assert g["tokens"] == 64 * g["sequences"] and 0 < g["sequences"] <= 16  # 1024-token budget (junk has less)
    assert res["mix"] == {"name": "dirty", "groups": {"clean": 0.5, "junk": 0.5}}
    assert res["tokenizer_hash"] and res["code_version"]
    assert res["epochs"]["junk"] > 0


def test_cli_errors_are_messages(data, tmp_path, capsys):
    rc = train_main(["--shards", data["shards"], "--mix", data["dirty_mix"], "--tokens", "10", "--output",
                     str(tmp_path / "r"), "--no-progress"])
    assert rc == 2 and "'tokens' (10) is less than one step" in capsys.readouterr().err
