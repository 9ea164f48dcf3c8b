"""The tokenize Beam job end to end: groups, held-out split, counts, same bytes with 1 and 2 workers, resume."""
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shards
from pipelines import tokenize
from shards.build import is_val
from tokenizer import load, train

from conftest import MULTI

FIX = Path(__file__).parent / "fixtures" / "tokenize"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tok_path(tmp_path_factory):
    texts = pq.read_table(FIX / "docs-0.parquet", columns=["text"]).column(0).to_pylist()
    path = tmp_path_factory.mktemp("tok") / "tok.json"
    path.write_text(train(texts, vocab_size=600).to_str())
    return str(path)


def args(out, tok_path, *extra):
    return ["--input", f"{FIX}/docs-*.parquet=kept", f"{FIX}/rejected-0.parquet=rejected",
            f"{FIX}/not-parquet.parquet=kept", "--tokenizer", tok_path, "--output", str(out),
            "--val-fraction", "0.2", *extra]


def relative_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.suffix in (".arrow", ".parquet")}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory, tok_path):
    out = tmp_path_factory.mktemp("two") / "shards"
    return out, tokenize.run(args(out, tok_path, *MULTI))


def test_groups_counts_and_report(two_workers, tok_path):
    out, report = two_workers
    st = report["stages"]
    assert st["read"] == {"in": 4, "out": 3, "dropped": {}, "failed": {"read.unreadable": 1}}
    assert st["tokenize"]["in"] == 64 + 33
    assert st["tokenize"]["dropped"] == {"tokenize.empty_text": 3}
    assert st["tokenize"]["out"] == 94
    assert shards.groups(str(out)) == ["kept", "rejected"]
    enc = load(tok_path)
    assert report["tokenizer"]["hash"] == enc.hash
    for g, n_docs in (("kept", 64), ("rejected", 30)):
        sets = [shards.open(str(out / g), tokenizer_hash=enc.hash), shards.open(str(out / g / "val"))]
        assert sum(s.num_docs for s in sets) == n_docs
        assert report["groups"][g]["train"]["tokens"] == sets[0].num_tokens
        assert report["groups"][g]["val"]["docs"] == sets[1].num_docs
    rejected = pq.read_table(out / "_rejected").to_pylist()
    assert sorted(r["reason"] for r in rejected) == ["tokenize.empty_text"] * 3
    manifest = json.loads((out / "manifest.json").read_text())
    arrow = [o for o in manifest["outputs"] if o["path"].endswith(".arrow")]
    assert {Path(o["path"]).relative_to(out).as_posix() for o in arrow} == \
        {str(p.relative_to(out)) for p in out.rglob("*.arrow")}


def test_documents_round_trip_and_split_by_id_hash(two_workers, tok_path):
    out, _ = two_workers
    enc = load(tok_path)
    src = {}
    for name in ("docs-0.parquet", "docs-1.parquet"):
        for row in pq.read_table(FIX / name, columns=["id", "text"]).to_pylist():
            src[row["id"]] = row["text"]
    seen = {}
    for split, folder in (("train", out / "kept"), ("val", out / "kept" / "val")):
        for f in sorted(folder.glob("*.arrow")):
            s = shards.open(str(f))
            ids = pa.ipc.open_file(str(f)).read_all().column("id").to_pylist()
            for i, doc_id in enumerate(ids):
                doc = s.document(i)
                assert doc[-1] == enc.eot_id and enc.eot_id not in doc[:-1]  # '<|endoftext|>' text stays text
                assert enc.decode(doc[:-1]) == src[doc_id]
                seen[doc_id] = split
    assert set(seen) == set(src)
    assert all((split == "val") == is_val(i, 0.2) for i, split in seen.items())
    assert 0 < sum(s == "val" for s in seen.values()) < len(seen)


def test_same_bytes_with_one_worker_and_rerun_skips(two_workers, tok_path, tmp_path):
    out2, report2 = two_workers
    out1 = tmp_path / "one"
    report1 = tokenize.run(args(out1, tok_path, "--direct_running_mode=multi_processing", "--direct_num_workers=1"))
    assert relative_bytes(out1) == relative_bytes(out2)
    assert report1["stages"] == report2["stages"] and report1["groups"] == report2["groups"]
    before = {p: p.stat().st_mtime_ns for p in out1.rglob("*.arrow")}
    again = tokenize.run(args(out1, tok_path))
    assert again["skipped_done"] == 4
    assert again["stages"] == report1["stages"]
    assert {p: p.stat().st_mtime_ns for p in out1.rglob("*.arrow")} == before
    with pytest.raises(SystemExit, match=re.escape("was made with a different configuration (val_fraction differ")):
        tokenize.run(args(out1, tok_path, "--val-fraction", "0.5"))


def test_group_by_numeric_rules_and_column(tok_path, tmp_path):
    out = tmp_path / "q"
    report = tokenize.run(["--input", f"{FIX}/docs-*.parquet", "--group-by", "quality_score>=0.5:high,low",
                           "--tokenizer", tok_path, "--output", str(out), "--val-fraction", "0"])
    q = np.concatenate([pq.read_table(FIX / n, columns=["quality_score"]).column(0).to_numpy()
                        for n in ("docs-0.parquet", "docs-1.parquet")])
    assert report["groups"]["high"]["train"]["docs"] == int((q >= 0.5).sum())
    assert report["groups"]["low"]["train"]["docs"] == int((q < 0.5).sum())
    assert shards.groups(str(out)) == ["high", "low"]
    out2 = tmp_path / "by_reason"
    report = tokenize.run(["--input", f"{FIX}/rejected-0.parquet", "--group-by", "reason",
                           "--tokenizer", tok_path, "--output", str(out2), "--val-fraction", "0"])
    assert report["groups"] == {"llm_text.machine": {"train": {"docs": 30, "tokens": report["groups"]
                                ["llm_text.machine"]["train"]["tokens"], "files": 1}}}
    assert report["stages"]["tokenize"]["dropped"] == {"tokenize.empty_text": 3}
    with pytest.raises(SystemExit, match="has no group"):
        tokenize.run(["--input", f"{FIX}/docs-0.parquet", "--tokenizer", tok_path, "--output", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="not 'COLUMN OP NUMBER:GROUP'"):
        tokenize.run(["--input", f"{FIX}/docs-0.parquet", "--group-by", "q>>1:a,b", "--tokenizer", tok_path,
                      "--output", str(tmp_path / "y")])


def test_per_file_function_missing_column_and_stale_partial_output(tok_path, tmp_path):
    from shards.build import tokenize_file
    from shards.group_by import parse

    enc = load(tok_path)
    out = tmp_path / "out"
    rec = tokenize_file(str(FIX / "docs-0.parquet"), parse("no_such_column"), enc, str(out), val_fraction=0.1)
    assert rec["counts"]["read"]["failed"] == {"read.missing_column": 1}
    assert "no_such_column" in rec["error"] and rec["outputs"] == []
    # a crashed earlier attempt left an extra shard number behind: redoing the input removes it
    name = Path(tokenize_file(str(FIX / "docs-1.parquet"), parse("const:kept"), enc, str(out),
                              val_fraction=0.1)["outputs"][0]["path"]).name
    stale = out / "kept" / name.replace("-0000.arrow", "-0007.arrow")
    stale.write_bytes((out / "kept" / name).read_bytes())
    for marker in (out / "_inputs").glob("docs-1-*.done.json"):
        marker.unlink()  # as if the worker died before marking the input done
    rec = tokenize_file(str(FIX / "docs-1.parquet"), parse("const:kept"), enc, str(out), val_fraction=0.1)
    assert not rec["skipped"] and not stale.exists()
    assert tokenize_file(str(FIX / "docs-1.parquet"), parse("const:kept"), enc, str(out), val_fraction=0.1)["skipped"]
