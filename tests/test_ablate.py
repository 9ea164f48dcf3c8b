"""gristmill ablate end to end on the CPU: two mixes x two seeds on real shards, verdicts, resume, scaling."""
import json

import pytest

import trainer_shards
from pipelines.ablate import main as ablate_main

pytestmark = pytest.mark.slow

ARGS = ["--preset", "tiny", "--tokens", "8192", "--seeds", "2", "--batch-size", "8", "--eval-tokens", "1024",
        "--eval-every", "8", "--no-progress"]


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    data = trainer_shards.shared()
    out = tmp_path_factory.mktemp("abl")
    rc = ablate_main(["--shards", data["shards"], "--mixes", data["mixes"], "--output", str(out),
                      "--tokenizer", data["tokenizer"], *ARGS])
    assert rc == 0
    return data, out


def test_every_mix_and_seed_ran_and_the_report_says_which_is_better(ablation):
    data, out = ablation
    rep = json.loads((out / "report.json").read_text())
    assert [m["name"] for m in rep["mixes"]] == ["clean", "dirty"]
    assert sorted((r["mix"], r["seed"]) for r in rep["runs"]) == [("clean", 0), ("clean", 1), ("dirty", 0), ("dirty", 1)]
    assert rep["groups"] == ["clean", "junk"]
    by_group = {p["group"]: p for p in rep["pairs"]}
    clean = by_group["clean"]
    # Half of the dirty mix's tokens are prompt-injection text: on held-out Austen the clean mix must win.
    assert clean["diff"] < 0 and clean["separated"], clean["verdict"]
    assert clean["verdict"].startswith("clean better than dirty on clean by")
    assert clean["seed_sd_a"] is not None and len(clean["seed_diffs"]) == 2
    assert clean["curve"][-1]["step"] == 16 and len(clean["curve"]) == 2
    for g in ("clean", "junk"):
        assert rep["min_detectable_difference"][g]["median"] > 0
        for m in ("clean", "dirty"):
            assert rep["table"][m][g]["ci95"] > 0 and rep["table"][m][g]["bits_per_byte"] > 0


def test_rerun_skips_finished_runs(ablation, capsys):
    data, out = ablation
    before = (out / "runs" / "clean" / "seed0" / "result.json").stat().st_mtime_ns
    rc = ablate_main(["--shards", data["shards"], "--mixes", data["mixes"], "--output", str(out),
                      "--tokenizer", data["tokenizer"], *ARGS])
    assert rc == 0
    text = capsys.readouterr().out
    assert text.count("skip run:") == 4 and "step:" not in text
    assert (out / "runs" / "clean" / "seed0" / "result.json").stat().st_mtime_ns == before


def test_scaling_runs_and_fit(tmp_path):
    data = trainer_shards.shared()
    rc = ablate_main(["--shards", data["shards"], "--mixes", data["mixes"], "--output", str(tmp_path),
                      "--preset", "tiny", "--tokens", "2048", "--seeds", "1", "--batch-size", "4", "--eval-tokens", "512",
                      "--no-progress", "--scales", "tokens=1024,2048,4096,8192", "--scale-group", "clean"])
    assert rc == 0
    sc = json.loads((tmp_path / "report.json").read_text())["scaling"]
    assert [r["label"] for r in sc["runs"]] == ["tokens=1024", "tokens=2048", "tokens=4096", "tokens=8192"]
    losses = [r["loss"] for r in sc["runs"]]
    assert losses == sorted(losses, reverse=True)  # more compute, lower held-out loss
    assert "fit" in sc and sc["method"].startswith("residual")


def test_bad_mixes_file_is_a_message(tmp_path, capsys):
    data = trainer_shards.shared()
    bad = tmp_path / "m.yaml"
    bad.write_text("mixes:\n- {name: a, groups: {nosuch: 1.0}}\n")
    rc = ablate_main(["--shards", data["shards"], "--mixes", str(bad), "--output", str(tmp_path / "o"), *ARGS])
    assert rc == 2 and "nosuch" in capsys.readouterr().err
