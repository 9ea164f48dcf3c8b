"""``gristmill extract``: HTML files (plain, .gz) and WARC/WET files -> JSON lines {source, url, text}."""
from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from filters import decode, extract
from pipelines import extract_cmd

FIX = Path(__file__).parent / "fixtures" / "filters"
URL = "https://www.sciencealert.com/nasa-finds-water-plumes-above-the-surface-of-jupiter-s-icy-moon-europa"


@pytest.fixture(scope="module")
def article_bytes() -> bytes:
    return gzip.decompress((FIX / "sciencealert-europa.html.gz").read_bytes())


def make_warc(path: Path, records: list[tuple[str, str, bytes, int]]) -> None:
    """A real gzip'd WARC (warcio) with one response record per (url, content type, body, status)."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, ctype, body, status in records:
            http = StatusAndHeaders(f"{status} OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=http))


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_html_files_plain_and_gz(tmp_path, article_bytes, capsys):
    plain = tmp_path / "page.html"
    plain.write_bytes(article_bytes)
    rc = extract_cmd.main([str(plain), str(FIX / "sciencealert-europa.html.gz"), "--url", URL])
    assert rc == 0
    out = lines(capsys.readouterr().out)
    assert [o["source"] for o in out] == [str(plain), str(FIX / "sciencealert-europa.html.gz")]
    # the very functions curate uses: decode, then the extract stage's trafilatura options
    doc = {"_body": article_bytes, "_content_type": "text/html"}
    decode.decode(doc)
    expected = extract.extract_text(doc["_html"], URL)
    assert out[0] == {"source": str(plain), "url": URL, "text": expected}
    assert out[1]["text"] == expected


def test_warc_records_and_output_file(tmp_path, article_bytes, capsys):
    warc = tmp_path / "crawl.warc.gz"
    make_warc(warc, [
        (URL, "text/html; charset=utf-8", article_bytes, 200),
        ("http://example.com/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(64), 200),
        ("http://example.com/empty", "text/html", b"<html><body><div></div></body></html>", 200),
        ("http://example.com/gone", "text/html", b"<html><body><p>gone</p></body></html>", 404),
    ])
    out_file = tmp_path / "out" / "extracted.jsonl"
    assert extract_cmd.main([str(warc), "--output", str(out_file)]) == 0
    out = lines(out_file.read_text(encoding="utf-8"))
    assert [o["url"] for o in out] == [URL, "http://example.com/empty"]  # the image and the 404 are not pages
    assert out[0]["source"].startswith(f"{warc}@") and "Europa" in out[0]["text"]
    assert out[1]["text"] == ""  # reached extraction, nothing found: still listed
    err = capsys.readouterr().err
    assert "2 lines" in err and "decode.not_html=1" in err and "read.http_status=1" in err


def test_wet_file_passes_common_crawl_text_through(shared_data, capsys):
    wet = shared_data / "warc" / "commoncrawl" / "whirlwind.warc.wet.gz"
    assert extract_cmd.main([str(wet)]) == 0
    out = lines(capsys.readouterr().out)
    assert len(out) == 1 and out[0]["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert "Escopete" in out[0]["text"]


def test_bad_inputs_are_counted_not_fatal(tmp_path, article_bytes, capsys):
    binary = tmp_path / "fake.html"
    binary.write_bytes(bytes(range(256)) * 20)
    truncated = tmp_path / "cut.html.gz"
    truncated.write_bytes(gzip.compress(article_bytes)[:4000])
    missing = tmp_path / "missing.html"
    assert extract_cmd.main([str(binary), str(truncated), str(missing)]) == 0
    captured = capsys.readouterr()
    out = lines(captured.out)
    assert [o["source"] for o in out] == [str(binary), str(truncated)]
    assert out[0]["text"] == ""
    assert "decode.binary=1" in captured.err and "read.unreadable=1" in captured.err


def test_is_warc_by_name_and_by_content(tmp_path, shared_data):
    assert extract_cmd.is_warc(str(shared_data / "warc" / "valid" / "warcio-example.warc.gz"))
    renamed = tmp_path / "noext"
    renamed.write_bytes((shared_data / "warc" / "valid" / "warcio-example.warc.gz").read_bytes())
    assert extract_cmd.is_warc(str(renamed))
    page = tmp_path / "x.bin"
    page.write_bytes(b"<html></html>")
    assert not extract_cmd.is_warc(str(page))


@pytest.mark.slow
def test_console_entry_point(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "extract", str(FIX / "entermedia-ko.html.gz"),
                          "--timeout", "30"], capture_output=True, text=True, check=True)
    rec = json.loads(out.stdout)
    assert rec["url"] is None and any("\uac00" <= c <= "\ud7a3" for c in rec["text"])
    bad = subprocess.run([sys.executable, "-m", "pipelines.cli", "extract", "x.html", "--timeout", "0"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "'timeout_s' must be >= 0.01 (got 0.0)" in bad.stderr
