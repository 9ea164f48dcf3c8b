"""Recorded outputs of the pretrained encoders, replayed by the tests that read hundreds of texts with them.

The evaluation gates score their fixtures with the committed models as the curate stage does: text preparation,
chunking, fastText, the rules, the heads, the combiners and the thresholds all run. What this replays is the three
pure functions where a pretrained network reads text, ~90% of the gates' time on a 2-core CPU without bf16 units
(the injection gate: 90 s of Gemma and 32 s of MiniLM out of 123 s):

- ``embed.Encoder.encode_windows``: all-MiniLM-L6-v2's window embeddings;
- ``gguf_lm.residual_means``: Gemma-3-270M's layer means (the injection detector's LM head);
- ``gguf_lm.features``: the GGUF LMs' token statistics (the LLM-text detector).

Each output is stored per text, under the sha1 of (function, model file, arguments that change the output, text).
Honesty checks, in every call: a pinned sample of its texts (the 1 in SPOT with the smallest keys, at least one) is
recomputed live and must agree with the recording (bit-equal on the CPU that recorded it; bf16 kernels round), and
a text that is not in the recording is computed live and counted, and the test fails at its end with the command
that re-records. ``GRISTMILL_RECORD=1 python3 -m pytest -n 0 <test>`` records: every text live, the file rewritten
(tests/fixtures/classifiers/recorded/<test name>.npz), in float32 whatever the CPU (the exact models, the dtype the
committed cards' inputs were computed in: a recording made in bf16 would replay one CPU's rounding everywhere). A
test can replay some of the functions only (``@pytest.mark.replay("residual_means")``: the others run live).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os

import numpy as np

from filters import embed, gguf_lm

DIR = os.path.join(os.path.dirname(__file__), "fixtures", "classifiers", "recorded")
SPOT = 32
RECORD = os.environ.get("GRISTMILL_RECORD") == "1"


def _model_id(model) -> str:
    """Which weights: the GGUF file's name (its sha256 is checked when it loads), or MiniLM's pinned sha256."""
    return os.path.basename(model.path) if hasattr(model, "path") else "all-MiniLM-L6-v2:" + embed.MODEL_SHA256[:12]


class Recording:
    """Replays (or, with GRISTMILL_RECORD=1, records) the encoders' outputs for one test; ``install`` patches them."""

    # function -> (module or class, name, the arguments that change the output besides the model and the texts)
    TARGETS = {"encode_windows": (embed.Encoder, "encode_windows", ("max_tokens", "max_windows")),
               "residual_means": (gguf_lm, "residual_means", ("layers", "max_tokens")),
               "features": (gguf_lm, "features", ("max_tokens", "skip"))}

    def __init__(self, name: str, functions: tuple[str, ...] | None = None):
        unknown = set(functions or ()) - set(self.TARGETS)
        if unknown:
            raise ValueError(f"replay: {sorted(unknown)} are not recorded functions; choose from {sorted(self.TARGETS)}")
        self.path = os.path.join(DIR, name + ".npz")
        self.name = name
        self.functions = tuple(functions or self.TARGETS)
        self.blocks: dict[str, dict[str, np.ndarray]] = {f: {} for f in self.functions}
        self.replayed = self.checked = 0
        self.missed: list[str] = []
        if not RECORD and os.path.exists(self.path):
            with np.load(self.path, allow_pickle=False) as z:
                for f in self.functions:
                    if f + ".keys" in z:
                        data, ends = z[f + ".data"], np.cumsum(z[f + ".rows"])
                        for key, a, b in zip(z[f + ".keys"].astype(str), ends - z[f + ".rows"], ends):
                            self.blocks[f][key] = data[a:b]

    def install(self, monkeypatch) -> None:
        if RECORD:  # float32 models, loaded afresh (none cached in bf16 by an earlier test of this process)
            monkeypatch.setattr(embed, "_bf16_is_fast", lambda: False)
            monkeypatch.setattr(embed, "_SHARED", {})
            monkeypatch.setattr(gguf_lm, "_loaded", {})
        for f in self.functions:
            owner, attr, args = self.TARGETS[f]
            monkeypatch.setattr(owner, attr, self._wrap(f, getattr(owner, attr), args))

    def _wrap(self, f: str, original, arg_names):
        sig = inspect.signature(original)

        def call(model, texts, *args, **kwargs):
            dtype = str(getattr(model, "dtype", "float32")).replace("torch.", "")
            if RECORD and dtype != "float32":
                raise AssertionError(f"{f}: recording from a {dtype} model; record in a process of its own, where the "
                                     f"models load in float32: {self.command()}")
            if not len(texts):
                return original(model, texts, *args, **kwargs)
            bound = sig.bind(model, texts, *args, **kwargs)
            bound.apply_defaults()
            params = [bound.arguments[a] for a in arg_names]
            keys = [hashlib.sha1(json.dumps([f, _model_id(model), params, t]).encode()).hexdigest() for t in texts]
            known = self.blocks[f]
            unique = sorted(set(keys))
            spot = set() if RECORD else set(unique[:max(1, -(-len(unique) // SPOT))])
            live = [i for i, k in enumerate(keys) if RECORD or k not in known or k in spot]
            got = dict(zip((keys[i] for i in live), self._split(f, original(model, [texts[i] for i in live],
                                                                                *args, **kwargs), len(live))))
            for k in spot & set(got):
                if k in known:
                    self._agree(f, got[k], known[k])
                    self.checked += 1
            self.missed += [] if RECORD else [k for k in got if k not in known]
            self.replayed += len(keys) - len(live)
            if RECORD:
                known.update(got)
            # the recording wherever it has the text (the live sample only checks it), so a replay is the recording
            return self._join(f, [known[k] if k in known else got[k] for k in keys])

        return call

    @staticmethod
    def _split(f: str, out, n: int) -> list[np.ndarray]:
        """One block per text: its rows of the function's output."""
        if f == "encode_windows":
            emb, owner = out
            return [emb[owner == i] for i in range(n)]
        return [out[i:i + 1] for i in range(n)]

    @staticmethod
    def _join(f: str, blocks: list[np.ndarray]):
        """The function's output from the texts' blocks (at least one: an empty call goes to the function itself)."""
        if f == "encode_windows":
            return np.concatenate(blocks), np.repeat(np.arange(len(blocks)), [len(b) for b in blocks]).astype(np.int64)
        return np.concatenate(blocks)

    def _agree(self, f: str, live: np.ndarray, rec: np.ndarray) -> None:
        # Relative to each row's size: the statistics' columns differ in scale, and MiniLM's rows are unit vectors
        err = np.linalg.norm(live - rec, axis=1) / (np.linalg.norm(rec, axis=1) + 1e-9)
        assert live.shape == rec.shape and float(err.max(initial=0.0)) <= 0.02, (
            f"{f}: recomputed live, a text's output differs from {self.path} (relative error "
            f"{float(err.max(initial=0.0)):.4f}): the model or its code changed; re-record: {self.command()}")

    def command(self) -> str:
        return f"GRISTMILL_RECORD=1 python3 -m pytest -n 0 -k {self.name} tests/"

    def finish(self) -> None:
        if RECORD:
            os.makedirs(DIR, exist_ok=True)
            arrays = {}
            for f, known in self.blocks.items():
                if known:
                    keys = sorted(known)
                    arrays[f + ".keys"] = np.array(keys, dtype="S40")
                    arrays[f + ".rows"] = np.array([len(known[k]) for k in keys], dtype=np.int32)
                    arrays[f + ".data"] = np.concatenate([known[k] for k in keys])
            tmp = self.path + ".tmp.npz"
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, self.path)
            return
        assert not self.missed, (f"{len(self.missed)} texts were not in {self.path} and were computed live (correct, "
                                 f"but slow): the fixture or the text preparation changed; re-record: {self.command()}")
        assert self.checked >= 1, f"no output of {self.path} was checked live"
