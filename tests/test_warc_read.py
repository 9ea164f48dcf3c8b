"""The WARC reader on real files: every record ends up kept or counted with a reason."""
import gzip
import io

import pytest

from pipelines.io.warc import dechunk, decode_content, read_warc, split_http
from pipelines.stages import StageCounts
from tests.conftest import SHARED


def read_all(path):
    counts = StageCounts()
    docs, bad = [], []
    for d, b in read_warc(str(path), counts):
        (docs if d is not None else bad).append(d if d is not None else b)
    counts.check()
    return docs, bad, counts


def test_common_crawl_excerpt_yields_its_16_responses():
    docs, bad, counts = read_all(SHARED / "warc/commoncrawl/CC-MAIN-2020-34-sample.warc.gz")
    assert len(docs) == 16 and not bad
    assert all(d["url"].startswith("http") and d["_body"] for d in docs)
    assert len({d["id"] for d in docs}) == 16


def test_wget_target_uri_brackets_are_removed():
    docs, _, _ = read_all(SHARED / "warc/valid/dolma-sample-0000.warc.gz")
    assert docs and all(not d["url"].startswith("<") for d in docs)
    assert all(d["host"] for d in docs)


def test_clueweb_lf_only_headers_and_stored_decoded_gzip_bodies():
    docs, bad, _ = read_all(SHARED / "warc/valid/clueweb09-quirk.warc.gz")
    assert len(docs) == 29 and not bad
    assert all(d["_body"].lstrip().startswith(b"<") for d in docs)
    assert "EUC-JP" in docs[0]["_content_type"]


def test_arc_and_wet_are_read():
    docs, _, _ = read_all(SHARED / "warc/valid/warcio-example.arc.gz")
    assert len(docs) == 1 and b"Example Domain" in docs[0]["_body"]
    docs, _, _ = read_all(SHARED / "warc/commoncrawl/whirlwind.warc.wet.gz")
    assert len(docs) == 1 and docs[0]["_text"].startswith("Escopete")


def test_truncated_file_keeps_records_before_the_cut_and_counts_the_rest():
    docs, bad, counts = read_all(SHARED / "warc/malformed/warcio-example-trunc.warc")
    assert len(docs) == 1
    assert counts.stages["read"]["failed"] == {"read.truncated": 1}


def test_redirect_is_counted_by_status():
    _, bad, counts = read_all(SHARED / "warc/malformed/warcio-example-bad.warc.gz.bad")
    assert counts.stages["read"]["dropped"] == {"read.http_status": 1}
    assert bad[0]["detail"] == "HTTP 302"


def test_not_a_warc(tmp_path):
    p = tmp_path / "x.warc.gz"
    p.write_bytes(b"this is not an archive at all\n" * 10)
    _, bad, counts = read_all(p)
    assert counts.stages["read"]["failed"] == {"read.not_warc": 1}


def test_http_helpers():
    status, headers, body = split_http(b"HTTP/1.0 404 Not Found\nContent-Type: text/html\n\n<p>x</p>")
    assert (status, headers["content-type"], body) == (404, "text/html", b"<p>x</p>")
    with pytest.raises(ValueError):
        split_http(b"garbage without a header end")
    assert dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") == b"abcde"
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(OverflowError):
        decode_content(bomb, "gzip", cap=1_000_000)
    assert decode_content(gzip.compress(b"hello"), "gzip", cap=100) == b"hello"
