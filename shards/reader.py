"""Memory-mapped token shards: validated on open, read as numpy views, never copied into Python lists.

A ShardSet is the files of one group and split (``DIR/<group>`` or ``DIR/<group>/val``) read as one
token stream, in file-name order. Every file's metadata is checked against the format and against the
first file (same tokenizer, vocabulary, end token, dtype, group, split); a mismatch is refused with an
error naming the field, both values and the fix.
"""
from __future__ import annotations

import bisect
import glob as globlib
import os
from typing import Iterator

import numpy as np
import pyarrow as pa

from shards.format import DTYPES, ShardError, ShardMeta

# Fields every file of a set must agree on, and that a caller may pin (the trainer pins its tokenizer).
SHARED_FIELDS = ("tokenizer_hash", "vocab_size", "eot_id", "dtype", "group", "split")


def shard_files(path: str) -> list[str]:
    """The .arrow files of a folder (not its subfolders: ``val/`` is a set of its own), or one file."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"shards path {path!r} does not exist; pass DIR/<group> or DIR/<group>/val "
                                f"of a gristmill tokenize output")
    files = sorted(globlib.glob(os.path.join(globlib.escape(path), "*.arrow")))
    if not files:
        raise FileNotFoundError(f"no .arrow shard files in {path!r}; pass DIR/<group> or DIR/<group>/val "
                                f"of a gristmill tokenize output")
    return files


def _map_file(path: str) -> tuple[ShardMeta, np.ndarray, np.ndarray, pa.MemoryMappedFile]:
    mm = pa.memory_map(path, "r")
    try:
        reader = pa.ipc.open_file(mm)
    except pa.ArrowInvalid as e:
        raise ShardError(f"{path}: not an Arrow IPC file ({e}); it is damaged or not a shard") from None
    meta = ShardMeta.from_metadata(reader.schema.metadata, path)
    want = pa.schema([("id", pa.string()), ("tokens", pa.list_(DTYPES[meta.dtype]))])
    if not reader.schema.remove_metadata().equals(want):
        raise ShardError(f"{path}: schema is {reader.schema.remove_metadata()} but 'dtype' {meta.dtype} needs {want}")
    if reader.num_record_batches != 1:
        raise ShardError(f"{path}: {reader.num_record_batches} record batches, expected 1; re-tokenize it")
    lists = reader.get_batch(0).column(1)
    offsets = lists.offsets.to_numpy(zero_copy_only=True)
    tokens = lists.values.to_numpy(zero_copy_only=True)  # a view of the mapped file: no copy
    if len(lists) != meta.num_docs or len(tokens) != meta.num_tokens or offsets[0] != 0 \
            or offsets[-1] != len(tokens):
        raise ShardError(f"{path}: metadata says {meta.num_docs} docs / {meta.num_tokens} tokens but the file "
                         f"holds {len(lists)} docs / {len(tokens)} tokens; the file is damaged, re-tokenize it")
    if meta.num_docs and not np.all(tokens[offsets[1:] - 1] == meta.eot_id):
        raise ShardError(f"{path}: a document does not end with the end token {meta.eot_id}; the file is "
                         f"damaged or was written with another end token")
    return meta, tokens, offsets, mm


class ShardSet:
    """Files of one group and split, read as one memory-mapped token stream."""

    def __init__(self, files: list[str], **expect) -> None:
        unknown = set(expect) - set(SHARED_FIELDS)
        if unknown:
            raise TypeError(f"shards.open() got unknown expectation(s) {sorted(unknown)}; allowed: {SHARED_FIELDS}")
        self.files = list(files)
        self._expect = {k: v for k, v in expect.items() if v is not None}
        self.metas: list[ShardMeta] = []
        self._tokens: list[np.ndarray] = []
        self._offsets: list[np.ndarray] = []
        self._maps: list[pa.MemoryMappedFile] = []  # kept open: the numpy views point into them
        self._views: dict[tuple[int, int], np.ndarray] = {}
        for f in self.files:
            meta, tokens, offsets, mm = _map_file(f)
            if self.metas:
                self._same(meta, f)
            self.metas.append(meta)
            self._tokens.append(tokens)
            self._offsets.append(offsets)
            self._maps.append(mm)
        first = self.metas[0]
        for key, want in self._expect.items():
            have = getattr(first, key)
            if have != want:
                raise ShardError(f"{self.files[0]}: '{key}' is {have!r} but {want!r} was expected; re-tokenize with "
                                 f"the tokenizer the model uses (gristmill tokenize --tokenizer ...) or pass matching "
                                 f"shards")
        self.tokenizer_hash = first.tokenizer_hash
        self.vocab_size = first.vocab_size
        self.eot_id = first.eot_id
        self.dtype = np.dtype(first.dtype)
        self.group = first.group
        self.split = first.split
        self.num_docs = sum(m.num_docs for m in self.metas)
        sizes = np.array([len(t) for t in self._tokens], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)])  # file i holds [starts[i], starts[i+1])
        self._starts_list = self._starts.tolist()  # bisect on a list: no numpy call per window
        self.num_tokens = int(self._starts[-1])

    def _same(self, meta: ShardMeta, path: str) -> None:
        ref = self.metas[0]
        for key in SHARED_FIELDS:
            a, b = getattr(ref, key), getattr(meta, key)
            if a != b:
                raise ShardError(f"{path}: '{key}' is {b!r} but {self.files[0]} has {a!r}; shards read together must "
                                 f"come from one tokenizer, group and split: re-tokenize them together or read "
                                 f"them separately")

    def __len__(self) -> int:
        return self.num_tokens

    def __repr__(self) -> str:
        return (f"ShardSet(group={self.group!r}, split={self.split!r}, files={len(self.files)}, "
                f"docs={self.num_docs}, tokens={self.num_tokens}, dtype={self.dtype})")

    def __reduce__(self):
        # Pickling (e.g. into a loader process) reopens the files instead of copying the tokens.
        return (_reopen, (self.files, self._expect))

    def window(self, start: int, length: int) -> np.ndarray:
        """Tokens [start, start+length) of the stream, across document boundaries.

        A view of the mapped file when the window lies in one file; a copy of the pieces when it
        crosses from one file into the next (files are whole documents, so that is a document boundary).
        """
        if length < 0 or start < 0 or start + length > self.num_tokens:
            raise IndexError(f"window [{start}, {start + length}) is outside the stream [0, {self.num_tokens}) "
                             f"of {self.group}/{self.split}")
        starts = self._starts_list
        i = bisect.bisect_right(starts, start) - 1
        lo = start - starts[i]
        if start + length <= starts[i + 1]:
            return self._tokens[i][lo:lo + length]
        parts, need = [], length
        while need > 0:
            piece = self._tokens[i][lo:lo + need]
            parts.append(piece)
            need -= len(piece)
            i, lo = i + 1, 0
        return np.concatenate(parts)

    def gather(self, starts, length: int, out: np.ndarray | None = None) -> np.ndarray:
        """Many windows at once: ``out[k] = window(starts[k], length)``, as int64 [n, length] by default.

        Windows inside one file are copied by one numpy fancy-index per file over a sliding-window
        view (no index arrays, no Python loop per row); the rare window that crosses files goes
        through :meth:`window`.
        """
        starts = np.asarray(starts, dtype=np.int64)
        if out is None:
            out = np.empty((len(starts), length), dtype=np.int64)  # [n, length]
        if len(starts) == 0:
            return out
        first, last = int(starts.min()), int(starts.max())
        if length < 1 or first < 0 or last + length > self.num_tokens:
            bad = last if last + length > self.num_tokens else first
            raise IndexError(f"window [{bad}, {bad + length}) is outside the stream [0, {self.num_tokens}) "
                             f"of {self.group}/{self.split}")
        bounds = self._starts_list
        i = bisect.bisect_right(bounds, first) - 1
        if last + length <= bounds[i + 1]:  # all in one file: the common case
            out[:] = self._sliding(i, length)[starts - bounds[i]]
            return out
        fidx = np.searchsorted(self._starts, starts, side="right") - 1
        inside = starts + length <= self._starts[fidx + 1]
        for i in set(fidx[inside].tolist()):
            rows = np.flatnonzero(inside & (fidx == i))
            out[rows] = self._sliding(i, length)[starts[rows] - bounds[i]]
        for k in np.flatnonzero(~inside).tolist():
            out[k] = self.window(int(starts[k]), length)
        return out

    def _sliding(self, i: int, length: int) -> np.ndarray:
        """File i as a [len - length + 1, length] view whose row k is tokens[k:k+length] (no copy)."""
        key = (i, length)
        view = self._views.get(key)
        if view is None:
            view = np.lib.stride_tricks.sliding_window_view(self._tokens[i], length)
            self._views[key] = view
        return view

    def eval_windows(self, seq_len: int, max_tokens: int) -> Iterator[np.ndarray]:
        """Windows of seq_len+1 tokens (inputs [:-1], targets [1:]) for held-out evaluation.

        Deterministic: the same windows every run. min(max_tokens // seq_len, what fits) windows,
        spread evenly over the whole stream (so a budget smaller than the set still samples every
        source file, not just the first), never overlapping by more than the one shared target token.
        """
        if seq_len < 1:
            raise ValueError(f"'seq_len' must be >= 1 (got {seq_len})")
        if max_tokens < 0:
            raise ValueError(f"'max_tokens' must be >= 0 (got {max_tokens})")
        fits = (self.num_tokens - 1) // seq_len
        n = min(max_tokens // seq_len, fits)
        if n <= 0:
            return
        span = self.num_tokens - seq_len - 1
        for k in range(n):
            start = (k * span) // (n - 1) if n > 1 else 0
            yield self.window(start, seq_len + 1)

    def document(self, index: int) -> np.ndarray:
        """Document ``index`` (in stream order) with its end token."""
        for offsets, tokens in zip(self._offsets, self._tokens):
            if index < len(offsets) - 1:
                return tokens[offsets[index]:offsets[index + 1]]
            index -= len(offsets) - 1
        raise IndexError(f"document index out of range (set has {self.num_docs} documents)")


def _reopen(files: list[str], expect: dict) -> ShardSet:
    return ShardSet(files, **expect)


def open_set(path: str, **expect) -> ShardSet:
    """Open ``DIR/<group>`` (train) or ``DIR/<group>/val`` (held out), or one shard file.

    ``expect`` pins shared fields, e.g. ``tokenizer_hash=...``: a set that differs is refused.
    """
    return ShardSet(shard_files(path), **expect)


def groups(shards_dir: str) -> list[str]:
    """Group names under a tokenize output folder: subfolders holding train or val shards."""
    if not os.path.isdir(shards_dir):
        raise FileNotFoundError(f"shards folder {shards_dir!r} does not exist; run gristmill tokenize --output it")
    found = []
    for name in sorted(os.listdir(shards_dir)):
        d = os.path.join(shards_dir, name)
        if name.startswith(("_", ".")) or not os.path.isdir(d):
            continue
        if globlib.glob(os.path.join(globlib.escape(d), "*.arrow")) or \
                globlib.glob(os.path.join(globlib.escape(d), "val", "*.arrow")):
            found.append(name)
    return found
