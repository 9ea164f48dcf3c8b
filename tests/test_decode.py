"""Decode: content types, sniffing, binary bodies, size cap, and charsets (header, meta, BOM, lies)."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from filters import decode
from filters.verdict import StageFailure

FIX = Path(__file__).parent / "fixtures" / "filters"
PAGE = "<!DOCTYPE html><html><head>{meta}<title>t</title></head><body><p>{body}</p></body></html>"
FRENCH = "Le cœur déçu mais l'âme plutôt naïve, Louÿs rêva de crapaüter en canoë — «Voilà» €"
RUSSIAN = "Съешь же ещё этих мягких французских булок, да выпей чаю"
JAPANESE = "いろはにほへと ちりぬるを わかよたれそ つねならむ"


def run(body: bytes, ctype: str | None = "text/html", **config):
    st = decode.stage(config)
    doc = {"url": "http://example.com/", "_body": body, "_content_type": ctype}
    v = st.fn(doc)
    return v, doc


def page(text: str, meta: str = "") -> str:
    return PAGE.format(meta=meta, body=text)


def test_real_page_decodes_and_releases_the_body():
    body = gzip.decompress((FIX / "sciencealert-europa.html.gz").read_bytes())
    v, doc = run(body, "text/html; charset=UTF-8")
    assert v.keep and v.signals == {"charset": "utf-8", "charset_source": "header"}
    assert doc["_body"] is None  # released for memory
    assert "Europa" in doc["_html"] and doc["_html"] == body.decode("utf-8")


@pytest.mark.parametrize("codec,text", [("cp1251", RUSSIAN), ("euc_jp", JAPANESE), ("cp1252", FRENCH)])
def test_header_charset(codec, text):
    v, doc = run(page(text).encode(codec), f"text/html; charset={codec}")
    assert v.signals["charset_source"] == "header"
    assert text in doc["_html"]


@pytest.mark.parametrize("codec,text", [("windows-1251", RUSSIAN), ("shift_jis", JAPANESE)])
def test_meta_charset_when_the_header_has_none(codec, text):
    for meta in (f'<meta charset="{codec}">', f'<meta http-equiv="Content-Type" content="text/html; charset={codec}">'):
        v, doc = run(page(text, meta).encode(codec), "text/html")
        assert v.signals["charset_source"] == "meta", meta
        assert text in doc["_html"]


def test_whatwg_superset_codecs_for_legacy_labels():
    # '€' and curly quotes exist in cp1252 but not in latin-1: browsers decode latin-1 labels as cp1252.
    v, doc = run(page("“Prix: 5 €”").encode("cp1252"), "text/html; charset=iso-8859-1")
    assert v.signals["charset"] == "cp1252" and "“Prix: 5 €”" in doc["_html"]
    assert decode.codec_name("gb2312") == "gb18030"
    assert decode.codec_name("Shift_JIS") == "cp932"


def test_lying_meta_charset_does_not_crash_or_garble():
    # The meta says Shift_JIS, the bytes are UTF-8: valid UTF-8 wins over a legacy label.
    v, doc = run(page(FRENCH, '<meta charset="shift_jis">').encode("utf-8"), "text/html")
    assert v.keep and v.signals["charset"] == "utf-8" and FRENCH in doc["_html"]
    # The meta says UTF-8, the bytes are cp1251: UTF-8 fails, detection finds a Cyrillic codec.
    v, doc = run(page(RUSSIAN * 3, '<meta charset="utf-8">').encode("cp1251"), "text/html")
    assert v.keep and v.signals["charset_source"] == "detected"
    assert RUSSIAN in doc["_html"]
    # Nonsense and non-text codecs ("base64" would make bytes.decode raise) are ignored.
    for label in ("no-such-charset", "base64", "rot13", "zlib"):
        v, doc = run(page("plain ascii").encode(), f"text/html; charset={label}")
        assert v.keep and v.signals["charset"] == "utf-8", label
    # A UTF-16 label on ASCII-compatible bytes is a lie, not a reason to decode as UTF-16.
    v, doc = run(page("ascii page").encode(), "text/html; charset=utf-16")
    assert "ascii page" in doc["_html"]


def test_invalid_utf8_without_any_label_still_decodes():
    body = page("café ").encode("utf-8") + b"\xff\xfe\xfa broken \xc3"
    v, doc = run(body, "text/html")
    assert v.keep and "caf" in doc["_html"]


def test_bom_wins_and_utf16_with_bom_is_not_binary():
    v, doc = run(page(JAPANESE).encode("utf-16"), "text/html; charset=shift_jis")
    assert v.signals == {"charset": "utf-16", "charset_source": "bom"} and JAPANESE in doc["_html"]
    v, doc = run(b"\xef\xbb\xbf" + page(FRENCH).encode(), "text/html")
    assert v.signals["charset_source"] == "bom" and doc["_html"].startswith("<!DOCTYPE")


def test_nul_characters_are_removed():
    v, doc = run(page("a\x00b").encode() , "text/html")
    # one NUL in a long page is not "binary"; lxml refuses NUL in strings, so it is dropped
    assert v.keep and "ab" in doc["_html"] and "\x00" not in doc["_html"]


@pytest.mark.parametrize("ctype", ["image/png", "application/pdf", "application/json", "text/css",
                                   "application/javascript", "application/rss+xml", "video/mp4"])
def test_non_html_content_types_are_dropped(ctype):
    v, _ = run(page("x").encode(), ctype)
    assert (v.keep, v.reason) == (False, "decode.not_html")


@pytest.mark.parametrize("ctype", [None, "", "text/plain", "application/octet-stream", "text/xml"])
def test_vague_content_types_are_sniffed(ctype):
    v, doc = run(page("sniffed").encode(), ctype)
    assert v.keep and "sniffed" in doc["_html"]
    v, _ = run(b"just some words, no markup at all\n" * 5, ctype)
    assert v.reason == "decode.not_html"
    v, _ = run(b'{"json": true, "items": [1, 2, 3]}', ctype)
    assert v.reason == "decode.not_html"
    v, _ = run(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), ctype)
    assert v.reason == "decode.not_html"


@pytest.mark.parametrize("body", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
    b"\x1f\x8b\x08\x00" + bytes(100),
    bytes(range(256)) * 8,
])
def test_binary_labelled_html_fails_with_a_reason(body):
    with pytest.raises(StageFailure) as e:
        run(body, "text/html")
    assert e.value.reason == "decode.binary"


def test_too_large_and_empty():
    big = page("x" * 2000).encode()
    v, doc = run(big, "text/html", max_html_bytes=1000)
    assert v.reason == "decode.too_large" and doc["_body"] is None
    v, _ = run(big, "text/html", max_html_bytes=len(big))
    assert v.keep
    assert run(b"", "text/html")[0].reason == "decode.empty"
    assert run(None, "text/html")[0].reason == "decode.empty"


def test_fifty_megabyte_body_is_skipped_without_being_parsed():
    body = b"<html><body>" + b"<p>word</p>" * (50 * 1024 * 1024 // 11)
    v, doc = run(body, "text/html")
    assert v.reason == "decode.too_large" and "_html" not in doc


@pytest.mark.parametrize("config,match", [
    ({"max_html_bytes": 0}, r"'max_html_bytes' must be >= 1 \(got 0\)"),
    ({"max_html_bytes": "5MB"}, r"'max_html_bytes' must be an integer"),
    ({"max_bytes": 5}, r"unknown config key"),
])
def test_bad_config(config, match):
    with pytest.raises(ValueError, match=match):
        decode.stage(config)


def test_reasons_and_columns_documented():
    assert set(decode.REASONS) == {"decode.not_html", "decode.too_large", "decode.empty", "decode.binary"}
    assert decode.COLUMNS == {"charset": "str", "charset_source": "str"}
