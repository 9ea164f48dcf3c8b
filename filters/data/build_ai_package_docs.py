"""Snapshot benign prose *about* AI models from the PyPI READMEs of LLM and machine-learning packages.

Why: once public jailbreaks joined the injection classifier's attacks (public_attacks.jsonl.gz), the words
they share with every text about AI ("AI", "language model", "prompt", "assistant") had no benign
counterpart in training, and the model began to flag text that only talks about AI (measured: "AI
researchers met in Paris to discuss large language models." 0.77, "Note to AI researchers: the submission
deadline moved to Friday." 0.97). A README of an LLM library is the web's most common prose about models,
prompts and assistants that is certainly not an attack on one.

    python filters/data/build_ai_package_docs.py > filters/data/ai_package_docs.jsonl

Reads each package's description from PyPI's JSON API (https://pypi.org/pypi/<name>/json, the newest
release), keeps permissively licensed packages only, cuts prose paragraphs like build_package_docs.py and
prefers paragraphs that mention models, prompts or AI. Paragraphs that quote an attack (an instruction
override, "you are now", text addressed to an AI reader) are left out: red-teaming tools' READMEs show
examples, and those are not benign. The output depends on PyPI on the day, so the committed .jsonl is the
record (each row names its package, version and licence).
"""
from __future__ import annotations

import json
import re
import sys
import urllib.request

from build_package_docs import PERMISSIVE, paragraphs, write_rows

PACKAGES = """openai anthropic mistralai cohere groq together ollama google-generativeai langchain langchain-core
langgraph llama-index haystack-ai semantic-kernel dspy guidance instructor outlines marvin pydantic-ai smolagents
crewai mem0ai litellm llm transformers sentence-transformers tokenizers tiktoken sentencepiece huggingface-hub
datasets evaluate accelerate peft trl optimum diffusers timm vllm llama-cpp-python ctransformers gpt4all
bitsandbytes auto-gptq autoawq exllamav2 deepspeed lightning ray mlflow wandb chromadb qdrant-client
weaviate-client faiss-cpu ragas deepeval promptflow guardrails-ai nemoguardrails llm-guard garak pyrit rebuff
unstructured docling markitdown spacy nltk textblob fasttext openai-whisper gradio streamlit scikit-learn torch
keras jax flax aider-chat browser-use""".split()
PER_PACKAGE = 12
_TOPIC = re.compile(r"\b(AI|LLMs?|models?|prompts?|assistants?|agents?|chat\w*|GPT\w*|language|inference|"
                    r"generat\w+|embeddings?|tokens?)\b", re.IGNORECASE)
_QUOTED_ATTACK = re.compile(r"\b(ignore|disregard|forget)\b[^.]{0,40}\b(instructions?|prompts?|rules?)\b|"
                            r"\byou are now\b|\bfrom now on\b|\bdo anything now\b|\bjailbr", re.IGNORECASE)
_HTML = re.compile(r"</?[a-zA-Z][^>]*>")  # banners and logos, not prose


def fetch(name: str) -> dict:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as r:
        return json.load(r)["info"]


def main() -> int:
    rows, seen = [], set()
    for name in PACKAGES:
        try:
            info = fetch(name)
        except Exception as e:  # a package renamed or gone: say so, carry on
            print(f"{name}: {e}", file=sys.stderr)
            continue
        lic = (info.get("license_expression") or info.get("license") or "").split("\n")[0][:60]
        if not PERMISSIVE.search(lic):
            lic = next((c.split("::")[-1].strip() for c in info.get("classifiers") or [] if c.startswith("License")), lic)
        if not PERMISSIVE.search(lic or ""):
            continue
        paras = [p for p in paragraphs(info.get("description") or "") if p not in seen and not _QUOTED_ATTACK.search(p)
                 and not _HTML.search(p)]
        paras = sorted(paras, key=lambda p: not _TOPIC.search(p))[:PER_PACKAGE]  # about models first
        for p in paras:
            seen.add(p)
            rows.append({"text": p, "package": info["name"], "version": info["version"], "license": lic})
    return write_rows(rows)


if __name__ == "__main__":
    sys.exit(main())
