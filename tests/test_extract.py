"""Extraction: real trafilatura in a real child process; time limit, crash recovery, deep nesting, and
the evaluation gate (token F1 on held-out scrapinghub pages, pinned floor, not below trafilatura)."""
from __future__ import annotations

import gzip
import json
import os
import signal
import time
from pathlib import Path

import pytest

from filters import decode, extract
from filters.verdict import StageFailure

FIX = Path(__file__).parent / "fixtures" / "filters"
# Measured 2026-11-23 (benchmarks/extract.py): held-out half 0.9651 for gristmill, 0.9446 for
# trafilatura's defaults. Pinned a little below, so a real drop fails and noise does not.
HELD_OUT_F1_FLOOR = 0.955


def fixture_html(name: str) -> str:
    doc = {"_body": gzip.decompress((FIX / name).read_bytes()), "_content_type": "text/html"}
    assert decode.decode(doc).keep
    return doc["_html"]


@pytest.fixture(scope="module")
def article() -> str:
    return fixture_html("sciencealert-europa.html.gz")


@pytest.fixture(scope="module")
def isolated():
    st = extract.stage({"timeout_s": 30.0})
    yield st
    st.fn.close()


def slow_page() -> str:
    """A page that takes trafilatura far longer than 50 ms (thousands of scored paragraphs)."""
    para = "<div class='c{i}'><p>Paragraph {i} with enough words to be scored as text by the extractor.</p></div>"
    return "<html><body>" + "".join(para.format(i=i) for i in range(30000)) + "</body></html>"


def test_extract_text_finds_the_article(article):
    text = extract.extract_text(article, "https://www.sciencealert.com/nasa-finds-water-plumes")
    assert "Europa" in text and len(text) > 1500
    assert "<p>" not in text


def test_stage_extracts_in_the_child_and_frees_the_html(isolated, article):
    doc = {"url": "https://www.sciencealert.com/", "_html": article}
    v = isolated.fn(doc)
    assert v.keep and v.text == extract.extract_text(article, "https://www.sciencealert.com/")
    assert v.signals == {"text_chars": len(v.text)}
    assert doc["_html"] is None


def test_non_latin_text_survives_the_pipe(isolated):
    html = fixture_html("entermedia-ko.html.gz")
    v = isolated.fn({"url": None, "_html": html})
    assert v.keep and any("\uac00" <= c <= "\ud7a3" for c in v.text)  # Hangul syllables


def test_threads_share_one_child_safely(isolated, article):
    # Beam runs DoFns in threads: concurrent calls must each get their own page's text back.
    from concurrent.futures import ThreadPoolExecutor

    pages = [f"<html><body><article><p>Page number {i} says: " + "words of this page " * 40 + "</p></article></body></html>"
             for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(lambda h: isolated.fn({"url": None, "_html": h}).text, pages))
    assert [t.startswith(f"Page number {i} says") for i, t in enumerate(texts)] == [True] * 8


def test_empty_page_is_dropped(isolated):
    v = isolated.fn({"url": None, "_html": "<html><head><title>t</title></head><body><div></div></body></html>"})
    assert (v.keep, v.reason) == (False, "extract.empty")
    v = isolated.fn({"url": None, "_html": ""})
    assert v.reason == "extract.empty"


def test_timeout_kills_the_child_and_the_next_page_works(article):
    st = extract.stage({"timeout_s": 0.05})
    try:
        old_pid = st.fn.worker.proc.pid
        t0 = time.monotonic()
        with pytest.raises(StageFailure) as e:
            st.fn({"url": None, "_html": slow_page()})
        assert e.value.reason == "extract.timeout"
        assert time.monotonic() - t0 < 5  # it did not wait for the page to finish
        assert st.fn.worker.restarts == 1
        with pytest.raises(ProcessLookupError):  # the hung child is gone (killed and reaped)
            os.kill(old_pid, 0)
        st.fn.worker.timeout_s = 30.0
        v = st.fn({"url": None, "_html": article})
        assert v.keep and "Europa" in v.text
        assert st.fn.worker.proc.pid != old_pid
    finally:
        st.fn.close()


def test_a_child_that_dies_is_counted_and_replaced(isolated, article):
    os.kill(isolated.fn.worker.proc.pid, signal.SIGKILL)
    isolated.fn.worker.proc.wait()
    with pytest.raises(StageFailure) as e:
        isolated.fn({"url": None, "_html": article})
    assert e.value.reason == "extract.crashed"
    assert isolated.fn({"url": None, "_html": article}).keep


def test_deeply_nested_html_does_not_crash_the_worker(isolated, article):
    deep = "<html><body>" + "<div>" * 100_000 + "<p>deep text</p>" + "</div>" * 100_000 + "</body></html>"
    for st in (isolated, extract.stage({"isolate": False})):
        try:
            v = st.fn({"url": None, "_html": deep})
        except StageFailure as e:  # counted as failed is acceptable; an uncaught crash is not
            assert e.reason.startswith("extract."), e.reason
        else:
            assert v.reason in (None, "extract.empty")
    assert isolated.fn({"url": None, "_html": article}).keep  # the worker is still usable


@pytest.mark.parametrize("config,match", [
    ({"timeout_s": 0}, r"'timeout_s' must be >= 0.01 \(got 0\)"),
    ({"timeout_s": "5s"}, r"'timeout_s' must be a number"),
    ({"fast": "yes"}, r"'fast' must be true or false"),
    ({"include_comment": False}, r"unknown config key"),
])
def test_bad_config(config, match):
    with pytest.raises(ValueError, match=match):
        extract.stage(config)


def test_token_f1():
    assert extract.token_f1("a b c", "a b c") == (1.0, 1.0, 1.0)
    p, r, f = extract.token_f1("a b x", "a b c d")
    assert (p, r) == (2 / 3, 2 / 4) and f == pytest.approx(2 * p * r / (p + r))
    assert extract.token_f1("", "a") == (0.0, 0.0, 0.0)


def test_eval_gate_on_held_out_pages(shared_data):
    """Token F1 on the scrapinghub pages the options were NOT chosen on (odd first id byte)."""
    import trafilatura

    data = shared_data / "extraction" / "scrapinghub"
    truth = [json.loads(line) for line in open(data / "ground_truth.jsonl", encoding="utf-8")]
    held_out = [t for t in truth if int(t["id"][:2], 16) % 2]
    assert len(held_out) == 88
    ours, theirs = [], []
    for t in held_out:
        body = gzip.decompress((data / "html" / f"{t['id']}.html.gz").read_bytes())
        doc = {"_body": body, "_content_type": None}
        html = doc["_html"] if decode.decode(doc).keep else ""
        ours.append(extract.token_f1(extract.extract_text(html, t["url"]), t["text"])[2])
        theirs.append(extract.token_f1(trafilatura.extract(body, url=t["url"]) or "", t["text"])[2])
    f1, f1_defaults = sum(ours) / len(ours), sum(theirs) / len(theirs)
    assert f1 >= HELD_OUT_F1_FLOOR, f"held-out token F1 {f1:.4f} fell below the pinned {HELD_OUT_F1_FLOOR}"
    assert f1 >= f1_defaults, f"gristmill F1 {f1:.4f} < trafilatura defaults {f1_defaults:.4f}"
