"""Main text of an HTML page with trafilatura, under a per-page time limit.

Options were chosen by measurement on half of the scrapinghub pages (ids whose first byte is even) and
reported on the other half (benchmarks/extract.py; numbers in the README): ``fast=True`` skips
trafilatura's second-opinion extractors (readability, jusText), which changed F1 on 5 of 181 pages
(2 down, 3 up), at 1.4x the speed; ``include_comments=False`` keeps reader comments out of the main
text, which raised token F1 on both halves. Other trafilatura defaults are kept.

``stage`` runs each page in a persistent child process (filters.extract_worker) so that a page that
would hang is counted ``extract.timeout`` and the worker moves on; ``extract_text`` is the same
extraction in-process, for callers that need no time limit.
"""
from __future__ import annotations

import logging

from filters import options
from filters.verdict import StageFailure, Verdict, drop
from pipelines.stages import Stage

TRAFILATURA_OPTIONS = {"fast": True, "include_comments": False, "include_tables": True,
                       "favor_precision": False, "favor_recall": False}
DEFAULTS = {
    "timeout_s": 5.0,   # per page; normal pages take 5-50 ms, trafilatura refuses 20 MB pages anyway
    "isolate": True,    # False: extract in-process, no time limit (no child process)
    **TRAFILATURA_OPTIONS,
}
REASONS = {
    "extract.empty": "trafilatura found no main text",
    "extract.timeout": "(failed) extraction took longer than timeout_s; the child process was replaced",
    "extract.parse_error": "(failed) lxml could not parse the page",
    "extract.crashed": "(failed) the extraction child process died on this page (killed, out of memory, "
                       "an exception: its traceback is on stderr); it was replaced",
}
COLUMNS = {"text_chars": "int"}  # characters of extracted text (before C4 line cleaning)

_lxml_error = None


def extract_text(html: str, url: str | None = None, **opts) -> str:
    """The main text of ``html`` ("" if none), with the options curate uses unless overridden.

    Raises what trafilatura raises (lxml errors, RecursionError); no time limit.
    """
    import trafilatura

    kw = {**TRAFILATURA_OPTIONS, **opts}
    return trafilatura.extract(html, url=url, output_format="txt", **kw) or ""


def token_f1(predicted: str, truth: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of whitespace tokens, as bags (the scrapinghub benchmark's measure)."""
    from collections import Counter

    p, t = Counter(predicted.split()), Counter(truth.split())
    tp = sum((p & t).values())
    if tp == 0:
        return 0.0, 0.0, 0.0
    precision, recall = tp / sum(p.values()), tp / sum(t.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def extract_once(html: str, url: str | None, opts: dict) -> tuple[str, str]:
    """(status, text or error detail): the child process's unit of work, also used in-process.

    Only lxml's own errors become a status (``parse_error``); trafilatura catches most of them itself
    and returns nothing (then counted ``extract.empty``). Any other exception is a bug: in-process it
    propagates; in the child it ends the child (traceback on stderr), counted ``extract.crashed``.
    """
    global _lxml_error
    if _lxml_error is None:
        import lxml.etree

        _lxml_error = lxml.etree.LxmlError
        # trafilatura logs every discarded page at WARNING/ERROR; the counts say it already.
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    try:
        return "ok", extract_text(html, url, **opts)
    except _lxml_error as e:
        return "parse_error", f"{type(e).__name__}: {e}"[:500]


class Extractor:
    """Callable ``doc -> Verdict`` for the extract stage (isolated in a child process or not)."""

    def __init__(self, cfg: dict) -> None:
        self.timeout_s = cfg["timeout_s"]
        self.opts = {k: cfg[k] for k in TRAFILATURA_OPTIONS}
        self.worker = None
        if cfg["isolate"]:
            from filters.extract_worker import ExtractWorker

            self.worker = ExtractWorker(self.opts, self.timeout_s)

    def text(self, html: str, url: str | None) -> str:
        """Extracted text; StageFailure for a timeout, a crash or an error on this page."""
        if self.worker is None:
            status, payload = extract_once(html, url, self.opts)
        else:
            from filters.extract_worker import Timeout, WorkerDied

            try:
                status, payload = self.worker.run(html, url)
            except Timeout:
                raise StageFailure("extract.timeout", f"no result within {self.timeout_s}s") from None
            except WorkerDied:
                raise StageFailure("extract.crashed", "the child process died") from None
        if status != "ok":
            raise StageFailure(f"extract.{status}", payload)
        return payload

    def __call__(self, doc: dict) -> Verdict:
        html = doc.get("_html")
        doc["_html"] = None  # the HTML is not needed after this stage: free it
        text = self.text(html or "", doc.get("url")).strip() if html else ""
        if not text:
            return drop("extract.empty", text_chars=0)
        return Verdict(True, None, {"text_chars": len(text)}, text)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


def parse_config(config: dict | None) -> dict:
    config = config or {}
    options.no_unknown(config, set(DEFAULTS), "extract")
    cfg = {"timeout_s": options.number(config, "timeout_s", DEFAULTS["timeout_s"], lo=0.01),
           "isolate": options.flag(config, "isolate", DEFAULTS["isolate"])}
    cfg.update({k: options.flag(config, k, d) for k, d in TRAFILATURA_OPTIONS.items()})
    return cfg


def stage(config: dict | None = None) -> Stage:
    """Stage ``extract``. Config: timeout_s (5.0), isolate (true), and trafilatura's fast (true),
    include_comments (false), include_tables (true), favor_precision / favor_recall (false)."""
    return Stage("extract", Extractor(parse_config(config)), COLUMNS)
