"""Real token shards for the trainer tests, built from the fixture texts (see fixtures/README-trainer.md).

Not a test module: the trainer tests import it. A 512-token byte-level BPE is trained with
``tokenizer.train`` and the documents are written with ``shards.writer`` into ``DIR/<group>/`` and
``DIR/<group>/val/`` (every 8th document held out), exactly the layout ``gristmill tokenize`` writes.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import yaml

FIX = Path(__file__).parent / "fixtures" / "trainer"
GROUPS = ("clean", "junk")


def documents(group: str, min_chars: int = 400) -> list[str]:
    """The fixture text cut at blank lines into documents of at least ``min_chars`` characters."""
    text = (FIX / f"{group}.txt").read_text(encoding="utf-8")
    docs, cur = [], ""
    for para in text.split("\n\n"):
        cur = f"{cur}\n\n{para}" if cur else para
        if len(cur) >= min_chars:
            docs.append(cur)
            cur = ""
    if cur:
        docs.append(cur)
    return docs


def build(out_dir: str | os.PathLike, vocab_size: int = 512) -> dict:
    from shards.format import ShardMeta, dtype_for
    from shards.writer import write_shard
    from tokenizer.encode import load
    from tokenizer.train import train

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_docs = {g: documents(g) for g in GROUPS}
    tok = train([d for g in GROUPS for d in all_docs[g]], vocab_size)
    tok_path = out / "tok.json"
    tok.save(str(tok_path))
    enc = load(str(tok_path))
    shards_dir = out / "shards"
    for g, docs in all_docs.items():
        for split in ("train", "val"):
            picked = [(i, d) for i, d in enumerate(docs) if (i % 8 == 7) == (split == "val")]
            ids = [f"{g}-{i}" for i, _ in picked]
            tokens, lengths = enc.encode_docs([d for _, d in picked])
            src = FIX / f"{g}.txt"
            meta = ShardMeta(tokenizer_hash=enc.hash, vocab_size=enc.vocab_size, eot_id=enc.eot_id,
                             dtype=dtype_for(enc.vocab_size), num_tokens=len(tokens), num_docs=len(ids),
                             group=g, split=split,
                             source={"path": str(src), "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
                                     "rows": len(docs)})
            folder = shards_dir / g / ("val" if split == "val" else "")
            write_shard(str(folder / "part-00000.arrow"), ids, np.asarray(tokens), lengths, meta)
    mixes = {"clean": {"name": "clean", "groups": {"clean": 1.0}},
             "dirty": {"name": "dirty", "groups": {"clean": 0.5, "junk": 0.5}}}
    for name, m in mixes.items():
        (out / f"{name}.yaml").write_text(yaml.safe_dump(m))
    (out / "mixes.yaml").write_text(yaml.safe_dump({"mixes": list(mixes.values())}))
    return {"shards": str(shards_dir), "tokenizer": str(tok_path), "vocab_size": enc.vocab_size,
            "clean_mix": str(out / "clean.yaml"), "dirty_mix": str(out / "dirty.yaml"),
            "mixes": str(out / "mixes.yaml")}


_CACHE: dict = {}


def shared() -> dict:
    """One build per test process, shared by the trainer test modules (building takes a few seconds).
    Tests must not write into it; they write runs under their own tmp_path."""
    if "built" not in _CACHE:
        import atexit
        import shutil
        import tempfile

        d = tempfile.mkdtemp(prefix="gristmill-trainer-shards-")
        atexit.register(shutil.rmtree, d, True)
        _CACHE["built"] = build(d)
    return _CACHE["built"]
