"""Snapshot benign how-to prose from the READMEs of installed, permissively licensed Python packages.

Why: the shared adversarial data has no benign *instructional* text in the second person ("run this",
"add this to your config", "make sure you..."), so an injection classifier trained on it learned "you +
imperative = attack" and scored 6% of such README paragraphs at >= 0.9 (measured 2026-11-23). A README is
the web's most common instructional prose that is certainly not an attack on a model.

    python filters/data/build_package_docs.py > filters/data/package_docs.jsonl

The output depends on what is installed, so the committed .jsonl is the record (each row names its package,
version and licence); this script documents how it was made. Only packages whose metadata declares MIT,
BSD, Apache, ISC or PSF licences are used.
"""
from __future__ import annotations

import importlib.metadata as md
import json
import re
import sys

PERMISSIVE = re.compile(r"\b(MIT|BSD|Apache|ISC|PSF|Python Software Foundation)\b", re.IGNORECASE)
PER_PACKAGE = 12
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_CODEISH = re.compile(r"[{}<>|=`$]{2}|^\s*(\.\.|:|>>>|\$|#!|\|)|\bdef \w+\(|\bimport \w+")
_YOU = re.compile(r"\b(you|your)\b", re.IGNORECASE)


def licence(meta) -> str:
    classifiers = [c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or []) if c.startswith("License")]
    return (meta.get("License-Expression") or (meta.get("License") or "").split("\n")[0] or
            (classifiers[0] if classifiers else "")).strip()[:60]


def paragraphs(description: str) -> list[str]:
    out = []
    for p in re.split(r"\n\s*\n", description):
        if _CODEISH.search(p) or p.lstrip().startswith(("#", "*", "-", "=", "+", "|")):
            continue  # code, tables, headings and bullet lists: not prose
        text = " ".join(_LINK.sub(r"\1", p).replace("`", "").replace("**", "").split())
        if 60 <= len(text) <= 1200 and len(text.split()) >= 10:
            out.append(text)
    return out


def main() -> int:
    rows, seen = [], set()
    for dist in sorted(md.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        meta = dist.metadata
        lic = licence(meta)
        if not PERMISSIVE.search(lic) or (meta["Name"] or "").lower() == "gristmill":
            continue  # (gristmill's own README quotes attacks and the evaluation: not benign training text)
        paras = [p for p in paragraphs(meta.get_payload() or meta.get("Description") or "") if p not in seen]
        # Second-person paragraphs first: they are the hard negatives this file exists for.
        paras = sorted(paras, key=lambda p: not _YOU.search(p))[:PER_PACKAGE]
        for p in paras:
            seen.add(p)
            rows.append({"text": p, "package": meta["Name"], "version": meta["Version"], "license": lic})
    return write_rows(rows)


def write_rows(rows: list[dict]) -> int:
    """JSON lines to stdout, a count to stderr (shared with build_ai_package_docs.py)."""
    for r in rows:
        sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} paragraphs from {len({r['package'] for r in rows})} packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
