"""The calibrated timer: bounded, honours per-call sampling and the barrier. No timing asserts."""

from __future__ import annotations

import pytest

from experiments.harness.context import Context
from experiments.harness.timing import QUICK_BUDGET, budget_with


def test_timeit_quick_is_bounded_and_calibrated():
    calls = []
    syncs = []
    ctx = Context(quick=True, sync=lambda: syncs.append(1))
    samples = ctx.timeit(lambda: calls.append(1))
    assert QUICK_BUDGET.min_samples <= len(samples) <= QUICK_BUDGET.max_samples
    assert all(s >= 0 for s in samples)
    assert ctx.last_timing.number > 1          # a trivial call is timed in blocks
    assert ctx.last_timing.seconds < 1.0
    assert syncs                               # the barrier ran around the blocks


def test_per_call_times_single_calls():
    ctx = Context(quick=True)
    samples = ctx.timeit(lambda: None, per_call=True, max_samples=7)
    assert ctx.last_timing.number == 1
    assert len(samples) <= 7


def test_override_sync_and_validation():
    used = []
    Context(quick=True).timeit(lambda: None, sync=lambda: used.append(1), max_samples=2)
    assert used
    with pytest.raises(ValueError):
        budget_with(QUICK_BUDGET, max_samples=0)
