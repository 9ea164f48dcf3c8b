"""Train a byte-level BPE tokenizer with HF tokenizers, and name a tokenizer by the hash of its content.

Byte-level means every string is encodable (no unknown token) and decoding gives back the exact bytes.
The pre-tokenizer is GPT-2's regex split, so the same vocabulary can be run by tiktoken at several times
HF's speed with identical ids (tokenizer/encode.py). Training is deterministic: HF's BPE trainer counts
words exactly and breaks merge ties by the pair itself, and we feed documents in a fixed order.
"""
from __future__ import annotations

import hashlib
import json
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOT = "<|endoftext|>"
# The smallest vocabulary that holds the 256 bytes, the end-of-document token and at least one merge.
MIN_VOCAB = 258


def new_tokenizer() -> Tokenizer:
    """An untrained byte-level BPE: GPT-2's split regex, no normalizer (text is encoded as given)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def train(texts: Iterable[str], vocab_size: int, min_frequency: int = 2, eot: str = EOT) -> Tokenizer:
    """Train on ``texts`` (in the order given); the end-of-document token gets id 0."""
    if vocab_size < MIN_VOCAB:
        raise ValueError(f"'vocab_size' must be >= {MIN_VOCAB} (256 bytes + {eot} + merges) (got {vocab_size})")
    if min_frequency < 1:
        raise ValueError(f"'min_frequency' must be >= 1 (got {min_frequency})")
    tok = new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[eot],
        # All 256 bytes are in the vocabulary even if the corpus lacks some: nothing is ever unknown.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def tokenizer_hash(tok: Tokenizer) -> str:
    """sha256 of the tokenizer's canonical JSON: equal for equal tokenizers, whatever file they came from."""
    canonical = json.dumps(json.loads(tok.to_str()), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def eot_id(tok: Tokenizer, eot: str = EOT) -> int:
    tid = tok.token_to_id(eot)
    if tid is None:
        raise ValueError(f"tokenizer has no end-of-document token {eot!r}; train it with gristmill tokenizer train "
                         f"or pass --eot-token naming one of its special tokens")
    return tid
