"""Statistics on fixed data: deterministic, and the noisy flag goes both ways."""

from __future__ import annotations

import pytest

from experiments.harness.stats import bootstrap_ci_median, is_valid_sample, summarize


def test_median_percentiles_mean_on_fixed_data():
    s = summarize([float(x) for x in range(1, 101)])
    assert s["n"] == 100
    assert s["median"] == pytest.approx(50.5)
    assert s["p90"] == pytest.approx(90.1)
    assert s["p99"] == pytest.approx(99.01)
    assert s["mean"] == pytest.approx(50.5)
    assert s["stdev"] == pytest.approx(29.011, abs=1e-3)


def test_ci_contains_median_and_is_deterministic():
    data = [1.0, 1.2, 0.9, 1.1, 5.0, 1.05, 0.95, 1.0, 1.3, 0.99]
    lo, hi = bootstrap_ci_median(data)
    assert lo <= summarize(data)["median"] <= hi
    assert bootstrap_ci_median(data) == (lo, hi)
    assert summarize(data) == summarize(list(data))


def test_noisy_flag_both_ways():
    assert summarize([10.0, 10.01, 9.99, 10.0, 10.02] * 4)["noisy"] is False
    assert summarize([1.0, 10.0, 3.0, 7.0, 2.0, 9.0, 5.0])["noisy"] is True


def test_single_and_empty_samples():
    one = summarize([2.0])
    assert one["median"] == 2.0 and one["ci95"] == [2.0, 2.0] and one["noisy"] is False
    empty = summarize([])
    assert empty["n"] == 0 and empty["median"] is None and empty["ci95"] is None


def test_sample_validity():
    assert is_valid_sample(0.0) and is_valid_sample(3)
    assert not any(is_valid_sample(v) for v in (-1.0, float("nan"), float("inf"), True, "1"))
