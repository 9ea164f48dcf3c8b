"""Byte-level BPE: train with HF tokenizers (train.py), encode fast with identical ids (encode.py)."""
from tokenizer.encode import Encoder, load
from tokenizer.train import EOT, eot_id, tokenizer_hash, train

__all__ = ["EOT", "Encoder", "eot_id", "load", "tokenizer_hash", "train"]
