"""Resume: a run stopped after N steps and resumed ends exactly where an uninterrupted run does."""
import json

import pytest

import trainer_shards
from trainer.cli import load_data
from trainer.model import preset
from trainer.train import TrainConfig, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    return trainer_shards.shared()


def run(data, out, **kw):
    d = load_data(data["shards"], data["dirty_mix"], 64, seed=1, tokenizer=data["tokenizer"])
    cfg = TrainConfig(tokens=8 * 64 * 24, batch_size=8, lr=3e-3, log_every=4, progress=False, eval_tokens=64 * 8,
                      eval_every=12, seed=1, **kw)
    return train(preset("tiny", vocab_size=512), cfg, d.sampler, d.eval_sources, out, mix=d.mix,
                 tokenizer_hash=d.tokenizer_hash, byte_lengths=d.byte_lengths, resume=True, log=lambda s: None)


def test_stop_and_resume_matches_uninterrupted(data, tmp_path):
    whole = run(data, tmp_path / "whole")
    part = run(data, tmp_path / "split", stop_after=9)  # "killed" after step 9 (a checkpoint is written there)
    assert part["stopped_at"] == 9
    resumed = run(data, tmp_path / "split")
    a = [h["loss"] for h in whole["train_curve"]]
    b = [h["loss"] for h in resumed["train_curve"]]
    assert len(a) == len(b) == 24
    assert b == pytest.approx(a, rel=1e-5, abs=1e-6)
    for g in whole["final_eval"]:
        assert resumed["final_eval"][g]["seq_losses"] == pytest.approx(whole["final_eval"][g]["seq_losses"], abs=1e-5)
    assert [e["step"] for e in resumed["evals"]] == [12, 24]
    assert resumed["epochs"] == pytest.approx(whole["epochs"])
    logged = [json.loads(l) for l in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in logged if r.get("event") == "step"]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # no duplicate lines from the killed segment


def test_resume_refuses_another_mix(data, tmp_path):
    run(data, tmp_path / "r", stop_after=2)
    d = load_data(data["shards"], data["clean_mix"], 64, seed=1)
    cfg = TrainConfig(tokens=8 * 64 * 24, batch_size=8, progress=False, seed=1, eval_every=12, log_every=4,
                      lr=3e-3, eval_tokens=64 * 8)
    with pytest.raises(ValueError, match="--resume: mix .* differs from the checkpoint's"):
        train(preset("tiny", vocab_size=512), cfg, d.sampler, d.eval_sources, tmp_path / "r", mix=d.mix,
              tokenizer_hash=d.tokenizer_hash, resume=True, log=lambda s: None)
