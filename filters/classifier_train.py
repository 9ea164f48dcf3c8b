"""Training and held-out evaluation for the three classifiers; `gristmill classifier train` calls these.

Every number on a card is measured on rows whose *group* never appeared in training (a book, a web
page, the human source of a machine continuation). Beyond the random group split, the cards report the
harder splits the project is judged on: leave-one-generator-out and leave-one-domain-out for LLM text,
leave-one-attack-family-out for injection (filters/injection_train.py). The shipped model is the one trained on the training split,
so the card's held-out metrics describe exactly the file next to it.
"""
from __future__ import annotations

import os
import shutil
import time

import numpy as np

from filters import classifier_data as cd
from filters import fasttext_model as ftm


def _idx(rows, idx, key="text"):
    return [rows[i][key] for i in idx]


def _card(kind, rows, params, heldout, root=cd.DEFAULT_DATA, **extra):
    return {"kind": kind, "format": 1, "data_files": ftm.data_files((r["file"] for r in rows), root),
            "rows": len(rows), "params": params, "heldout": heldout, **extra}


# ---------------------------------------------------------------- quality


def train_quality(rows: list[dict], out_dir: str, ft_params: dict | None = None, root: str = cd.DEFAULT_DATA) -> dict:
    t0 = time.time()
    tr, te = cd.split_by_group(rows, 0.2, salt="quality")
    tr = cd.shuffled(tr, rows)
    y = np.array([r["label"] for r in rows])
    model = ftm.train(_idx(rows, tr), y[tr], ft_params)
    s = ftm.predict(model, _idx(rows, te))
    neg = np.sort(s[y[te] == 0])
    quant = [round(float(v), 6) for v in np.quantile(neg, np.linspace(0, 1, 101))] if len(neg) else []
    os.makedirs(out_dir, exist_ok=True)
    model.save_model(os.path.join(out_dir, "fasttext.ftz"))
    card = _card("quality", rows, {"fasttext": {**ftm.DEFAULT_PARAMS, **(ft_params or {})}},
                 ftm.metrics(s, y[te]), train_rows=len(tr), test_rows=len(te),
                 root=root, web_score_quantiles=quant, seconds=round(time.time() - t0, 1),
                 labels={"1": "reference text", "0": "web page main text"})
    ftm.save_card(os.path.join(out_dir, "card.json"), card)
    return card


# ---------------------------------------------------------------- injection
# Lives in filters/injection_train.py (its sentence-embedding head embeds every row once, then each split
# only fits logistic regressions).


# ---------------------------------------------------------------- LLM text


def _half(group: str) -> int:
    import hashlib

    return int(hashlib.sha1(("half" + group).encode()).hexdigest()[:8], 16) % 2


def finetune_pair(rows: list[dict], idx: list[int], ref_lm, steps: int, device: str, seed: int = 1):
    """(human LM, machine LM): the reference LM fine-tuned on the humans, resp. the machines, of ``idx``."""
    from filters import charlm

    log = lambda *a: None
    h = [rows[i]["text"] for i in idx if rows[i]["label"] == 0]
    m = [rows[i]["text"] for i in idx if rows[i]["label"] == 1]
    lm_h, _ = charlm.train(h, steps=steps, lr=1e-3, seed=seed, device=device, log=log, init=ref_lm)
    lm_m, _ = charlm.train(m, steps=steps, lr=1e-3, seed=seed, device=device, log=log, init=ref_lm)
    return lm_h, lm_m


def crossfit_lm_features(rows, tr, te, ref_lm, steps: int = 300, device: str = "cpu"):
    """LM-pair features for every row of ``tr`` and ``te``, none from an LM that trained on that row.

    ``tr`` is halved by group: pair A (fine-tuned on half A) scores half B and the test rows, pair B
    scores half A. Pair A is what ships, so a scored document sees exactly what test rows saw. Self samples
    (``self_sample``, in no split) are scored by the pair that did not train on their group's half.
    """
    from filters import charlm

    a = [i for i in tr if _half(rows[i]["group"]) == 0]
    b = [i for i in tr if _half(rows[i]["group"]) == 1]
    pair_a = finetune_pair(rows, a, ref_lm, steps, device)
    pair_b = finetune_pair(rows, b, ref_lm, steps, device)
    feats = np.zeros((len(rows), len(charlm.feature_names(2))))
    selfs = [i for i, r in enumerate(rows) if r.get("self_sample")]
    by_b = [i for i in selfs if _half(rows[i]["group"]) == 0]  # their group's half trained pair A
    by_a = [i for i in selfs if _half(rows[i]["group"]) == 1]
    for pair, idx in ((pair_a, b + list(te) + by_a), (pair_b, a + by_b)):
        if idx:
            pair = [m.to(device).eval() for m in pair]
            feats[idx] = charlm.features(pair, [rows[i]["text"] for i in idx], batch=16 if device == "cpu" else 128)
    return feats, [m.cpu().eval() for m in pair_a]


def style_matrix(rows: list[dict]) -> np.ndarray:
    from filters import llm_text

    return np.vstack([llm_text.style_features(r["text"]) for r in rows])


def ref_matrix(rows: list[dict], ref_lm, device: str = "cpu") -> np.ndarray:
    """Reference-LM and word-frequency features of every row (no fine-tuning: the same for every split)."""
    import torch

    from filters import charlm

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same float sums on every machine (and polite on shared cores)
    try:
        ref_lm = ref_lm.to(device).eval()
        out = charlm.ref_features(ref_lm, [r["text"] for r in rows], batch=16 if device == "cpu" else 128)
    finally:
        torch.set_num_threads(before)
        ref_lm.cpu()
    return out


def plm_matrix(rows: list[dict], plm, max_tokens: int | None = None, threads: int | None = None,
               skip: int = 0) -> np.ndarray:
    """Pretrained-LM features (filters/gguf_lm.py) of every row; like ref features, the same for every split.

    bf16 on a CPU: the values can differ in the 3rd-4th digit between CPUs (AMX, AVX-512, AVX2 kernels sum
    in different orders), so unlike the fastText-only models this card is reproducible to ~0.002 AUROC,
    not bit for bit. Measured ~8 docs/s at 128 tokens with 2 threads on an idle AMX CPU.
    """
    import torch

    from filters import gguf_lm

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        return gguf_lm.features(plm, [r["text"] for r in rows], max_tokens or gguf_lm.MAX_TOKENS,
                                batch=8 if plm.device.type == "cpu" else 64, skip=skip)
    finally:
        torch.set_num_threads(before)


def _feats_of(feats: dict, idx) -> dict:
    """``feats`` (part -> matrix over every row, or None) restricted to rows ``idx``."""
    return {p: None if a is None else a[idx] for p, a in feats.items()}


def _predict_llm(rows, model, comb, idx, feats: dict, feature_set) -> np.ndarray:
    from filters import llm_text

    ft = ftm.predict(model, _idx(rows, idx)) if model is not None else None
    return comb.predict(llm_text.assemble(feature_set, {**_feats_of(feats, idx), "ft_prob": ft}))


def _fit_llm(rows, idx, feats: dict, feature_set, ft_params):
    """(fastText model or None, Combiner) fitted on rows ``idx`` (shuffled by hash first: fastText's order)."""
    from filters import llm_text

    idx = cd.shuffled(list(idx), rows)
    y = np.array([rows[i]["label"] for i in idx])
    return llm_text.fit(_idx(rows, idx), y, _idx(rows, idx, "group"), _feats_of(feats, idx), feature_set, ft_params)


def self_sample_rows(rows: list[dict], tr: list[int]) -> list[int]:
    """The self samples (classifier_data.llm_self_samples) whose human source is among the training rows ``tr``: a
    held-out domain's split thereby holds out its samples too (they share their source's group)."""
    groups = {rows[i]["group"] for i in tr}
    return [i for i, r in enumerate(rows) if r.get("self_sample") and r["group"] in groups]


def _fit_score_llm(rows, tr, te, feats: dict, feature_set, ft_params, weight: float | None = None):
    """Fit on rows ``tr`` and score rows ``te``; ``feats``: part -> matrix over every row (llm_text.assemble).

    With self samples among ``rows``, two detectors are fitted, the humans of ``tr`` against its shared machine text
    and against the self samples of its groups, and blended (llm_text.Blend). Returns (fitted parts, scores of
    ``te``, labels of ``te``, each detector's own AUROC on ``te``, or None with one detector)."""
    from filters import llm_text

    y = np.array([r["label"] for r in rows])
    model, comb = _fit_llm(rows, tr, feats, feature_set, ft_params)
    pa = lambda idx: _predict_llm(rows, model, comb, idx, feats, feature_set)
    selfs = self_sample_rows(rows, tr)
    if not selfs:
        return {"shared": (model, comb)}, pa(te), y[te], None
    hum = [i for i in tr if y[i] == 0]
    model_b, comb_b = _fit_llm(rows, hum + selfs, feats, feature_set, ft_params)
    pb = lambda idx: _predict_llm(rows, model_b, comb_b, idx, feats, feature_set)
    cal = list(tr) + selfs
    blend = llm_text.Blend.fit(pa(hum), pb(hum), pa(cal), pb(cal), y[cal],
                               llm_text.SELF_WEIGHT if weight is None else weight)
    a, b = pa(te), pb(te)
    parts = {"shared": (model, comb), "self": (model_b, comb_b), "blend": blend}
    return parts, blend.predict(a, b), y[te], {"shared": ftm.auroc(a, y[te]), "self": ftm.auroc(b, y[te])}


def llm_splits(rows: list[dict]) -> dict[str, tuple[list[int], list[int]]]:
    """name -> (train, test). Humans are split by group; a held-out generator's or domain's rows never train. Self
    samples (``self_sample``) are in no split: each fit takes those of its training groups (self_sample_rows)."""
    shared = [i for i, r in enumerate(rows) if not r.get("self_sample")]
    tr, te = cd.split_by_group(rows, 0.25, salt="llm")
    keep = set(shared)
    tr, te = [i for i in tr if i in keep], [i for i in te if i in keep]
    te_groups = {rows[i]["group"] for i in te}
    splits = {"random_group": (tr, te)}
    for gen in sorted({rows[i]["generator"] for i in shared if rows[i]["label"] == 1}):
        if sum(1 for i in shared if rows[i]["generator"] == gen) < 100:
            continue  # too few rows for a meaningful held-out number
        train = [i for i in tr if rows[i]["generator"] != gen]
        test = [i for i in shared if rows[i]["group"] in te_groups and rows[i]["generator"] in (gen, "human")]
        splits[f"generator={gen}"] = (train, test)
    # human-only domains are never held out alone
    for dom in sorted({rows[i]["domain"] for i in shared if rows[i]["label"] == 1}):
        train = [i for i in shared if rows[i]["domain"] != dom]
        test = [i for i in shared if rows[i]["domain"] == dom]
        splits[f"domain={dom}"] = (train, test)
    return splits


def evaluate_llm_split(rows, name, ref_lm, feats: dict, feature_sets=("all",), ft_params=None, steps=300,
                       device="cpu") -> dict:
    """One generalization split: {feature_set: metrics}. ``feats``: the parts computed once for every row (style,
    ref, the pretrained LMs); the fine-tuned LM pair (sets using "lm") is fitted inside the split."""
    from filters import llm_text

    tr, te = llm_splits(rows)[name]
    feats = dict(feats)
    if any(llm_text.uses(fs, "lm") for fs in feature_sets):
        feats["lm"], _ = crossfit_lm_features(rows, tr, te, ref_lm, steps, device)
    if feats.get("ref") is None and any(llm_text.uses(fs, "ref") for fs in feature_sets):
        feats["ref"] = ref_matrix(rows, ref_lm, device)
    if feats.get("style") is None:
        feats["style"] = style_matrix(rows)
    out = {}
    for fs in feature_sets:
        _, s, y, parts = _fit_score_llm(rows, tr, te, feats, fs, ft_params)
        out[fs] = ftm.metrics(s, y)
        if parts is not None:  # each detector of the blend alone
            out[fs]["auroc_by_detector"] = {k: round(v, 4) for k, v in parts.items()}
    return out


def train_llm(rows: list[dict], out_dir: str, ref_lm_path: str, feature_set: str | None = None,
              ft_params: dict | None = None, steps: int = 300, device: str = "cpu",
              generalization: bool = False,
              feature_sets=("fasttext", "style", "ref+style", "ft+ref+style", "plm", "plm+style", "plm+ref+style",
                            "ft+plm+ref+style", "gplm+ref+style"),
              root: str = cd.DEFAULT_DATA, plm_tokens: int | None = None, plm_skip: int | None = None) -> dict:
    """Train the shipped detector on the random group split; optionally every leave-one-out split too. Rows marked
    ``self_sample`` (classifier_data.llm_self_samples) make it two detectors, blended (_fit_score_llm).

    With the default feature set (no fine-tuned LM pair) everything runs on a CPU in minutes and is
    deterministic; sets using "lm" fine-tune the pair per split (a GPU job: ``device``).
    """
    from filters import charlm, llm_text

    feature_set = feature_set or llm_text.DEFAULT_FEATURE_SET
    t0 = time.time()
    ref = charlm.load(ref_lm_path)
    splits = llm_splits(rows)
    tr, te = splits["random_group"]
    pair, feats = None, {}
    if llm_text.uses(feature_set, "lm"):
        feats["lm"], pair = crossfit_lm_features(rows, tr, te, ref, steps, device)
    if llm_text.uses(feature_set, "ref") or (generalization and any(llm_text.uses(f, "ref") for f in feature_sets)):
        feats["ref"] = ref_matrix(rows, ref, device)
    if generalization:
        feature_sets = tuple(dict.fromkeys((*feature_sets, feature_set)))  # the shipped set is always measured
    from filters import gguf_lm

    plm_tokens = plm_tokens or gguf_lm.MAX_TOKENS
    plm_skip = gguf_lm.SKIP_TOKENS if plm_skip is None else plm_skip
    lms = {}  # part -> (module, LM): SmolLM2 ("plm") and Gemma-3-270M ("gplm"), read alike
    for part in llm_text.PRETRAINED:
        if llm_text.uses(feature_set, part) or (generalization and any(llm_text.uses(f, part) for f in feature_sets)):
            mod = llm_text.pretrained_module(part)
            lm = mod.load()
            if device != "cpu":  # a private float32 copy: the cached CPU one stays on the CPU
                import torch

                lm = type(lm)(lm.path, dtype=torch.float32).to(device)
            lms[part] = (mod, lm)
            feats[part] = plm_matrix(rows, lm, plm_tokens, skip=plm_skip)
    feats["style"] = style_matrix(rows)
    fitted, s, y, by_detector = _fit_score_llm(rows, tr, te, feats, feature_set, ft_params)
    model, comb = fitted["shared"]
    heldout = ftm.metrics(s, y)
    if by_detector is not None:
        heldout["auroc_by_detector"] = {k: round(v, 4) for k, v in by_detector.items()}
    doms = np.array([rows[i]["domain"] for i in te])
    heldout["human_fpr_by_domain_at_0.5"] = {d: round(float(np.mean(s[(doms == d) & (y == 0)] >= 0.5)), 4)
                                             for d in sorted(set(doms[y == 0]))}
    thr = heldout["threshold_at_1pct_fpr"]  # the operating point where 1% of all held-out human text is flagged
    heldout["human_fpr_by_domain_at_1pct_threshold"] = {d: round(float(np.mean(s[(doms == d) & (y == 0)] >= thr)), 4)
                                                        for d in sorted(set(doms[y == 0]))}
    gen = {}
    if generalization:
        for name in splits:
            if name != "random_group":
                gen[name] = evaluate_llm_split(rows, name, ref, {p: feats[p] for p in feats if p != "lm"},
                                               feature_sets, ft_params, steps, device)
    os.makedirs(out_dir, exist_ok=True)
    for f in (*llm_text.LM_FILES, llm_text.REF_LM_FILE, "fasttext.ftz", *llm_text.SELF_FILES.values()):
        if os.path.exists(os.path.join(out_dir, f)):  # no stale file from another recipe
            os.remove(os.path.join(out_dir, f))
    if model is not None:
        model.save_model(os.path.join(out_dir, "fasttext.ftz"))
    comb.save(os.path.join(out_dir, "combiner.json"))
    if "blend" in fitted:
        model_b, comb_b = fitted["self"]
        if model_b is not None:
            model_b.save_model(os.path.join(out_dir, llm_text.SELF_FILES["fasttext"]))
        comb_b.save(os.path.join(out_dir, llm_text.SELF_FILES["combiner"]))
        fitted["blend"].save(os.path.join(out_dir, llm_text.SELF_FILES["blend"]))
    if pair is not None:
        for lm, fname in zip(pair, llm_text.LM_FILES):
            charlm.save(lm, os.path.join(out_dir, fname), {"finetune_steps": steps})
    if llm_text.uses(feature_set, "ref"):
        shutil.copyfile(ref_lm_path, os.path.join(out_dir, llm_text.REF_LM_FILE))
    params = {"feature_set": feature_set, "fasttext": {**ftm.DEFAULT_PARAMS, **(ft_params or {})},
              "ref_lm_sha256": ftm.file_sha256(ref_lm_path), "device": device,
              "signs": llm_text.signs(feature_set)}
    if pair is not None:
        params["finetune_steps"] = steps
    if "blend" in fitted:
        n_self = sum(1 for r in rows if r.get("self_sample"))
        params["self_samples"] = {"rows": n_self, "train_rows": len(self_sample_rows(rows, tr)),
                                  "weight": fitted["blend"].weight, "file": cd.LLM_SELF_SAMPLES}
    for part, (mod, lm) in lms.items():
        if llm_text.uses(feature_set, part):
            params[part] = {"file": os.path.basename(lm.path), "sha256": ftm.file_sha256(lm.path),
                            "max_tokens": plm_tokens, "skip_tokens": plm_skip, "install": mod.INSTALL,
                            "gguf_version": _dist_version("gguf")}
    if llm_text.uses(feature_set, "ref"):
        import wordfreq

        params["wordfreq_version"] = getattr(wordfreq, "__version__", None) or _dist_version("wordfreq")
    card = _card("llm", rows, params, heldout, root=root, generalization=gen, train_rows=len(tr), test_rows=len(te),
                 seconds=round(time.time() - t0, 1), labels={"1": "machine", "0": "human"})
    ftm.save_card(os.path.join(out_dir, "card.json"), card)
    return card


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def train_lm(out_path: str, root: str = cd.DEFAULT_DATA, steps: int = 1500, device: str = "cpu",
             batch: int = 32) -> dict:
    from filters import charlm

    docs = cd.reference_docs(root)
    model, stats = charlm.train([d["text"] for d in docs], steps=steps, batch=batch, device=device)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    charlm.save(model, out_path, stats)
    card = {"kind": "lm", "format": 1, "data_files": ftm.data_files((d["file"] for d in docs), root), "params": stats}
    ftm.save_card(os.path.join(os.path.dirname(os.path.abspath(out_path)), "card.json"), card)
    return card
