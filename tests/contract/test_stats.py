"""Statistics across processes: the process is the unit of replication (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest

from results_contract.stats import MIN_PROCESSES, hierarchical_ci, is_valid_sample, percentile, ratio_ci, summarize


def test_ci_widens_when_process_medians_disagree_though_each_process_is_tight():
    rng = np.random.default_rng(1)
    tight = lambda centre: list(centre + rng.normal(0, 0.001, 200))  # noqa: E731
    agree = [tight(10.0) for _ in range(5)]
    disagree = [tight(c) for c in (8.0, 9.0, 10.0, 11.0, 12.0)]
    lo_a, hi_a = hierarchical_ci(agree)
    lo_d, hi_d = hierarchical_ci(disagree)
    assert hi_a - lo_a < 0.01                 # processes agree: a narrow interval
    assert hi_d - lo_d > 2.0                  # they disagree: the interval spans their spread
    pooled = [x for run in disagree for x in run]
    pooled_width = np.subtract(*np.percentile(
        [np.median(rng.choice(pooled, len(pooled))) for _ in range(500)], [97.5, 2.5]))
    assert hi_d - lo_d > 20 * pooled_width    # pooling samples would have overstated precision


def test_the_reported_example_is_wide_not_narrow():
    """Round medians of about 5,850 / 8,870 / 5,890 (issue 11) cannot give a 1.5%-wide CI."""
    rng = np.random.default_rng(2)
    runs = [list(m + rng.normal(0, 20, 40)) for m in (5850.0, 8870.0, 5890.0)]
    lo, hi = hierarchical_ci(runs)
    assert lo < 5900 and hi > 8000


def test_point_estimate_is_the_median_of_process_medians():
    s = summarize([[1.0, 1.0, 1.0], [2.0, 2.0], [9.0, 9.0, 9.0, 9.0]])
    assert s["median"] == 2.0 and s["processes"] == 3 and s["n"] == 9
    assert [r["median"] for r in s["runs"]] == [1.0, 2.0, 9.0]
    assert [r["n"] for r in s["runs"]] == [3, 2, 4]


@pytest.mark.parametrize("k", range(1, MIN_PROCESSES))
def test_fewer_than_three_processes_give_no_interval(k):
    s = summarize([[1.0, 1.1, 0.9]] * k)
    assert s["ci95"] is None and s["processes"] == k and s["noisy"] is False and s["median"] == 1.0


def test_deterministic_metrics_carry_no_interval():
    s = summarize([[1234.0]] * 5, deterministic=True)
    assert s["ci95"] is None and s["median"] == 1234.0


def test_ci_contains_the_median_and_is_deterministic():
    runs = [[1.0, 1.2, 0.9], [1.1, 5.0, 1.05], [0.95, 1.0, 1.3], [0.99, 1.02]]
    s = summarize(runs)
    assert s["ci95"][0] <= s["median"] <= s["ci95"][1]
    assert summarize(runs) == s


def test_noisy_flag_both_ways():
    assert summarize([[10.0, 10.01], [9.99, 10.0], [10.02, 10.0]])["noisy"] is False
    assert summarize([[1.0, 1.1], [10.0, 9.0], [5.0, 5.5]])["noisy"] is True


def test_pooled_percentiles_and_empty_input():
    s = summarize([[float(x) for x in range(1, 51)], [float(x) for x in range(51, 101)], [50.5]])
    assert s["p90"] == pytest.approx(np.percentile(list(range(1, 101)) + [50.5], 90))
    empty = summarize([])
    assert empty["n"] == 0 and empty["median"] is None and empty["ci95"] is None and empty["runs"] == []


def test_ratio_ci_brackets_the_true_ratio_and_needs_three_processes_each():
    rng = np.random.default_rng(3)
    a = [list(10 + rng.normal(0, 0.2, 30)) for _ in range(5)]
    b = [list(15 + rng.normal(0, 0.3, 30)) for _ in range(5)]
    lo, hi = ratio_ci(a, b)
    assert lo < 1.5 < hi and hi - lo < 0.2
    assert ratio_ci(a[:2], b) is None


def test_sample_validity():
    assert is_valid_sample(0.0) and is_valid_sample(3)
    assert not any(is_valid_sample(v) for v in (-1.0, float("nan"), float("inf"), True, "1"))


def test_percentile_by_process_weighs_every_process_the_same():
    from results_contract.stats import percentile_by_process

    fast = [1.0] * 400            # a fast process makes many calls within its time budget
    slow = [10.0] * 40            # a slow one few
    pooled = percentile(fast + slow, 90)
    assert pooled == 1.0          # the pooled calls barely see the slow process
    assert percentile_by_process([fast, slow], 90) == 10.0  # half the weight is the slow process
    assert percentile_by_process([fast, slow], 25) == 1.0
    # With equal counts per process it agrees with the pooled samples' (Hazen) percentile.
    a, b = [1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]
    assert percentile_by_process([a, b], 50) == pytest.approx(4.5)
    assert percentile_by_process([a, b], 100) == 8.0 and percentile_by_process([a, b], 0) == 1.0
    assert percentile_by_process([], 99) is None and percentile_by_process([[]], 99) is None
