"""Mixes: YAML validation, realized token shares, epoch accounting, seeded and resumable sampling."""
import json

import numpy as np
import pytest

from shards.format import ShardError, ShardMeta
from shards.mix import MixSampler, load_mix, load_mixes
from shards.writer import write_shard

# Group g's tokens are drawn from its own id range, so every window says which group it came from.
RANGES = {"web": (1, 100), "books": (100, 200), "code": (200, 300)}


def make_group(root, group, n_tokens, files=2, tokenizer_hash="h", seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = RANGES[group]
    per = n_tokens // files
    for f in range(files):
        lengths = np.full(per // 10, 10)
        tokens = rng.integers(lo, hi, size=int(lengths.sum())).astype(np.uint16)
        tokens[np.cumsum(lengths) - 1] = 0  # end token
        meta = ShardMeta(tokenizer_hash=tokenizer_hash, vocab_size=300, eot_id=0, dtype="uint16",
                         num_tokens=len(tokens), num_docs=len(lengths), group=group, split="train", source={})
        write_shard(str(root / group / f"{f}.arrow"), [str(i) for i in range(len(lengths))], tokens, lengths, meta)


@pytest.fixture
def shards_dir(tmp_path):
    make_group(tmp_path, "web", 40_000)
    make_group(tmp_path, "books", 20_000, seed=1)
    make_group(tmp_path, "code", 2_000, files=1, seed=2)
    return tmp_path


def group_of_row(row):
    body = row[row != 0]
    for g, (lo, hi) in RANGES.items():
        if np.all((body >= lo) & (body < hi)):
            return g
    raise AssertionError(f"row mixes groups: {row}")


def test_load_mix_from_yaml_and_validation(tmp_path, shards_dir):
    p = tmp_path / "m.yaml"
    p.write_text("name: web-heavy\ngroups:\n  web: 3\n  books: 1\n")
    mix = load_mix(str(p), shards_dir=str(shards_dir))
    assert mix.name == "web-heavy" and mix.shares == {"web": 0.75, "books": 0.25}
    bad = [
        ({"name": "x", "groups": {"web": 0}}, r"weight of group 'web' must be a number > 0 \(got 0\)"),
        ({"name": "x", "groups": {"web": -1.5}}, r"\(got -1.5\)"),
        ({"name": "x", "groups": {"web": True}}, r"\(got True\)"),
        ({"name": "x", "groups": {"web": "lots"}}, r"\(got 'lots'\)"),
        ({"name": "x", "groups": {}}, "'groups' must be a non-empty mapping"),
        ({"groups": {"web": 1}}, "'name' must be a non-empty string"),
        ({"name": "x", "groups": {"web": 1}, "weights": 2}, r"unknown field\(s\) \['weights'\]"),
        ({"name": "x", "groups": {"news": 1}}, r"group\(s\) \['news'\] not found .* available groups: \['books', 'code', 'web'\]"),
    ]
    for obj, msg in bad:
        with pytest.raises(ValueError, match=msg):
            load_mix(obj, shards_dir=str(shards_dir))
    # the YAML is read with safe_load: a Python object tag is refused, not constructed
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: !!python/object/apply:os.system ['true']\ngroups: {web: 1}\n")
    with pytest.raises(Exception, match="could not determine a constructor"):
        load_mix(str(evil))


def test_load_mixes_list_and_unique_names(tmp_path):
    p = tmp_path / "ms.yaml"
    p.write_text("mixes:\n- {name: a, groups: {web: 1}}\n- {name: b, groups: {web: 1, books: 1}}\n")
    assert [m.name for m in load_mixes(str(p))] == ["a", "b"]
    with pytest.raises(ValueError, match=r"unique \(repeated: \['a'\]\)"):
        load_mixes([{"name": "a", "groups": {"web": 1}}, {"name": "a", "groups": {"books": 1}}])


def test_realized_token_shares_match_weights(shards_dir):
    mix = {"name": "three", "groups": {"web": 0.5, "books": 0.3, "code": 0.2}}
    s = MixSampler(str(shards_dir), mix, seq_len=16, seed=7)
    counts = {g: 0 for g in RANGES}
    for _ in range(50):
        b = s.batch(20)
        assert b.shape == (20, 17) and b.dtype == np.int64
        for row in b:
            counts[group_of_row(row)] += row.size
    total = sum(counts.values())
    for g, w in mix["groups"].items():
        assert abs(counts[g] / total - w) < 0.01, (g, counts[g] / total)
    assert s.token_shares() == pytest.approx({g: counts[g] / total for g in counts})


def test_epoch_accounting_and_no_repeat_within_an_epoch(shards_dir):
    s = MixSampler(str(shards_dir), {"name": "m", "groups": {"web": 0.5, "code": 0.5}}, seq_len=16, seed=1)
    code_tokens = s.sets["code"].num_tokens
    per_epoch = (code_tokens - 1) // 16  # windows in the first epoch at most
    rows = []
    while len(rows) < per_epoch - 20:
        b = s.batch(8)
        rows += [r.tobytes() for r in b if group_of_row(r) == "code"]
    assert len(set(rows)) == len(rows)  # without replacement inside an epoch
    for _ in range(40):
        s.batch(8)
    ep = s.epochs()
    assert ep["code"] > 1.0 > ep["web"]  # the small group is being repeated, the large one is not
    assert ep["code"] == pytest.approx(s.group_rows["code"] * 16 / (code_tokens - 1))


def test_seeded_and_resume_draws_the_same_batches(shards_dir):
    mix = {"name": "m", "groups": {"web": 2, "books": 1, "code": 1}}
    full = MixSampler(str(shards_dir), mix, seq_len=32, seed=3)
    expected = [full.batch(4) for _ in range(30)]
    first = MixSampler(str(shards_dir), mix, seq_len=32, seed=3)
    for b in expected[:12]:
        np.testing.assert_array_equal(first.batch(4), b)
    state = json.loads(json.dumps(first.state_dict()))  # through JSON, as a checkpoint stores it
    resumed = MixSampler(str(shards_dir), mix, seq_len=32, seed=3)
    resumed.load_state_dict(state)
    for b in expected[12:]:
        np.testing.assert_array_equal(resumed.batch(4), b)
    assert resumed.epochs() == full.epochs()
    other = MixSampler(str(shards_dir), mix, seq_len=32, seed=4)
    assert not np.array_equal(other.batch(4), expected[0])
    with pytest.raises(ValueError, match=r"sampler state 'seed' is 3 but this sampler has 4"):
        other.load_state_dict(state)


def test_sampler_refuses_bad_groups(tmp_path, shards_dir):
    make_group(tmp_path, "web", 4_000)
    make_group(tmp_path, "books", 4_000, tokenizer_hash="other")
    with pytest.raises(ShardError, match="group 'books' has 'tokenizer_hash' 'other' but group 'web' has 'h'"):
        MixSampler(str(tmp_path), {"name": "m", "groups": {"web": 1, "books": 1}}, seq_len=8, seed=0)
    with pytest.raises(ValueError, match=r"group 'code' has \d+ train tokens, fewer than seq_len\+1 = 5001"):
        MixSampler(str(shards_dir), {"name": "m", "groups": {"code": 1}}, seq_len=5000, seed=0)
    with pytest.raises(ValueError, match=r"\['news'\] not found"):
        MixSampler(str(shards_dir), {"name": "m", "groups": {"news": 1}}, seq_len=8, seed=0)
