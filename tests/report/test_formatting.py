"""Numbers and comparison sentences generated from cases: direction, size and the tie wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from report.formatting import compare_sentence, fmt_case, fmt_number, fmt_quantity, fmt_ratio
from report.results import Case


def case(fw, median, lo, hi, unit="ms", better="lower", status="ok", error=None, mode="eager"):
    data = {"id": f"{fw}/{mode}", "framework": fw, "mode": mode, "model": "mlp", "metric": "m", "unit": unit,
            "better": better, "params": {}, "samples": [median] * 3 if status == "ok" else [], "n": 3,
            "median": median if status == "ok" else None, "ci95": [lo, hi] if status == "ok" else None,
            "status": status, "error": error}
    return Case.from_dict("exp", Path("results/exp.json"), data)


def test_fmt_number():
    assert fmt_number(0.1234) == "0.123"
    assert fmt_number(12.0) == "12"
    assert fmt_number(123456.7) == "123,457"
    assert fmt_number(4.47e-7) == "4.47×10⁻⁷"
    # significant trailing zeros stay (review 11 n2); exact shorter values and whole numbers drop them
    assert fmt_number(2.6996) == "2.70" and fmt_number(3.401) == "3.40" and fmt_number(91.996) == "92.0"
    assert fmt_number(0.25) == "0.25" and fmt_number(0.05 * 100) == "5" and fmt_number(0.006) == "0.006"
    assert fmt_number(0.99996) == "1.00" and fmt_number(9.9996) == "10.0" and fmt_number(3.6996e-7) == "3.70×10⁻⁷"
    # a ratio interval's bound near one keeps the digits that say which side of one it is on (review 12 m9)
    from report.formatting import fmt_range
    assert fmt_range(0.99965, 1.22, "x") == "0.9997–1.22×" and fmt_range(0.818, 1.0027, "x") == "0.818–1.003×"
    assert fmt_range(1.83, 2.374, "x") == "1.83–2.37×"
    assert fmt_quantity(3 * 1024 * 1024, "bytes") == "3 MiB"
    assert fmt_quantity(0.5, "%") == "0.5%"


def test_lower_is_better_time_direction_and_size():
    fast, slow = case("pytorch", 1.0, 0.9, 1.1), case("tensorflow", 3.0, 2.9, 3.1)
    assert compare_sentence(fast, slow) == "PyTorch eager (1 ms) is 3× faster than TensorFlow eager (3 ms)"
    assert compare_sentence(slow, fast) == "TensorFlow eager (3 ms) is 3× slower than PyTorch eager (1 ms)"


def test_higher_is_better_throughput():
    a = case("pytorch", 200.0, 190, 210, unit="samples/s", better="higher", mode="compile")
    b = case("tensorflow", 100.0, 95, 105, unit="samples/s", better="higher", mode="graph")
    assert compare_sentence(a, b) == ("PyTorch torch.compile (200 samples/s) is 2× faster than "
                                      "TensorFlow tf.function (100 samples/s)")
    m1 = case("pytorch", 300.0, 290, 310, unit="MiB")
    m2 = case("tensorflow", 600.0, 590, 610, unit="MiB")
    assert "is 2× smaller than" in compare_sentence(m1, m2, "PyTorch", "TensorFlow")


def test_overlapping_intervals_are_no_clear_difference():
    a, b = case("pytorch", 1.0, 0.8, 1.3), case("tensorflow", 1.1, 1.0, 1.4)
    assert compare_sentence(a, b).endswith("show no clear difference (their 95% CIs overlap)")


def test_failed_case_is_reported_with_reason():
    ok = case("pytorch", 1.0, 0.9, 1.1)
    bad = case("litert", 0, 0, 0, status="failed", error="RuntimeError: Flex delegate missing")
    assert fmt_case(bad) == "n/a (failed: RuntimeError: Flex delegate missing)"
    assert compare_sentence(ok, bad, "TorchScript", "LiteRT") == (
        "TorchScript produced a result while LiteRT did not (n/a (failed: RuntimeError: Flex delegate missing))")


def test_change_words_follow_the_quantity():
    from report.formatting import fmt_change

    # Sizes: the plain change of the value ("44% smaller" is 0.56 times the size).
    assert fmt_change(825.0, 1466.0, "MiB", "lower") == "44% smaller"
    assert fmt_change(1466.0, 825.0, "MiB", "lower") == "78% larger"
    assert fmt_change(55.0, 201.0, "bytes", "lower") == "3.65× smaller"
    # Times and rates: speed words, symmetric (50% slower = takes 1.5 times as long).
    assert fmt_change(1.0, 1.5, "ms", "lower") == "50% faster"
    assert fmt_change(1.5, 1.0, "ms", "lower") == "50% slower"
    assert fmt_change(100.0, 300.0, "samples/s", "higher") == "3× slower"
    # Counts: more/fewer ("3.44× smaller" for a dependency count reads wrong).
    assert fmt_change(9.0, 31.0, "count", "lower") == "3.44× fewer"
    assert fmt_change(12.0, 9.0, "count", "lower") == "33% more"
    # Scores: higher/lower.
    assert fmt_change(0.9, 1.0, "ratio", "higher") == "10% lower"


def test_equal_medians_are_said_to_be_equal():
    a, b = case("pytorch", 4.0, 3.0, 6.0, unit="epochs"), case("tensorflow", 4.0, 4.0, 6.0, unit="epochs")
    sentence = compare_sentence(a, b, "PyTorch", "TensorFlow")
    assert sentence.startswith("PyTorch and TensorFlow have the same median (4")
    assert "no clear difference" not in sentence


@pytest.mark.parametrize("ratio, words", [
    (1.12, "12% faster"), (1 / 1.12, "12% slower"),
    (1.994, "99% faster"),                        # still prints below 100%
    (1.9992, "2.00× faster"), (1 / 1.9992, "2.00× slower"),  # would print "100%": switches to ×
    (2.47, "2.47× faster"),
])
def test_speed_words_switch_to_times_where_the_percentage_would_print_100(ratio, words):
    assert fmt_ratio(ratio, "faster", "slower") == words


def test_accuracies_on_the_same_test_set_differ_by_a_count_of_samples():
    def acc(fw, value):
        data = {"id": f"{fw}/q", "framework": fw, "mode": "q", "model": "mlp", "metric": "accuracy", "unit": "ratio",
                "better": "higher", "params": {}, "median": value, "ci95": None, "status": "ok", "deterministic": True,
                "extra": {"test_samples": 450}}
        return Case.from_dict("exp", Path("results/exp.json"), data)

    sentence = compare_sentence(acc("pytorch", 418 / 450), acc("tensorflow", 416 / 450), "int8", "float32")
    assert sentence == "int8 (92.9%) classifies 2 more of the 450 test samples correctly than float32 (92.4%)"


@pytest.mark.parametrize("value, tick", [(0.01, "0.01"), (1.0, "1"), (10_000.0, "10,000"), (100_000.0, "100,000"),
                                         (1e6, "10⁶"), (2_000.0, "")])
def test_log_axis_ticks_keep_one_notation_up_to_a_hundred_thousand(value, tick):
    from report.charts import log_tick

    assert log_tick(value) == tick
