"""Checkpoints that carry everything a resumed run needs to continue exactly, and their own provenance.

A checkpoint holds the model, optimizer and schedule state, the sampler's state (so the resumed run
draws the batches the uninterrupted one would have), the RNG states, the model and train configs, the
mix, the tokenizer hash and the code version. It is written to a temporary name and renamed, so a run
killed mid-save leaves the previous checkpoint intact. Loading uses ``weights_only=True``: a checkpoint
is data, never code (nothing in it needs unpickling of arbitrary objects).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import torch

FORMAT_VERSION = 1
LATEST = "latest.pt"
LAST_GOOD = "last_good.pt"


def code_version() -> str:
    """The package version plus the git commit of the source tree (and '+dirty' when it has edits)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("gristmill")
    except PackageNotFoundError:
        v = "unknown"
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    return f"{v}+{sha}{'.dirty' if dirty else ''}" if sha else v


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | os.PathLike, **payload: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    torch.save({"format_version": FORMAT_VERSION, **payload}, tmp)
    os.replace(tmp, path)


def load(path: str | os.PathLike) -> dict[str, Any]:
    ck = torch.load(path, map_location="cpu", weights_only=True)
    if ck.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path}: 'format_version' is {ck.get('format_version')!r}, this trainer reads "
                         f"{FORMAT_VERSION}; resume it with the gristmill version that wrote it "
                         f"({ck.get('code_version', 'unknown')}) or start a new run")
    return ck


def check_compatible(ck: dict[str, Any], model_config: dict, tokenizer_hash: str | None, mix: dict | None) -> None:
    """Refuse to resume into a different model, tokenizer or mix: the curve would silently change meaning."""
    if ck["model_config"] != model_config:
        diff = {k: (ck["model_config"].get(k), model_config.get(k)) for k in set(ck["model_config"]) | set(model_config)
                if ck["model_config"].get(k) != model_config.get(k)}
        raise ValueError(f"--resume: model config differs from the checkpoint's {diff} (checkpoint, now); "
                         "use the same --preset and overrides, or a new --output")
    if tokenizer_hash is not None and ck.get("tokenizer_hash") not in (None, tokenizer_hash):
        raise ValueError(f"--resume: 'tokenizer_hash' of the shards is {tokenizer_hash!r} but the checkpoint was "
                         f"trained on {ck.get('tokenizer_hash')!r}; resume on the same shards or start a new run")
    if mix is not None and ck.get("mix") not in (None, mix):
        raise ValueError(f"--resume: mix {mix} differs from the checkpoint's {ck.get('mix')}; "
                         "resume with the same --mix or start a new run")
