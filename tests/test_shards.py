"""Token shards: write -> memory-mapped read, metadata validation, windows across files and documents."""
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shards
from shards.format import ShardError, ShardMeta, dtype_for, table
from shards.writer import split_points, to_bytes, write_shard
from tokenizer import Encoder, train

FIX = Path(__file__).parent / "fixtures" / "tokenize"


@pytest.fixture(scope="module")
def enc():
    texts = pq.read_table(FIX / "docs-0.parquet", columns=["text"]).column(0).to_pylist()
    return Encoder(train(texts, vocab_size=500))


@pytest.fixture(scope="module")
def texts():
    return pq.read_table(FIX / "docs-1.parquet", columns=["text"]).column(0).to_pylist()


def meta_for(enc, tokens, n_docs, group="web", split="train", **over):
    m = dict(tokenizer_hash=enc.hash, vocab_size=enc.vocab_size, eot_id=enc.eot_id, dtype=enc.dtype.name,
             num_tokens=len(tokens), num_docs=n_docs, group=group, split=split, source={"path": "x.parquet"})
    m.update(over)
    return ShardMeta(**m)


def write_docs(enc, path, docs, **over):
    tokens, lengths = enc.encode_docs(docs)
    write_shard(str(path), [f"d{i}" for i in range(len(docs))], tokens, lengths,
                meta_for(enc, tokens, len(docs), **over))
    return tokens


def test_round_trip_text_to_shards_to_text(enc, texts, tmp_path):
    write_docs(enc, tmp_path / "web" / "a.arrow", texts[:10])
    write_docs(enc, tmp_path / "web" / "b.arrow", texts[10:])
    s = shards.open(str(tmp_path / "web"))
    assert s.num_docs == len(texts) and s.tokenizer_hash == enc.hash and s.eot_id == enc.eot_id
    assert s.dtype == np.uint16 and s.vocab_size == enc.vocab_size
    for i, t in enumerate(texts):
        doc = s.document(i)
        assert doc[-1] == enc.eot_id and enc.decode(doc[:-1]) == t
    assert s.num_tokens == sum(len(enc.encode(t)) + 1 for t in texts)


def test_windows_are_views_and_cross_files_correctly(enc, texts, tmp_path):
    t1 = write_docs(enc, tmp_path / "g" / "0.arrow", texts[:3])
    t2 = write_docs(enc, tmp_path / "g" / "1.arrow", texts[3:5])
    t3 = write_docs(enc, tmp_path / "g" / "2.arrow", texts[5:6])
    stream = np.concatenate([t1, t2, t3])
    s = shards.open(str(tmp_path / "g"))
    assert s.num_tokens == len(stream)
    inside = s.window(5, 20)
    assert not inside.flags.owndata  # a view into the memory-mapped file, not a copy
    np.testing.assert_array_equal(inside, stream[5:25])
    # windows that start in one file and end in the next (or the one after), and the very last window
    for start in (len(t1) - 1, len(t1) - 10, len(t1) + len(t2) - 3, len(stream) - 50, 0):
        np.testing.assert_array_equal(s.window(start, 50), stream[start:start + 50])
    np.testing.assert_array_equal(s.window(0, len(stream)), stream)
    with pytest.raises(IndexError, match=r"outside the stream \[0, "):
        s.window(len(stream) - 10, 11)
    # many windows at once (what the mix sampler uses), including ones that cross files
    starts = np.concatenate([np.random.default_rng(0).integers(0, len(stream) - 40, 200),
                             [len(t1) - 5, len(t1) + len(t2) - 1, len(stream) - 40]])
    got = s.gather(starts, 40)
    assert got.dtype == np.int64 and got.shape == (len(starts), 40)
    np.testing.assert_array_equal(got, np.stack([stream[a:a + 40] for a in starts]))
    with pytest.raises(IndexError, match="outside the stream"):
        s.gather([0, len(stream) - 39], 40)
    with pytest.raises(IndexError):
        s.window(-1, 3)


def test_eval_windows_deterministic_spread_and_in_bounds(enc, texts, tmp_path):
    write_docs(enc, tmp_path / "g" / "val" / "0.arrow", texts, split="val")
    s = shards.open(str(tmp_path / "g" / "val"))
    seq = 32
    a = [w.copy() for w in s.eval_windows(seq, 10 * seq)]
    b = [w.copy() for w in s.eval_windows(seq, 10 * seq)]
    assert len(a) == 10 and all(len(w) == seq + 1 for w in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # spread over the whole set: the last window ends at the stream's end
    np.testing.assert_array_equal(a[-1], s.window(s.num_tokens - seq - 1, seq + 1))
    everything = list(s.eval_windows(seq, 10 ** 9))
    assert len(everything) == (s.num_tokens - 1) // seq
    assert list(s.eval_windows(10 ** 9, 10 ** 12)) == []


def test_metadata_mismatch_is_refused_with_field_and_values(enc, texts, tmp_path):
    write_docs(enc, tmp_path / "g" / "0.arrow", texts[:2])
    write_docs(enc, tmp_path / "g" / "1.arrow", texts[2:4], tokenizer_hash="f" * 64)
    with pytest.raises(ShardError, match=r"1\.arrow: 'tokenizer_hash' is 'fff+' but .*0\.arrow has '" + enc.hash):
        shards.open(str(tmp_path / "g"))
    write_docs(enc, tmp_path / "h" / "0.arrow", texts[:2])
    with pytest.raises(ShardError, match=r"'tokenizer_hash' is '" + enc.hash + "' but 'abc' was expected; re-tokenize"):
        shards.open(str(tmp_path / "h"), tokenizer_hash="abc")
    assert shards.open(str(tmp_path / "h"), tokenizer_hash=enc.hash).num_docs == 2
    write_docs(enc, tmp_path / "v" / "0.arrow", texts[:2])
    write_docs(enc, tmp_path / "v" / "1.arrow", texts[2:4], split="val")
    with pytest.raises(ShardError, match="'split' is 'val' but"):
        shards.open(str(tmp_path / "v"))


def test_damaged_or_foreign_files_are_refused(enc, texts, tmp_path):
    tokens, lengths = enc.encode_docs(texts[:3])
    ids = ["a", "b", "c"]

    def put(name, meta):
        p = tmp_path / name
        p.write_bytes(to_bytes(table(ids, tokens, lengths, meta)))
        return str(p)

    good = meta_for(enc, tokens, 3)
    lying = ShardMeta(**{**good.__dict__, "num_tokens": len(tokens) + 7})
    with pytest.raises(ShardError, match=r"metadata says 3 docs / \d+ tokens but the file holds 3 docs"):
        shards.open(put("lying.arrow", lying))
    newer = ShardMeta(**{**good.__dict__, "format_version": 99})
    with pytest.raises(ShardError, match="'format_version' is 99 but this reader reads 1"):
        shards.open(put("newer.arrow", newer))
    wrong_eot = ShardMeta(**{**good.__dict__, "eot_id": 5})
    with pytest.raises(ShardError, match="does not end with the end token 5"):
        shards.open(put("eot.arrow", wrong_eot))
    plain = tmp_path / "plain.arrow"
    tbl = pa.table({"tokens": [1, 2, 3]})
    with pa.ipc.new_file(str(plain), tbl.schema) as w:
        w.write_table(tbl)
    with pytest.raises(ShardError, match="not a gristmill token shard"):
        shards.open(str(plain))
    junk = tmp_path / "junk.arrow"
    junk.write_bytes(b"not arrow at all")
    with pytest.raises(ShardError, match="not an Arrow IPC file"):
        shards.open(str(junk))
    with pytest.raises(ShardError, match="'dtype' is uint32 but 'vocab_size' 500 needs uint16"):
        ShardMeta(**{**good.__dict__, "dtype": "uint32"}).check("x")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(FileNotFoundError, match="no .arrow shard files"):
        shards.open(str(tmp_path / "nothing"))


def test_uint32_when_vocab_exceeds_uint16(tmp_path):
    assert dtype_for(65536) == "uint16" and dtype_for(65537) == "uint32"
    tokens = np.array([70000, 1, 0, 69999, 0], dtype=np.uint32)
    lengths = np.array([3, 2])
    meta = ShardMeta(tokenizer_hash="h", vocab_size=70001, eot_id=0, dtype="uint32", num_tokens=5, num_docs=2,
                     group="g", split="train", source={})
    write_shard(str(tmp_path / "g" / "0.arrow"), ["a", "b"], tokens, lengths, meta)
    s = shards.open(str(tmp_path / "g"))
    assert s.dtype == np.uint32
    np.testing.assert_array_equal(s.window(0, 5), tokens)


def test_split_points_never_cut_documents():
    lengths = np.array([5, 5, 5, 20, 1, 1])
    assert split_points(lengths, 10) == [(0, 2), (2, 3), (3, 4), (4, 6)]
    assert split_points(lengths, 1000) == [(0, 6)]


def test_groups_listing_and_pickle_reopens(enc, texts, tmp_path):
    write_docs(enc, tmp_path / "kept" / "0.arrow", texts[:2], group="kept")
    write_docs(enc, tmp_path / "only_val" / "val" / "0.arrow", texts[:2], group="only_val", split="val")
    (tmp_path / "_rejected").mkdir()
    (tmp_path / "empty").mkdir()
    assert shards.groups(str(tmp_path)) == ["kept", "only_val"]
    s = shards.open(str(tmp_path / "kept"))
    s2 = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(s2.window(0, s.num_tokens), s.window(0, s.num_tokens))
