"""Ablation statistics: paired bootstrap CIs, verdicts, detectable difference, the scaling fit and its flags."""
import numpy as np
import pytest

from trainer.stats import first_separation, fit_power_law, mean_ci, paired_difference, predict, scaling_check


def pair(rng, seeds, n, shift, seed_sd=0.005):
    """Two mixes' losses on the same n sequences: a shared per-sequence difficulty (the pairing), a per-run
    offset (seed noise) and a little per-sequence noise."""
    base = rng.normal(3.0, 0.5, size=n)
    run = lambda s: np.stack([base + s + rng.normal(0, seed_sd) + rng.normal(0, 0.02, n) for _ in range(seeds)])
    return run(0.0), run(shift)


def test_a_real_difference_is_detected_with_the_right_sign():
    rng = np.random.default_rng(0)
    base = rng.normal(3.0, 0.5, size=400)
    a = np.stack([base + rng.normal(0, 0.02, 400) for _ in range(2)])
    b = np.stack([base + 0.05 + rng.normal(0, 0.02, 400) for _ in range(2)])
    st = paired_difference(a, b, "clean", "dirty", "web")
    assert st.separated and st.ci_hi < 0 and st.diff == pytest.approx(-0.05, abs=0.01)
    assert st.verdict().startswith("clean better than dirty on web by 0.05")
    assert st.mdd < 0.05  # this budget can resolve a difference this size


def test_pairing_resolves_what_unpaired_noise_would_hide():
    rng = np.random.default_rng(1)
    base = rng.normal(3.0, 1.0, size=100)  # sequences differ a lot in difficulty
    a = np.stack([base + rng.normal(0, 0.01, 100)])
    b = np.stack([base + 0.03 + rng.normal(0, 0.01, 100)])
    st = paired_difference(a, b)
    assert st.separated
    unpaired_half_width = 1.96 * np.sqrt(a.var(ddof=1) / 100 + b.var(ddof=1) / 100)
    assert st.half_width < unpaired_half_width / 10


def test_no_difference_is_not_a_verdict():
    rng = np.random.default_rng(2)
    base = rng.normal(3.0, 0.5, size=200)
    a = np.stack([base + rng.normal(0, 0.05, 200) for _ in range(2)])
    b = np.stack([base + rng.normal(0, 0.05, 200) for _ in range(2)])
    st = paired_difference(a, b, "A", "B", "web")
    assert not st.separated and st.ci_lo < 0 < st.ci_hi
    assert "no difference detected between A and B on web at this budget" in st.verdict()


def test_seed_noise_widens_the_interval():
    rng = np.random.default_rng(3)
    quiet = paired_difference(*pair(rng, 3, 300, 0.02, seed_sd=0.0))
    noisy = paired_difference(*pair(rng, 3, 300, 0.02, seed_sd=0.05))
    assert noisy.half_width > 2 * quiet.half_width and noisy.seed_sd_a > quiet.seed_sd_a


def test_mdd_shrinks_with_more_sequences():
    rng = np.random.default_rng(4)
    small = paired_difference(*pair(rng, 2, 50, 0.0, seed_sd=0.0))
    big = paired_difference(*pair(rng, 2, 800, 0.0, seed_sd=0.0))
    assert big.mdd < small.mdd


def test_mismatched_sequences_are_refused():
    with pytest.raises(ValueError, match="different numbers of sequences"):
        paired_difference(np.ones((1, 5)), np.ones((1, 6)))
    with pytest.raises(ValueError, match="non-finite"):
        paired_difference(np.full((1, 5), np.nan), np.ones((1, 5)))


def test_mean_ci():
    m, hw = mean_ci(np.array([[1.0, 2.0, 3.0, 4.0]]))
    assert m == 2.5 and 0.5 < hw < 1.5


def test_power_law_fit_recovers_parameters():
    c = np.array([1e15, 3e15, 1e16, 3e16, 1e17, 3e17])
    y = 20.0 * (c / 1e15) ** -0.3 + 2.0
    fit = fit_power_law(c, y)
    assert fit["b"] == pytest.approx(0.3, rel=1e-3) and fit["c"] == pytest.approx(2.0, rel=1e-3)
    assert predict(fit, [1e18])[0] == pytest.approx(20.0 * 1000 ** -0.3 + 2.0, rel=1e-3)


def test_a_run_off_the_curve_is_flagged():
    c = np.array([1e15, 2e15, 4e15, 8e15, 16e15, 32e15])
    y = 10.0 * (c / 1e15) ** -0.25 + 3.0
    y_bug = y.copy()
    y_bug[3] += 0.6  # e.g. a run that silently trained on the wrong shards
    clean = scaling_check(c, y, [f"r{i}" for i in range(6)])
    bad = scaling_check(c, y_bug, [f"r{i}" for i in range(6)])
    assert clean["flagged"] == [] and clean["method"] == "leave-one-out"
    assert bad["flagged"] == ["r3"]
    with pytest.raises(ValueError, match="needs >= 3 runs"):
        scaling_check(c[:2], y[:2])


def test_first_separation():
    rng = np.random.default_rng(5)
    base = rng.normal(3, 0.5, 300)
    stats = [paired_difference(np.stack([base]), np.stack([base + d + rng.normal(0, 0.05, 300)]))
             for d in (0.0, 0.001, 0.05, 0.08)]
    assert first_separation([10, 20, 30, 40], stats) == 30
