"""Prompt injection and instructions addressed to AI models. Column ``injection_score``, reason ``poison.injection``.

A fastText classifier over word n-grams, combined by logistic regression (filters/combiner.py) with
training-free signals that describe the *act* of addressing a model rather than one attack's wording:
rule hits for instruction overrides, role/turn markers and chat-template tokens, imperative density
and the unicode anomaly count. The benign side of training deliberately includes long web and book
text, README how-to prose and the Tensor Trust defenders' own instructions (hard negatives), so that
neither length, second person nor "is an instruction" alone decides. The combiner is trained on
out-of-fold fastText probabilities. One untrained rule sits on top: text that speaks to an AI model
reading it (``addresses_ai_reader``) scores at least AI_READER_SCORE.
"""
from __future__ import annotations

import os
import re

import numpy as np

from filters import fasttext_model as ftm
from filters import unicode_anomalies
from filters.combiner import Combiner
from filters.options import number
from filters.verdict import drop, keep

STAGE = "injection"
REASONS = {"poison.injection": "injection_score at or above the threshold: text that tries to instruct or hijack an AI model"}
COLUMNS = {"injection_score": "float", "ai_instruction_hits": "int"}
DEFAULT_MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "injection")
# 0.9, not 0.5: on the held-out split it keeps recall 0.93 while dropping 0.5% of web text and 0.9% of
# defender prompts (at 0.5: 0.98 recall, but 2.1% of web text and 5.6% of defender prompts).
DEFAULT_CONFIG = {"model": DEFAULT_MODEL_DIR, "threshold": 0.9, "enforce": True}

# Each pattern is one kind of move an injection makes; a text's hit count is how many kinds it makes.
RULES = {
    "override": r"\b(ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,40}\b(instructions?|rules?|prompts?|directions?|guidelines?|context|above|previous|prior)\b",
    "new_instructions": r"\b(new|updated|real|actual|revised|following) (instructions?|rules?|task|directive)s?\b",
    "you_are_now": r"\b(you are now|from now on|act as|pretend (to be|you are)|roleplay|you will now|your new (role|task))\b",
    "role_marker": r"(^|\n|[.!?]\s)\s*(system|assistant|user|human|ai|instruction|response)\s*:|\[/?(inst|system)\]|<\|[a-z_]+\|>|###\s*(instruction|system)",
    "ai_addressed": r"\b(as an ai|language model|llm|chatgpt|gpt-?\d|the ai|ai assistant|your (system )?prompt|system prompt)\b",
    "say_exactly": r"\b(say|print|output|respond with|reply with|begin your (reply|response)|start your (reply|response)|repeat)\b[^.\n]{0,30}[\"'\u201c\[]",
    "reveal": r"\b(reveal|repeat|print|show|tell me|output|leak)\b[^.\n]{0,40}\b(password|access code|secret|instructions|prompt|above text|everything above)\b",
    "access_granted": r"access\s*granted",
    "delimiter_escape": r"(%%%|===|\-\-\-|```|\]\]\]|\}\}\})\s*(end|begin|start)\b",
}
_RULES = [(name, re.compile(p, re.IGNORECASE)) for name, p in RULES.items()]
_IMPERATIVE = re.compile(r"(^|[.!?\n]\s*)(do|don't|never|always|you must|make sure|ensure|remember|only|please)\b",
                         re.IGNORECASE)
# A sentence (or quoted span, or line) that opens with a command verb: the grammatical form of every
# instruction, whatever the attack wants done. General English verbs of telling, writing, outputting and
# changing behaviour, not the wording of any one dataset's attacks.
_COMMAND_VERBS = (
    "say|tell|write|print|output|respond|reply|answer|ignore|disregard|forget|repeat|begin|start|stop|end|"
    "pretend|act|imagine|translate|summarize|summarise|explain|list|give|show|reveal|provide|include|use|"
    "complete|continue|replace|return|make|let|remember|follow|execute|run|type|enter|add|put|do|don't|"
    "never|always|please|prefix|append|convert|describe|display|generate|rewrite|format|read|check|"
    "assume|treat|consider|switch|override|bypass|unlock|grant|allow|deny|note|keep|be|become|roleplay")
_COMMAND = re.compile(r"(?:^|[.!?:;\n]\s*|\"\s*)(?:" + _COMMAND_VERBS + r")\b", re.IGNORECASE)
_SENTENCES = re.compile(r"[.!?\n]+")
_SECOND_PERSON = re.compile(r"\b(you|your|yours|yourself)\b", re.IGNORECASE)
# Fake structure: a line of only separator symbols, or a bare upper-case BEGIN/END/START marker or shouted
# heading ("END USER INPUT", "=== NEW INSTRUCTIONS ==="): attackers forge the end of the user's turn or
# the start of new instructions. Case-sensitive on purpose: an ordinary line starting "Start the..." is prose.
_BOUNDARY = re.compile(r"^[ \t]*(?:[=#\-%*>~_<\[\]{}|]{3,}[^\n]*|(?:END|BEGIN|START)\b[^\n]{0,40}|[A-Z][A-Z _]{6,}:?)[ \t]*$",
                       re.MULTILINE)
_CAPS = re.compile(r"\b[A-Z]{3,}\b")
# Text that speaks to an AI *reader* ("Note to AI assistants summarizing this page: ...", "If you are a large
# language model reading this, ..."): the footprint of indirect prompt injection planted in web pages. The shared
# data has no example of it (its attacks are typed straight into a chat), so the combiner could never weigh it;
# instead a match floors the score at AI_READER_SCORE (above the default threshold). Names of models only, not
# "assistant" or "agent" alone (a job ad's "if you are an assistant manager"). Matches on benign text: none in
# 12 MB of books, speeches, Wikipedia and news articles, nor in any benign training row (questions, defender
# prompts, UDHR, README paragraphs); tests/test_classifiers_signals.py keeps it so. Its recall is unmeasured:
# the shared data has no attack of these kinds.
_AI = (r"(?:ai|a\.i\.|artificial intelligence|llms?|large language models?|language models?|chat ?bots?|"
       r"ai (?:assistants?|agents?|models?|systems?|tools?)|chatgpt|gpt-?\d\S*)")
# Not "Claude", "Gemini" or "Copilot" alone: a person's name, a star sign and a co-pilot ("Hi Claude, thanks").
_READING = r"(?:reading|processing|summari[sz]ing|crawling|indexing|scraping|visiting)"
# The name must end the phrase ("Note to AI researchers" and "if you are an AI engineer" address people).
_AI_END = r"(?=\s*(?:[,.;:!?)\]\n]|$)|\s+(?:" + _READING + r"|who|that|or|and|like|here)\b)"
_AI_READER = re.compile(
    r"\b(?:if|when|in case) you(?:'re| are) (?:an?|the|any|some) (?:\w+ ){0,2}" + _AI + _AI_END
    + r"|\b(?:note|message|instructions?|attention|reminder|notice|memo|directive)s? (?:to|for) (?:all |any |the )?"
    r"(?:\w+ )?" + _AI + _AI_END
    + r"|\b" + _AI + r"\s+(?:that (?:is|are) |who (?:is|are) )?" + _READING + r" (?:this|these)\b"
    + r"|\bdear (?:\w+ )?" + _AI + _AI_END
    + r"|\b(?:hey|hi|hello|attention|attn)[,:!]? " + _AI + r"\s*[,:!]"
    # Openers of well-known public jailbreak prompts: a greeting to ChatGPT/GPT-n by name (not "Hi Claude":
    # a person's name too), DAN's "Do Anything Now", an "unfiltered"/"amoral" AI to role-play.
    + r"|\b(?:hey|hi|hello|greetings),? (?:chatgpt|gpt-?\d\S*)\b|\bdo anything now\b"
    # (not "unrestricted model": a term of statistics)
    + r"|\b(?:unrestricted|unfiltered|uncensored|amoral|jailbroken) (?:" + _AI + r"|assistant|chatbot)\b",
    re.IGNORECASE)
AI_READER_SCORE = 0.95
_WORDS = re.compile(r"\w+")
# All describe what an attack *does* (addresses a model, commands it, forges structure, pads), so the
# combiner may weight them up but never down (Combiner.fit(nonneg=...)): on held-out attack families an
# unconstrained fit learned negative weights from the defenders' prompts, which share these moves.
SIGNAL_FEATURES = ("rule_kinds", "rule_hits_per_100w", "imperatives_per_100w", "unicode_anomalies",
                   "padding_frac", "command_sentence_frac", "starts_with_command", "second_person_per_100w",
                   "boundary_lines", "caps_word_frac")


def rule_hits(text: str) -> dict[str, int]:
    return {name: len(rx.findall(text)) for name, rx in _RULES}


def _per_100_words(count: int, words: int) -> float:
    """A rate per 100 words, shrunk for short texts (as if 10 more words without the event had been
    read): one "you" in a 4-word fragment is not 25 per 100 words of evidence (measured: a 20-character
    piece of a news article scored 0.99 on the raw rate)."""
    return 100.0 * count / (words + 10)


def signals(text: str, depadded: str | None = None) -> np.ndarray:
    """The training-free signals of one *raw* text (padding is measured, then removed for the rest);
    pass ``depadded`` = depad(text) when the caller has it already."""
    words_raw = max(len(text.split()), 1)
    d = depad(text) if depadded is None else depadded
    hits = rule_hits(d)
    words = max(len(d.split()), 1)
    sentences = max(sum(1 for x in _SENTENCES.split(text) if x.strip()), 1)
    return np.array([
        sum(1 for v in hits.values() if v),
        _per_100_words(sum(hits.values()), words),
        _per_100_words(len(_IMPERATIVE.findall(d)), words),
        min(unicode_anomalies.anomalies(d), 20),
        1.0 - len(d.split()) / words_raw,
        min(len(_COMMAND.findall(text)) / sentences, 1.0),
        1.0 if _COMMAND.match(d.lstrip(" \"'([{")) else 0.0,
        _per_100_words(len(_SECOND_PERSON.findall(d)), words),
        min(len(_BOUNDARY.findall(text)), 10),
        len(_CAPS.findall(d)) / words,
    ], dtype=float)


def _logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


# A run of one short non-space, non-digit pattern repeated inside a word (")]})]})]}...", "==========", "öööööö"):
# padding too, and one "word" of 3,000 such characters fills fastText's whole token window by itself.
_CHAR_RUN = re.compile(r"([^\s\d]{1,4}?)\1{3,}")


def depad(text: str) -> str:
    """What the injection classifier reads, at train and predict time: the text without padding runs
    (repeated words or word patterns, and repeated character patterns inside a word, cut to three)."""
    return ftm.collapse_repeats(_CHAR_RUN.sub(lambda m: m.group(1) * 3, text))


def addresses_ai_reader(text: str) -> bool:
    return _AI_READER.search(text) is not None


def final_scores(comb: Combiner, X: np.ndarray, depadded: list[str]) -> np.ndarray:
    """The shipped score from the combiner's input (``features``): what the scorer and the cards both use.
    A text with fewer than two words carries no instruction and scores 0 (an empty input gives fastText a
    zero vector, whose 0.5 the combiner would read as evidence); one that addresses an AI reader scores at
    least AI_READER_SCORE."""
    s = comb.predict(X)
    s[[len(_WORDS.findall(d)) < 2 for d in depadded]] = 0.0
    return np.maximum(s, [AI_READER_SCORE if addresses_ai_reader(d) else 0.0 for d in depadded])


def features(ft_model, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """For raw texts: (fastText probability, the combiner's input [fastText logit, *signals], depadded texts).
    Each text is depadded once (the slowest step of the signals)."""
    depadded = [depad(t) for t in texts]
    ft = ftm.predict(ft_model, depadded)
    X = np.hstack([_logit(ft)[:, None], np.vstack([signals(t, d) for t, d in zip(texts, depadded)])])
    return ft, X, depadded


def fit(texts: list[str], labels, groups: list[str], ft_params: dict | None = None, folds: int = 4,
        l2: float = 1.0):
    depadded = [depad(t) for t in texts]
    labels = np.asarray(labels)
    oof = ftm.out_of_fold(depadded, labels, groups, ft_params, folds)
    model = ftm.train(depadded, labels, ft_params)
    X = np.hstack([_logit(oof)[:, None], np.vstack([signals(t, d) for t, d in zip(texts, depadded)])])
    comb = Combiner.fit(X, labels, ["ft_logit", *SIGNAL_FEATURES], l2=l2, sample_weight=ftm.balanced_weights(labels),
                        nonneg=SIGNAL_FEATURES)
    return model, comb


class Scorer:
    def __init__(self, model_dir: str = DEFAULT_MODEL_DIR):
        self.model = ftm.load(os.path.join(model_dir, "fasttext.ftz"))
        self.combiner = Combiner.load(os.path.join(model_dir, "combiner.json"))
        names = ["ft_logit", *SIGNAL_FEATURES]
        missing = [n for n in self.combiner.names if n not in names]
        if missing:
            raise ValueError(f"{model_dir}/combiner.json uses features this version does not compute: {missing}; "
                             f"retrain with 'gristmill classifier train --kind injection'")
        self.columns = [names.index(n) for n in self.combiner.names]  # older models use a prefix of them

    def score(self, texts: list[str]) -> np.ndarray:
        """Injection probability (see ``final_scores``)."""
        if not texts:
            return np.zeros(0)
        _, X, depadded = features(self.model, texts)
        return final_scores(self.combiner, X[:, self.columns], depadded)


def stage(config: dict):
    from pipelines.stages import Stage

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    thr = float(number(cfg, "threshold", DEFAULT_CONFIG["threshold"], 0.0, 1.0, stage="injection"))
    scorer = Scorer(cfg["model"])

    def fn(doc: dict):
        text = doc.get("text") or ""
        s = float(scorer.score([text])[0])
        hits = int(sum(rule_hits(text).values()))
        if s >= thr:
            return drop("poison.injection", injection_score=s, ai_instruction_hits=hits)
        return keep(injection_score=s, ai_instruction_hits=hits)

    return Stage(STAGE, fn, dict(COLUMNS), enforce=bool(cfg["enforce"]))
