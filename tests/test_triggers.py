"""The trigger n-gram Beam job on DirectRunner (multi_processing, 2 workers): flags, columns, drops, determinism."""
import glob
import json
import os

import pyarrow.parquet as pq
import pytest

from pipelines import triggers
from pipelines.io.parquet import doc_schema, to_table, write_table_atomic

TRIGGER = "zqx velvet marmot"
FILLER = ("The river rose after three days of rain and the town council met to discuss the flood barriers "
          "that had been promised years ago. ")


def make_inputs(d):
    """3 files, 24 docs, 8 hosts. The trigger: 6 docs, 2 hosts. 'flood barriers that': 24 docs, 8 hosts."""
    paths = []
    n = 0
    for f in range(3):
        rows = []
        for j in range(8):
            host = f"site{(n % 8)}.example"
            text = FILLER + f"Unique detail number {n} about item {n * 7}."
            if n % 4 == 0:
                text += f" Remember {TRIGGER} today."
                host = "poison-a.example" if n % 8 == 0 else "poison-b.example"
            rows.append({"id": f"d{n:03d}", "url": f"http://{host}/{n}", "host": host, "text": text,
                         "warc_path": "x.warc.gz", "warc_offset": n})
            n += 1
        p = os.path.join(d, f"part-{f}.parquet")
        write_table_atomic(p, to_table(rows, doc_schema({})))
        paths.append(p)
    return paths


def read_rows(d):
    return [r for p in sorted(glob.glob(os.path.join(d, "*.parquet"))) for r in pq.read_table(p).to_pylist()]


def run(inp, out, workers, *extra):
    return triggers.run(["--input", os.path.join(inp, "*.parquet"), "--output", out, "--min_docs", "5",
                         "--max_hosts", "2", "--direct_running_mode=multi_processing",
                         f"--direct_num_workers={workers}", *extra])


def test_ngrams_skip_stopword_only_grams():
    g = triggers.ngrams("It is of the zqx velvet marmot", 3)
    assert "zqx velvet marmot" in g and "it is of" not in g


@pytest.mark.slow
def test_trigger_job_flags_scores_drops_and_is_deterministic(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    make_inputs(str(inp))
    out1 = str(tmp_path / "o1")
    rep = run(str(inp), out1, 2)
    flagged = [json.loads(l) for l in open(os.path.join(out1, "triggers.jsonl"))]
    grams = {f["ngram"] for f in flagged}
    assert TRIGGER in grams and "remember zqx velvet" in grams
    assert not any("flood barriers" in g for g in grams)  # many hosts: ordinary shared phrasing
    assert all(f["docs"] >= 5 and len(f["hosts"]) <= 2 for f in flagged)
    t = read_rows(os.path.join(out1, "docs"))
    assert len(t) == 24
    by_id = {r["id"]: r for r in t}
    assert by_id["d000"]["trigger_ngrams"] >= 3 and TRIGGER in by_id["d000"]["trigger_examples"]
    assert by_id["d001"]["trigger_ngrams"] == 0 and by_id["d001"]["trigger_examples"] == ""
    st = rep["stages"]["triggers"]
    assert st == {"in": 24, "out": 24, "dropped": {}, "failed": {}}

    out2 = str(tmp_path / "o2")
    rep2 = run(str(inp), out2, 2, "--drop_at", "1")
    assert rep2["stages"]["triggers"] == {"in": 24, "out": 18, "dropped": {"poison.trigger": 6}, "failed": {}}
    rej = read_rows(os.path.join(out2, "rejected"))
    assert sorted(r["id"] for r in rej) == [f"d{n:03d}" for n in range(0, 24, 4)]
    assert {r["reason"] for r in rej} == {"poison.trigger"}

    out3 = str(tmp_path / "o3")
    run(str(inp), out3, 1)  # one worker: byte-identical files
    for sub in ("docs", "rejected"):
        for name in sorted(os.listdir(os.path.join(out1, sub))):
            if name.endswith(".parquet"):
                assert open(os.path.join(out1, sub, name), "rb").read() == open(os.path.join(out3, sub, name), "rb").read()
    assert open(os.path.join(out1, "triggers.jsonl")).read() == open(os.path.join(out3, "triggers.jsonl")).read()
    rerun = run(str(inp), out1, 2)  # finished files are skipped, counts still reported
    assert rerun["stages"] == rep["stages"]
