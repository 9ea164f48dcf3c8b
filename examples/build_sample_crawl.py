"""Rebuild examples/sample_crawl/ from ../shared/data, deterministically (same bytes every run).

    python examples/build_sample_crawl.py [--shared ../shared/data]

The sample is small (a few MB) but gives every stage work: real article pages, real Common Crawl and
wget captures, non-English pages, exact and near duplicates, junk, LLM-written articles, pages with
hidden prompt injections, and a few broken records. Sources and licences: examples/sample_crawl/SOURCES.md.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import io
import json
import random
import shutil
import uuid
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent
OUT = HERE / "sample_crawl"
DATE = "2026-11-01T00:00:00Z"
COPIED = [  # real captures, copied byte for byte
    "warc/commoncrawl/CC-MAIN-2020-34-sample.warc.gz",
    "warc/valid/dolma-sample-0000.warc.gz",
    "warc/valid/dolma-sample-0001.warc.gz",
    "warc/valid/clueweb09-quirk.warc.gz",
]


def record_id(key: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}>"


def write_response(writer: WARCWriter, url: str, body: bytes, content_type: str = "text/html; charset=utf-8",
                   status: str = "200 OK") -> None:
    http = StatusAndHeaders(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                            protocol="HTTP/1.1")
    rec = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=http,
        warc_headers_dict={"WARC-Date": DATE, "WARC-Record-ID": record_id(url + hashlib.sha1(body).hexdigest())})
    writer.write_record(rec)


def page(title: str, paragraphs: list[str], extra: str = "") -> bytes:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    nav = '<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/contact">Contact</a></nav>'
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body>{nav}<article><h1>{html.escape(title)}</h1>{body}</article>{extra}"
            f"<footer>Copyright 2026. All rights reserved.</footer></body></html>").encode("utf-8")


def jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def perturb(text: str, rng: random.Random) -> str:
    """A near duplicate: a few words changed, a sentence inserted (what syndicated copies look like)."""
    words = text.split(" ")
    for _ in range(max(1, len(words) // 60)):
        i = rng.randrange(len(words))
        words[i] = rng.choice(["very", "really", "also", "now", "then"])
    return " ".join(words) + " This article was originally published elsewhere and is republished with permission."


def article_html(shared: Path, page_id: str) -> bytes:
    return gzip.decompress((shared / f"extraction/scrapinghub/html/{page_id}.html.gz").read_bytes())


def build(shared: Path) -> None:
    rng = random.Random(20261101)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for rel in COPIED:
        shutil.copyfile(shared / rel, OUT / Path(rel).name)

    # 1. The scrapinghub article pages under their real URLs, plus exact and near duplicates of some.
    truth = {r["id"]: r for r in jsonl(shared / "extraction/scrapinghub/ground_truth.jsonl")}
    ids = sorted(truth)[:100]  # 100 of the 181 pages keep the sample at a few MB
    for part, chunk in enumerate((ids[:50], ids[50:])):
        with open(OUT / f"articles-{part}.warc.gz", "wb") as f:
            w = WARCWriter(f, gzip=True)
            for i in chunk:
                write_response(w, truth[i]["url"], article_html(shared, i), "text/html")
            if part == 0:
                for n, i in enumerate(ids[:12]):  # exact copies on mirror hosts
                    write_response(w, f"http://mirror{n % 3}.example.org/copy/{n}", article_html(shared, i), "text/html")
            else:
                for n, i in enumerate(ids[12:32]):  # near duplicates: syndicated with small edits
                    paras = [p for p in truth[i]["text"].split("\n\n") if p.strip()]
                    paras = [perturb(p, rng) if k == 0 else p for k, p in enumerate(paras)]
                    write_response(w, f"http://syndicate.example.net/story/{n}", page(f"Syndicated story {n}", paras))

    # 2. Other languages (UDHR), LLM-written and human articles, junk, and hidden injections.
    udhr = jsonl(shared / "lid/udhr.jsonl")
    by_lang: dict[str, list[str]] = {}
    for r in udhr:
        if r["lang"]:
            by_lang.setdefault(r["lang"], []).append(r["text"])
    llm = jsonl(shared / "llm_generated/fast_detect_gpt.jsonl")
    machine = [r for r in llm if r["label"] == "machine"]
    human = [r for r in llm if r["label"] == "human"]
    attacks = [r for r in jsonl(shared / "adversarial/prompt_injection.jsonl") if r["label"] == "injection"]
    with open(OUT / "mixed.warc.gz", "wb") as f:
        w = WARCWriter(f, gzip=True)
        for lang in ["de", "fr", "es", "it", "pt", "nl", "ru", "pl", "tr", "sv", "fi", "cs"]:
            lines = by_lang.get(lang, [])
            if len(lines) >= 20:
                write_response(w, f"http://{lang}.udhr.example.org/declaration", page(lines[0], lines[1:60]))
        for n, r in enumerate(rng.sample(machine, 24)):
            write_response(w, f"http://content-farm.example.com/post/{n}",
                           page(f"Post {n}", [p for p in r["text"].split("\n") if p.strip()]))
        for n, r in enumerate(rng.sample(human, 24)):
            write_response(w, f"http://essays.example.org/essay/{n}",
                           page(f"Essay {n}", [p for p in r["text"].split("\n") if p.strip()]))
        for n, r in enumerate(rng.sample(attacks, 10)):
            host_text = machine[n]["text"]
            hidden = f'<div style="display:none">{html.escape(r["text"])}</div>'
            write_response(w, f"http://recipes-blog.example.com/recipe/{n}",
                           page(f"Recipe {n}", [p for p in human[n]["text"].split("\n") if p.strip()] or [host_text],
                                extra=hidden))
        junk = [
            page("Lorem", ["Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20]),
            page("Home", ["Home", "Login", "Sign up", "Cart", "Search"]),
            page("Buy now", ["BUY CHEAP WATCHES BEST PRICE " * 40]),
            page("Tags", [" ".join(f"tag{k}" for k in range(300))]),
            page("Short", ["Coming soon."]),
            page("Spam", ["Click here to win a prize!"] * 60),
            b"<html><body><script>document.write('hello')</script></body></html>",
        ]
        for n, body in enumerate(junk):
            write_response(w, f"http://junk.example.info/page/{n}", body)
        write_response(w, "http://junk.example.info/image.html", bytes(range(256)) * 64, "text/html")
        write_response(w, "http://junk.example.info/data.json", b'{"a": 1}', "application/json")
        write_response(w, "http://junk.example.info/missing", b"<html>Not found</html>", "text/html", "404 Not Found")

    (OUT / "SOURCES.md").write_text(SOURCES)


SOURCES = """# Sample crawl: where each file comes from

Built by `python examples/build_sample_crawl.py` from `../shared/data` (deterministic).

| file | content | source (see each folder's SOURCE.md in ../shared/data) |
|---|---|---|
| CC-MAIN-2020-34-sample.warc.gz | 16 Common Crawl responses, many Chinese | chatnoir-eu/chatnoir-resiliparse test data (Apache-2.0), copied byte for byte |
| dolma-sample-000{0,1}.warc.gz | wget crawls of 37 pages | allenai/dolma test data (Apache-2.0), copied byte for byte |
| clueweb09-quirk.warc.gz | Japanese ClueWeb09 captures, EUC-JP, LF-only headers | chatnoir-resiliparse test data (Apache-2.0), copied |
| articles-{0,1}.warc.gz | 100 of the 181 article pages under their real URLs; 12 exact copies on mirror hosts; 20 near duplicates (words changed, a sentence added) | scrapinghub article-extraction-benchmark (MIT); pages belong to their publishers: for testing and benchmarking only |
| mixed.warc.gz | UDHR pages in 12 languages; 24 LLM-written and 24 human articles (fast-detect-gpt data, MIT); 10 pages with a prompt-injection attack hidden by display:none (Tensor Trust attacks); junk pages (lorem ipsum, navigation only, spam, binary body labelled text/html, JSON, a 404) | shared/data lid, llm_generated, adversarial |
"""

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    build(Path(ap.parse_args().shared))
