"""The `gristmill dedup` Beam job end to end: same bytes with 1 and 2 workers, reruns skip, hot buckets split,
bad input counted, every dropped document in rejected/ with the id it duplicates."""
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dedup.minhash import shingles
from dedup.planted import exact_pairs, planted_corpus
from pipelines import dedup as job
from pipelines.io.parquet import doc_schema, to_table

PARAS = (Path(__file__).parent / "fixtures" / "dedup_paragraphs.txt").read_text().splitlines()
SCHEMA = doc_schema({"quality_score": "float"})


def write_inputs(folder: Path, docs: list[dict], parts: int = 2) -> None:
    folder.mkdir(parents=True)
    step = -(-len(docs) // parts)
    for k in range(parts):
        pq.write_table(to_table(docs[k * step:(k + 1) * step], SCHEMA), folder / f"part-{k}.parquet")


def read_dir(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


def rows(folder: Path) -> list[dict]:
    return [r for p in sorted(folder.glob("*.parquet")) for r in pq.read_table(p).to_pylist()]


@pytest.mark.slow
def test_same_bytes_with_one_and_two_workers_and_rerun_skips(tmp_path):
    docs = planted_corpus(PARAS, 240, seed=9, dup_rate=0.35)
    write_inputs(tmp_path / "in", docs)
    glob = str(tmp_path / "in" / "*.parquet")
    # One worker, and only 2 rounds per pipeline: the outer loop of passes must finish the components.
    one = job.run(["--input", glob, "--output", str(tmp_path / "one"), "--rounds", "2"])
    two = job.run(["--input", glob, "--output", str(tmp_path / "two"),
                   "--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    assert one["lsh"]["components.passes"] > 1 and two["lsh"]["components.passes"] == 1
    # Estimates near the threshold went to the exact check, which confirmed some and refused some.
    assert 0 < two["lsh"]["lsh.exact_confirmed"] < two["lsh"]["lsh.exact_checked"]
    for sub in ("docs", "rejected"):
        a, b = read_dir(tmp_path / "one" / sub), read_dir(tmp_path / "two" / sub)
        assert a == b and len(a) == 2
    assert one["outputs"] == [
        {**o, "path": o["path"].replace(str(tmp_path / "two"), str(tmp_path / "one"))} for o in two["outputs"]]

    stage = two["stages"]["dedup"]
    assert stage["in"] == len(docs) == stage["out"] + sum(stage["dropped"].values()) + sum(stage["failed"].values())
    kept, rejected = rows(tmp_path / "two" / "docs"), rows(tmp_path / "two" / "rejected")
    assert len(rejected) == stage["dropped"]["dedup.near_duplicate"] >= 40
    assert list(kept[0]) == list(SCHEMA.names)  # same columns as the input
    by_id = {d["id"]: d for d in docs}
    kept_ids = {r["id"] for r in kept}
    for r in rejected:
        assert r["stage"] == "dedup" and r["reason"] == "dedup.near_duplicate"
        assert r["duplicate_of"] in kept_ids                       # points at a document that was kept
        assert by_id[r["duplicate_of"]]["quality_score"] >= r["quality_score"]  # the best one was kept
    # Precision: every removed document has a near-duplicate (exact Jaccard >= 0.7) in the input.
    # Recall: of the pairs with exact Jaccard >= 0.9, both ends survive in fewer than 3%.
    lists = [shingles(d["text"], 5) for d in docs]
    close = exact_pairs(lists, 0.7)
    has_dup = {docs[i]["id"] for pair in close for i in pair}
    assert all(r["id"] in has_dup for r in rejected)
    sure = exact_pairs(lists, 0.9)
    both_kept = [(i, j) for i, j in sure if docs[i]["id"] in kept_ids and docs[j]["id"] in kept_ids]
    assert len(sure) >= 20 and len(both_kept) <= 0.03 * len(sure)

    again = job.run(["--input", glob, "--output", str(tmp_path / "two")])
    assert again["lsh"]["files.skipped_done"] == 2
    assert read_dir(tmp_path / "two" / "docs") == read_dir(tmp_path / "one" / "docs")
    assert json.loads((tmp_path / "two" / "manifest.json").read_text())["outputs"] == two["outputs"]


@pytest.mark.slow
def test_hot_bucket_of_5000_identical_pages_and_bad_input(tmp_path, capsys):
    docs = planted_corpus(PARAS, 5060, seed=4, hot_copies=5000)
    hot = [d for d in docs if d["kind"] == "hot"]
    docs.append({"id": None, "text": "a row without an id", "quality_score": 0.5})
    write_inputs(tmp_path / "in", docs, parts=3)
    (tmp_path / "in" / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    code = job.main(["--input", str(tmp_path / "in" / "*.parquet"), "--output", str(tmp_path / "out"),
                     "--num_perm", "64"])
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    stage = report["stages"]["dedup"]
    assert stage["in"] == len(docs)
    assert stage["failed"] == {"dedup.missing_id": 1}
    assert stage["dropped"]["dedup.near_duplicate"] >= 4999
    assert [f["path"] for f in report["failed_inputs"]] == [str(tmp_path / "in" / "broken.parquet")]
    # No group held the hot bucket whole: 5000 copies were split into --fanout (16) sub-buckets.
    assert report["lsh"]["lsh.subbucket_size.max"] < 5000 / 16 * 1.5
    assert report["lsh"]["lsh.bucket_centers.max"] <= 16
    keeper = min(hot, key=lambda d: (-d["quality_score"], d["id"]))
    rejected = rows(tmp_path / "out" / "rejected")
    hot_ids = {d["id"] for d in hot}
    hot_rejected = [r for r in rejected if r["id"] in hot_ids]
    assert len(hot_rejected) == 4999
    assert {r["duplicate_of"] for r in hot_rejected} == {keeper["id"]}
    assert [r["reason"] for r in rejected if r["id"] is None] == ["dedup.missing_id"]
    out = capsys.readouterr()
    assert "dedup.near_duplicate=" in out.out and "broken.parquet" in out.err


def test_bad_options_name_field_and_value(tmp_path):
    with pytest.raises(SystemExit, match=r"'threshold' must be in \(0, 1\) \(got 1.2\)"):
        job.run(["--input", str(tmp_path / "*.parquet"), "--output", str(tmp_path / "o"), "--threshold", "1.2"])
    with pytest.raises(SystemExit, match="matches no file"):
        job.run(["--input", str(tmp_path / "nothing*.parquet"), "--output", str(tmp_path / "o")])
