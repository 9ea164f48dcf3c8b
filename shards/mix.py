"""Data mixes: named shard groups with weights, applied when batches are drawn (no data is rewritten).

A mix file is YAML (read with yaml.safe_load)::

    name: kept+rejected
    groups: {kept: 0.7, rejected: 0.3}

``MixSampler`` draws windows of seq_len+1 tokens. Which group each row comes from is decided by
smooth weighted round-robin (each row goes to the group furthest behind its share), so after any
number of rows every group's token share is within one window of its weight, with no sampling noise
to blur an ablation. Within a group, windows are read without replacement in a seeded random order
that is reshuffled, with a fresh random offset, every time the group's tokens run out (an epoch).
The whole state is a few integers: a resumed run draws exactly the batches an uninterrupted one would.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from shards.format import ShardError
from shards.reader import ShardSet, groups as list_groups, open_set

STATE_VERSION = 1


@dataclass(frozen=True)
class Mix:
    name: str
    groups: dict[str, float]  # group -> weight (> 0), in the order written

    @property
    def shares(self) -> dict[str, float]:
        total = sum(self.groups.values())
        return {g: w / total for g, w in self.groups.items()}


def _read_yaml(path_or_obj: Any, what: str) -> Any:
    if isinstance(path_or_obj, (str, os.PathLike)):
        with open(path_or_obj, encoding="utf-8") as f:
            return yaml.safe_load(f)
    return path_or_obj


def parse_mix(obj: Any, where: str = "mix", available: list[str] | None = None) -> Mix:
    """Validate one mix mapping; ``available`` (the groups of a shards folder) checks that groups exist."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: must be a mapping with 'name' and 'groups' (got {type(obj).__name__})")
    unknown = sorted(set(obj) - {"name", "groups"})
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; allowed: 'name', 'groups'")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: 'name' must be a non-empty string (got {name!r})")
    where = f"{where} {name!r}"
    grp = obj.get("groups")
    if not isinstance(grp, dict) or not grp:
        raise ValueError(f"{where}: 'groups' must be a non-empty mapping group -> weight, "
                         f"e.g. {{kept: 0.7, rejected: 0.3}} (got {grp!r})")
    weights: dict[str, float] = {}
    for g, w in grp.items():
        if not isinstance(g, str):
            raise ValueError(f"{where}: group names must be strings (got {g!r}); quote it in the YAML")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w) or w <= 0:
            raise ValueError(f"{where}: weight of group {g!r} must be a number > 0 (got {w!r}); "
                             f"leave a group out of the mix instead of giving it weight 0")
        weights[g] = float(w)
    if available is not None:
        missing = [g for g in weights if g not in available]
        if missing:
            raise ValueError(f"{where}: group(s) {missing} not found in the shards folder; "
                             f"available groups: {available}")
    return Mix(name=name, groups=weights)


def load_mix(path_or_dict: Any, shards_dir: str | None = None) -> Mix:
    """A Mix from a YAML file or a dict; with ``shards_dir``, its groups must exist there."""
    available = list_groups(shards_dir) if shards_dir is not None else None
    where = f"mix file {path_or_dict}" if isinstance(path_or_dict, (str, os.PathLike)) else "mix"
    return parse_mix(_read_yaml(path_or_dict, where), where, available)


def load_mixes(path_or_obj: Any, shards_dir: str | None = None) -> list[Mix]:
    """Several mixes: a YAML list of mixes, or a mapping ``{mixes: [...]}``; names must be unique."""
    obj = _read_yaml(path_or_obj, "mixes")
    where = f"mixes file {path_or_obj}" if isinstance(path_or_obj, (str, os.PathLike)) else "mixes"
    if isinstance(obj, dict) and set(obj) == {"mixes"}:
        obj = obj["mixes"]
    if isinstance(obj, dict):
        obj = [obj]
    if not isinstance(obj, list) or not obj:
        raise ValueError(f"{where}: must be a list of mixes (or {{mixes: [...]}}), each with 'name' and 'groups'")
    available = list_groups(shards_dir) if shards_dir is not None else None
    mixes = [parse_mix(m, f"{where}[{i}]", available) for i, m in enumerate(obj)]
    names = [m.name for m in mixes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{where}: mix names must be unique (repeated: {dup})")
    return mixes


def _group_seed(name: str) -> int:
    # A stable number per group (Python's hash() differs between processes).
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big")


class MixSampler:
    """Seeded batches of windows from the train split of each group, in the mix's token shares."""

    def __init__(self, shards_dir: str, mix: Mix | dict | str, seq_len: int, seed: int, **expect) -> None:
        if seq_len < 1:
            raise ValueError(f"'seq_len' must be >= 1 (got {seq_len})")
        self.mix = mix if isinstance(mix, Mix) else load_mix(mix)
        available = list_groups(shards_dir)
        parse_mix({"name": self.mix.name, "groups": self.mix.groups}, "mix", available)
        self.shards_dir = shards_dir
        self.seq_len = seq_len
        self.seed = int(seed)
        self.names = list(self.mix.groups)
        self.shares = [self.mix.shares[g] for g in self.names]
        self.sets: dict[str, ShardSet] = {g: open_set(os.path.join(shards_dir, g), **expect) for g in self.names}
        first = self.sets[self.names[0]]
        for g in self.names[1:]:
            for key in ("tokenizer_hash", "vocab_size", "eot_id"):
                if getattr(self.sets[g], key) != getattr(first, key):
                    raise ShardError(f"group {g!r} has '{key}' {getattr(self.sets[g], key)!r} but group "
                                     f"{self.names[0]!r} has {getattr(first, key)!r}; a mix needs groups tokenized "
                                     f"with one tokenizer: re-tokenize them with the same --tokenizer")
        for g, s in self.sets.items():
            if s.num_tokens < seq_len + 1:
                raise ValueError(f"group {g!r} has {s.num_tokens} train tokens, fewer than seq_len+1 = {seq_len + 1}; "
                                 f"lower seq_len, leave the group out of the mix, or tokenize more data into it")
        self.tokenizer_hash = first.tokenizer_hash
        self.vocab_size = first.vocab_size
        self.eot_id = first.eot_id
        self.rows = 0
        self.group_rows = {g: 0 for g in self.names}
        self.epoch = {g: 0 for g in self.names}
        self.pos = {g: 0 for g in self.names}
        self._order: dict[str, tuple[int, int, np.ndarray]] = {}  # group -> (epoch, offset, window order)

    def _epoch_order(self, g: str) -> tuple[int, np.ndarray]:
        e = self.epoch[g]
        cached = self._order.get(g)
        if cached is None or cached[0] != e:
            rng = np.random.default_rng([self.seed, _group_seed(g), e])
            n_tokens = self.sets[g].num_tokens
            # A fresh offset each epoch, so repeated data is not cut at the same places.
            offset = int(rng.integers(0, min(self.seq_len, n_tokens - self.seq_len)))
            count = (n_tokens - 1 - offset) // self.seq_len
            cached = (e, offset, rng.permutation(count))
            self._order[g] = cached
        return cached[1], cached[2]

    def _next_start(self, g: str) -> int:
        offset, order = self._epoch_order(g)
        if self.pos[g] >= len(order):
            self.epoch[g] += 1
            self.pos[g] = 0
            offset, order = self._epoch_order(g)
        start = offset + int(order[self.pos[g]]) * self.seq_len
        self.pos[g] += 1
        return start

    def _pick(self) -> str:
        best, best_deficit = 0, None
        for k, g in enumerate(self.names):  # plain Python: a handful of groups, called once per row
            deficit = self.shares[k] * (self.rows + 1) - self.group_rows[g]
            if best_deficit is None or deficit > best_deficit:  # ties go to the group listed first
                best, best_deficit = k, deficit
        return self.names[best]

    def batch(self, batch_size: int) -> np.ndarray:
        """int64 [batch_size, seq_len+1]: inputs = [:, :-1], targets = [:, 1:]."""
        if batch_size < 1:
            raise ValueError(f"'batch_size' must be >= 1 (got {batch_size})")
        rows: dict[str, list[int]] = {g: [] for g in self.names}
        starts: dict[str, list[int]] = {g: [] for g in self.names}
        for r in range(batch_size):
            g = self._pick()
            rows[g].append(r)
            starts[g].append(self._next_start(g))
            self.group_rows[g] += 1
            self.rows += 1
        out = np.empty((batch_size, self.seq_len + 1), dtype=np.int64)  # [B, T+1]
        for g in self.names:
            if rows[g]:
                out[rows[g]] = self.sets[g].gather(starts[g], self.seq_len + 1)
        return out

    def token_shares(self) -> dict[str, float]:
        """Realized share of drawn tokens per group."""
        return {g: (self.group_rows[g] / self.rows if self.rows else 0.0) for g in self.names}

    def epochs(self) -> dict[str, float]:
        """Passes over each group's train tokens so far (tokens drawn / tokens available):
        1.0 = every token seen once on average; 3.0 = repeated three times."""
        return {g: self.group_rows[g] * self.seq_len / max(self.sets[g].num_tokens - 1, 1) for g in self.names}

    def state_dict(self) -> dict:
        return {
            "version": STATE_VERSION, "mix": self.mix.name, "groups": dict(self.mix.groups), "seed": self.seed,
            "seq_len": self.seq_len, "tokenizer_hash": self.tokenizer_hash,
            "group_tokens": {g: self.sets[g].num_tokens for g in self.names},
            "rows": self.rows, "group_rows": dict(self.group_rows), "epoch": dict(self.epoch), "pos": dict(self.pos),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state``; refuses a state from another mix, seed, seq_len or other shards."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"sampler state 'version' is {state.get('version')!r}, expected {STATE_VERSION}")
        mine = self.state_dict()
        for key in ("groups", "seed", "seq_len", "tokenizer_hash", "group_tokens"):
            if state.get(key) != mine[key]:
                raise ValueError(f"sampler state '{key}' is {state.get(key)!r} but this sampler has {mine[key]!r}; "
                                 f"resume with the same mix, seed, seq_len and shards the run started with")
        self.rows = int(state["rows"])
        self.group_rows = {g: int(state["group_rows"][g]) for g in self.names}
        self.epoch = {g: int(state["epoch"][g]) for g in self.names}
        self.pos = {g: int(state["pos"][g]) for g in self.names}
