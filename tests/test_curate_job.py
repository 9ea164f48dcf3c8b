"""The curate job end to end on real Beam (2 worker processes): counts, determinism, resume, bad input."""
import gzip
import hashlib
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines import curate
from tests.conftest import MULTI, REPO, SAMPLE, SHARED

pytestmark = pytest.mark.slow
SMALL = [str(SAMPLE / "mixed.warc.gz"), str(SAMPLE / "dolma-sample-0001.warc.gz"),
         str(SAMPLE / "CC-MAIN-2020-34-sample.warc.gz")]


def files_digest(out: Path) -> dict[str, str]:
    """sha256 of every output file except report.json (which records wall time)."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "report.json"
            and not p.name.endswith(".done.json")}


def rows(out: Path, sub: str) -> list[dict]:
    result = []
    for p in sorted((out / sub).glob("*.parquet")):
        result += pq.read_table(p).to_pylist()
    return result


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    out = tmp_path_factory.mktemp("curate2")
    report = curate.run(["--input", *SMALL, "--output", str(out), *MULTI])
    return out, report


def test_report_reconciles_and_keeps_documents(two_workers):
    out, report = two_workers
    for name, c in report["stages"].items():
        assert c["in"] == c["out"] + sum(c["dropped"].values()) + sum(c["failed"].values()), name
    docs = rows(out, "docs")
    rejected = rows(out, "rejected")
    assert len(docs) > 20
    assert report["stages"]["read"]["in"] == len(docs) + len(rejected)
    reasons = {r["reason"] for r in rejected}
    assert "read.http_status" in reasons  # the 404 page
    assert any(r.startswith("decode.") for r in reasons)  # JSON and binary bodies
    assert any(r.startswith(("gopher", "c4.", "fineweb.")) for r in reasons)  # junk pages
    assert all(d["text"].strip() and d["lang"] for d in docs)
    manifest = json.loads((out / "manifest.json").read_text())
    for o in manifest["outputs"]:
        assert hashlib.sha256((out / o["path"]).read_bytes()).hexdigest() == o["sha256"]
        assert pq.read_metadata(out / o["path"]).num_rows == o["rows"]


def test_exact_duplicates_keep_smallest_id(tmp_path, caplog):
    out = tmp_path / "o"
    caplog.set_level(logging.INFO, logger="gristmill")
    report = curate.run(["--input", str(SAMPLE / "articles-0.warc.gz"), "--output", str(out)])
    # the per-file progress line, with the file's counts before the cross-file exact-duplicate step
    passed, st = len(rows(out, "docs")) + report["stages"]["exact"]["dropped"]["exact.duplicate"], report["stages"]
    assert re.search(rf"curate: articles-0.warc.gz: {passed} passed, {st['read']['in'] - st['exact']['in']} rejected "
                     rf"in \d+ s", caplog.text)
    dups = [r for r in rows(out, "rejected") if r["reason"] == "exact.duplicate"]
    kept = {d["id"]: d for d in rows(out, "docs")}
    assert len(dups) >= 10  # 12 mirror copies of article pages (a few may fail earlier filters)
    assert report["stages"]["exact"]["dropped"]["exact.duplicate"] == len(dups)
    for d in dups:
        assert d["duplicate_of"] in kept and d["duplicate_of"] < d["id"]
        assert curate.normalized_hash(kept[d["duplicate_of"]]["text"]) == curate.normalized_hash(d["text"])


def test_same_bytes_with_one_and_two_workers(two_workers, tmp_path):
    out2, _ = two_workers
    out1 = tmp_path / "one"
    curate.run(["--input", *SMALL, "--output", str(out1), "--direct_num_workers=1"])
    assert files_digest(out1) == files_digest(out2)


def test_kill_minus_9_then_rerun_gives_identical_bytes(two_workers, tmp_path):
    out2, _ = two_workers
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "pipelines.cli", "curate", "--input", *SMALL, "--output", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done_dir = out / "work" / "filtered"
    while time.time() < deadline and not list(done_dir.glob("*.done.json")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # a real kill -9, mid-job
    proc.wait(timeout=30)
    finished_before = sorted(p.name for p in done_dir.glob("*.done.json"))
    assert finished_before, "the job was killed before it finished any file; the test proves nothing"
    assert not (out / "report.json").exists()
    mtimes = {n: (done_dir / n).stat().st_mtime_ns for n in finished_before}
    curate.run(["--input", *SMALL, "--output", str(out)])
    assert {n: (done_dir / n).stat().st_mtime_ns for n in finished_before} == mtimes  # skipped, not redone
    assert files_digest(out) == {k: v for k, v in files_digest(out2).items()}


def _warc(records) -> bytes:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    for url, body, ctype in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                            warc_headers_dict={"WARC-Date": "2026-01-01T00:00:00Z"}))
    return buf.getvalue()


def _article(n: int = 0) -> str:
    """A real, clean page: the n-th US presidential speech (shared/data/reference, public domain)."""
    with open(SHARED / "reference/us_speeches/speeches.jsonl", encoding="utf-8") as f:
        text = json.loads(f.readlines()[n])["text"]
    paras = "".join(f"<p>{p}</p>" for p in text.split("\n\n") if p.strip())
    return f"<html><head><title>Inaugural</title></head><body><article>{paras}</article></body></html>"


ARTICLE = _article()
OTHER = _article(1)


def test_bad_input_is_counted_never_fatal(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    good = _warc([("http://ok.test/a", ARTICLE.encode(), "text/html; charset=utf-8")])
    (d / "good.warc.gz").write_bytes(good)
    two = _warc([("http://t.test/1", ARTICLE.encode(), "text/html"), ("http://t.test/2", ARTICLE.encode(), "text/html")])
    (d / "truncated.warc.gz").write_bytes(two[: len(two) - 200])  # cut inside the second gzip member
    (d / "empty.warc.gz").write_bytes(b"")
    (d / "notwarc.warc.gz").write_bytes(gzip.compress(b"just some text, not a WARC\n" * 100))
    (d / "badheader.warc").write_bytes(b"WARC/1.0\r\nthis is: not\r\nright\r\n\r\nxx\r\n\r\n")
    odd = _warc([
        ("http://odd.test/binary", os.urandom(20000), "text/html"),
        ("http://odd.test/invalid-utf8", OTHER.encode() + b"\xff\xfe\xc3\x28" * 50, "text/html; charset=utf-8"),
        ("http://odd.test/lying-meta", ('<meta charset="shift_jis">' + _article(2) + "ünïcödé").encode(), "text/html"),
        ("http://odd.test/nested", ("<div>" * 100_000 + "deep" + "</div>" * 100_000).encode(), "text/html"),
        ("http://odd.test/huge", b"<html><body>" + b"a" * (12 * 1024 * 1024), "text/html"),
    ])
    (d / "odd.warc.gz").write_bytes(odd)
    out = tmp_path / "out"
    report = curate.run(["--input", str(d / "*"), "--output", str(out), *MULTI])
    read = report["stages"]["read"]
    assert read["failed"].get("read.not_warc") == 2  # the 0-byte file and the gzip'd text
    assert read["failed"].get("read.truncated", 0) >= 2  # truncated gzip member, bad WARC header
    assert read["dropped"].get("read.too_large") == 1  # the 12 MB body (cap 10 MB)
    by_url = {r["url"]: r for r in rows(out, "docs") + rows(out, "rejected")}
    assert by_url["http://odd.test/binary"]["reason"].startswith("decode.")
    assert "http://ok.test/a" in {r["url"] for r in rows(out, "docs")}
    assert "http://t.test/1" in by_url  # the record before the cut survives
    for url in ("http://odd.test/invalid-utf8", "http://odd.test/lying-meta", "http://odd.test/nested"):
        assert url in by_url  # kept or counted with a reason, never lost
    total_rows = len(rows(out, "docs")) + len(rows(out, "rejected"))
    assert read["in"] == total_rows


def test_english_rules_judge_only_the_configured_languages(shared_data):
    """Gopher/C4/FineWeb drop a German page when applied to every language, not when limited to English."""
    from pipelines.stages import StageCounts, run_chain

    lines = [json.loads(l) for l in open(shared_data / "lid/udhr.jsonl", encoding="utf-8")]
    german = "\n".join(r["text"] for r in lines if r["lang"] == "de")[:6000]
    doc = {"id": "x", "url": "http://de.test/", "warc_path": "", "warc_offset": 0, "_text": german}
    for langs, expect_kept in (([], False), (["en"], True)):
        config = curate.default_config()
        config["heuristics"]["langs"] = langs
        kept, rejected = run_chain(dict(doc), curate.build_stages(config), StageCounts())
        assert (kept is not None) == expect_kept, (langs, rejected and rejected["reason"])


@pytest.mark.heavy
def test_llm_detector_scores_only_its_languages(shared_data):
    """The LLM-text stage judges English pages and passes others with a null llm_score (llm.langs); [] judges all."""
    from pipelines.stages import StageCounts, run_chain

    lines = [json.loads(l) for l in open(shared_data / "lid/udhr.jsonl", encoding="utf-8")]
    text = {c: " ".join(r["text"] for r in lines if r["lang"] == c)[:1500] for c in ("de", "en")}
    got = {}
    for langs in (["en"], []):
        config = curate.default_config()
        config["heuristics"]["langs"] = []  # keep the heuristics out of the way: both pages are the UDHR
        config["llm"].update(enabled=True, langs=langs)
        stages = [st for st in curate.build_stages(config) if st.name in ("decode", "extract", "lang", "llm")]
        for c in ("de", "en"):
            doc = {"id": c, "url": f"http://{c}.test/", "warc_path": "", "warc_offset": 0, "_text": text[c]}
            kept, _ = run_chain(doc, stages, StageCounts())
            got[(c, bool(langs))] = kept["lang"], kept.get("llm_score")
    assert got[("de", True)] == ("de", None) and got[("en", True)][0] == "en"
    assert 0.0 <= got[("en", True)][1] <= 1.0 and 0.0 <= got[("de", False)][1] <= 1.0
    config = curate.default_config()
    config["llm"].update(enabled=True, langs="en")
    with pytest.raises(ValueError, match=r"llm\.langs must be a list"):
        curate.build_stages(config)
    config = curate.default_config()
    config["heuristics"]["langs"] = "en"  # a string, not a list: would have matched no language at all
    with pytest.raises(ValueError, match=r"heuristics\.langs must be a list"):
        curate.build_stages(config)
