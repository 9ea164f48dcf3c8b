"""Byte-level BPE training and the fast encoder: determinism, round trips, ids identical to HF's."""
import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, normalizers

from pipelines import tokenizer_cmd
from tokenizer import EOT, Encoder, load, tokenizer_hash, train

FIX = Path(__file__).parent / "fixtures" / "tokenize"


def fixture_texts() -> list[str]:
    texts = []
    for name in ("docs-0.parquet", "docs-1.parquet", "rejected-0.parquet"):
        texts += [t for t in pq.read_table(FIX / name, columns=["text"]).column(0).to_pylist() if t and t.strip()]
    return texts


@pytest.fixture(scope="module")
def texts():
    return fixture_texts()


@pytest.fixture(scope="module")
def tok(texts):
    return train(texts, vocab_size=700)


def multilingual(shared_data, n=400) -> list[str]:
    lines = [json.loads(line) for line in open(shared_data / "lid" / "udhr.jsonl", encoding="utf-8")]
    return [r["text"] for r in lines[:: max(1, len(lines) // n)]]


def test_training_is_deterministic_and_has_end_token(texts, tok):
    again = train(texts, vocab_size=700)
    assert again.to_str() == tok.to_str()
    assert tokenizer_hash(again) == tokenizer_hash(tok)
    assert tok.get_vocab_size() == 700
    assert tok.token_to_id(EOT) == 0
    other = train(texts, vocab_size=650)
    assert tokenizer_hash(other) != tokenizer_hash(tok)


def test_round_trip_text_tokens_text(tok, texts, shared_data):
    enc = Encoder(tok)
    samples = texts[:20] + multilingual(shared_data, 50) + [
        "tabs\tand  double  spaces\n\n\nnewlines", "emoji 🦀🚀 and accents: café naïve", "\x00\x01 control \x7f",
        "  leading and trailing  ", "日本語のテキスト", "",
    ]
    for s in samples:
        ids = enc.encode(s)
        assert enc.decode(ids) == s
        assert all(0 <= i < enc.vocab_size for i in ids)


def test_tiktoken_ids_identical_to_hf(tok, texts, shared_data):
    enc = Encoder(tok)
    assert enc.backend == "tiktoken", enc.why_not_tiktoken
    samples = texts + multilingual(shared_data)
    hf = [e.ids for e in tok.encode_batch(samples, add_special_tokens=False)]
    assert enc.encode_batch(samples) == hf
    # every vocabulary entry on its own: where tiktoken's whole-piece lookup could differ from HF's merges
    for i in range(1, tok.get_vocab_size()):
        s = tok.decode([i])
        assert enc.encode(s) == tok.encode(s, add_special_tokens=False).ids, (i, s)


def test_end_token_text_in_a_document_is_ordinary_text(tok):
    enc = Encoder(tok)
    s = "before <|endoftext|> after"
    for backend in ("tiktoken", "hf"):
        ids = Encoder(Tokenizer.from_str(tok.to_str()), backend=backend).encode(s)
        assert enc.eot_id not in ids, backend
    tokens, lengths = enc.encode_docs([s, "second"])
    ends = np.cumsum(lengths) - 1
    assert list(np.flatnonzero(tokens == enc.eot_id)) == list(ends)
    assert tokens.dtype == np.uint16


def test_encode_docs_layout(tok, texts):
    enc = Encoder(tok)
    tokens, lengths = enc.encode_docs(texts[:5])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for i, t in enumerate(texts[:5]):
        doc = tokens[offsets[i]:offsets[i + 1]]
        assert doc[-1] == enc.eot_id
        assert enc.decode(doc[:-1]) == t


def test_non_byte_level_tokenizer_falls_back_to_hf(tok):
    spec = json.loads(tok.to_str())
    other = Tokenizer.from_str(json.dumps(spec))
    other.normalizer = normalizers.Lowercase()
    enc = Encoder(other)
    assert enc.backend == "hf" and "normalizer" in enc.why_not_tiktoken
    assert enc.encode("HELLO") == other.encode("HELLO", add_special_tokens=False).ids
    with pytest.raises(ValueError, match="normalizer"):
        Encoder(Tokenizer.from_str(other.to_str()), backend="tiktoken")


def test_bad_arguments_name_the_problem(texts, tmp_path):
    with pytest.raises(ValueError, match=r"'vocab_size' must be >= 258 \(.*\) \(got 100\)"):
        train(texts, vocab_size=100)
    no_eot = train(texts, vocab_size=400, eot="<|other|>")
    with pytest.raises(ValueError, match=re.escape("no end-of-document token '<|endoftext|>'")):
        Encoder(no_eot)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable HF tokenizer JSON"):
        load(str(bad))


def test_cli_train_writes_a_loadable_deterministic_file(tmp_path, capsys):
    out1, out2 = tmp_path / "a.json", tmp_path / "b.json"
    for out in (out1, out2):
        assert tokenizer_cmd.main(["train", "--input", str(FIX / "docs-*.parquet"), "--vocab-size", "500",
                                   "--output", str(out)]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    enc = load(str(out1))
    assert enc.vocab_size == 500 and enc.eot_id == 0
    assert f"hash:{enc.hash}" in capsys.readouterr().out
    assert tokenizer_cmd.main(["train", "--input", str(FIX / "docs-0.parquet"), "--vocab-size", "10",
                               "--output", str(tmp_path / "c.json")]) == 2
