"""``gristmill run`` end to end: curate with every classifier in 2 worker processes, dedup, tokenizer, tokenize and
the CPU ablation, on two small WARCs cut from the bundled sample crawl (the quick start's path, on fewer pages)."""
import json
import os

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from pipelines import run
from tests.conftest import MULTI, SAMPLE

pytestmark = pytest.mark.slow

SCORES = ("llm_score", "injection_score", "quality_score", "hidden_text_ratio", "unicode_anomalies")


def cut_warc(src, dest, start: int, responses: int) -> None:
    """``responses`` response records of ``src`` from the ``start``-th on, rewritten to ``dest`` (gzip per record)."""
    with open(src, "rb") as f, open(dest, "wb") as out:
        w, seen = WARCWriter(out, gzip=True), 0
        for rec in ArchiveIterator(f):
            if rec.rec_type != "response":
                continue
            if start <= seen < start + responses:
                w.write_record(rec)
            seen += 1


def test_curate_flags_use_every_core_unless_the_user_chose():
    assert run.curate_flags([], 1) == []
    workers = min(len(os.sched_getaffinity(0)), 7)
    assert run.curate_flags(["--foo"], 7) == (["--foo"] if workers < 2 else  # one core: one process
                                              ["--foo", f"--direct_num_workers={workers}",
                                               "--direct_running_mode=multi_processing"])
    assert run.curate_flags([], 2) == ([] if workers < 2 else
                                       ["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    for chosen in (["--runner=DataflowRunner"], ["--direct_num_workers", "3"], ["--direct_running_mode=in_memory"]):
        assert run.curate_flags(chosen, 7) == chosen


@pytest.mark.heavy
def test_run_on_two_small_warcs_scores_every_page_and_reconciles(tmp_path, capsys):
    # 10 of the Common Crawl excerpt's pages (several fail C4's rules: rejected text for the ablation) and the
    # last 6 of mixed.warc.gz (a JSON body and a 404 among them); few pages, since the LLM stage takes ~6 s a page
    inputs = [tmp_path / "a.warc.gz", tmp_path / "b.warc.gz"]
    cut_warc(SAMPLE / "CC-MAIN-2020-34-sample.warc.gz", inputs[0], 0, 10)
    cut_warc(SAMPLE / "mixed.warc.gz", inputs[1], 74, 6)
    out = tmp_path / "out"
    assert run.main(["--input", *map(str, inputs), "--output", str(out), "--tokens", "2e4", "--vocab-size", "512",
                     *MULTI]) == 0
    for job in ("curate", "dedup", "shards"):
        report = json.loads((out / job / "report.json").read_text())
        for name, c in report["stages"].items():
            assert c["in"] == c["out"] + sum(c["dropped"].values()) + sum(c["failed"].values()), (job, name)
    curate = json.loads((out / "curate" / "report.json").read_text())
    assert curate["stages"]["read"]["in"] == 16
    assert curate["stages"]["read"]["dropped"] == {"read.http_status": 1}
    assert curate["stages"]["decode"]["dropped"] == {"decode.not_html": 1}
    docs = [r for p in sorted((out / "curate" / "docs").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert docs and curate["stages"]["llm"]["in"] == curate["stages"]["llm"]["out"] >= len(docs)
    for d in docs:  # every kept page carries every classifier's column, and scoring alone dropped nothing
        for col in SCORES:  # the LLM-text detector judges English only (curate's llm.langs): null elsewhere
            assert (d[col] is None) == (col == "llm_score" and d["lang"] != "en"), (col, d["url"], d["lang"])
            assert d[col] is None or d[col] >= 0.0, (col, d["url"])
        assert (d["llm_score"] or 0.0) <= 1.0 and d["injection_score"] <= 1.0 and d["quality_score"] <= 1.0
    assert {d["lang"] for d in docs} - {"en"}, "the sample crawl has non-English pages: the test above needs them"
    ablate = json.loads((out / "ablate" / "report.json").read_text())
    assert len(ablate["verdicts"]) == 1 and "done in" in capsys.readouterr().out
