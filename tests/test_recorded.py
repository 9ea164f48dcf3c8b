"""tests/recorded.py, which the gates lean on: a replay equals the live output, a changed model fails the live sample,
a text that was never recorded fails the test, a recording is made in float32 only, and a test can replay some
functions and run the others live (with the real MiniLM on 40 short texts)."""
import numpy as np
import pytest

from filters import embed
from tests import recorded as rec


def test_recording_replays_checks_a_live_sample_and_flags_unrecorded_texts(tmp_path, monkeypatch):
    monkeypatch.setattr(rec, "DIR", str(tmp_path))
    texts = [f"The {i}th train leaves platform {i % 7} at {i % 12} o'clock." for i in range(40)]
    enc = embed.Encoder(dtype="float32")  # what a recording is made with, on any CPU
    live = enc.encode_windows(texts)
    monkeypatch.setattr(rec, "RECORD", True)
    with monkeypatch.context() as m:
        r = rec.Recording("t")
        r.install(m)
        assert np.array_equal(enc.encode_windows(texts)[0], live[0])
        r.finish()
    monkeypatch.setattr(rec, "RECORD", False)

    with monkeypatch.context() as m:
        r = rec.Recording("t")
        r.install(m)
        emb, owner = enc.encode_windows(texts)
        assert np.array_equal(emb, live[0]) and np.array_equal(owner, live[1])
        assert (r.checked, r.replayed) == (2, 38)  # 1 in SPOT (32) recomputed, at least one
        r.finish()

    path = tmp_path / "t.npz"
    z = dict(np.load(path))
    z["encode_windows.data"] = z["encode_windows.data"] * 1.05  # what a changed model gives
    np.savez(path, **z)
    with monkeypatch.context() as m:
        rec.Recording("t").install(m)
        with pytest.raises(AssertionError, match="re-record: GRISTMILL_RECORD=1"):
            enc.encode_windows(texts)

    np.savez(path, **{**z, "encode_windows.data": z["encode_windows.data"] / 1.05})
    with monkeypatch.context() as m:
        r = rec.Recording("t")
        r.install(m)
        emb, _ = enc.encode_windows(texts + ["A sentence that was never recorded."])
        assert np.allclose(emb[:-1], live[0]) and len(emb) == 41  # computed live: correct, but slow
        with pytest.raises(AssertionError, match="1 texts were not in"):
            r.finish()


def test_recording_is_float32_and_can_replay_some_functions_only(tmp_path, monkeypatch):
    monkeypatch.setattr(rec, "DIR", str(tmp_path))
    texts = ["A short sentence to embed.", "Another one, a little longer than the first."]
    monkeypatch.setattr(rec, "RECORD", True)
    with monkeypatch.context() as m:
        rec.Recording("bf16").install(m)
        assert embed._SHARED == {} and embed._bf16_is_fast() is False  # models load afresh, in float32
        with pytest.raises(AssertionError, match="from a bfloat16 model"):  # one rounding recorded for every CPU
            embed.Encoder(dtype="bfloat16").encode_windows(texts)
    monkeypatch.setattr(rec, "RECORD", False)

    original = {f: getattr(owner, attr) for f, (owner, attr, _) in rec.Recording.TARGETS.items()}
    with monkeypatch.context() as m:
        r = rec.Recording("some", ("residual_means",))
        r.install(m)
        now = {f: getattr(owner, attr) for f, (owner, attr, _) in rec.Recording.TARGETS.items()}
        assert [f for f in now if now[f] is not original[f]] == ["residual_means"]
        embed.shared().encode_windows(texts)  # live: not replayed, not missed
        assert (r.replayed, r.checked, r.missed) == (0, 0, [])
    with pytest.raises(ValueError, match=r"\['encode'\] are not recorded functions"):
        rec.Recording("t", ("encode",))
