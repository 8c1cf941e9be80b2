"""The host-stability experiment: block medians, the spread, and run() on both workloads."""

from __future__ import annotations

import math

import pytest

from experiments import host_stability
from experiments.harness.api import Task
from results_contract.vocabulary import BLOCK_SPREAD, BLOCK_TIME, METRICS


class SteppedClock:
    """A fake clock that advances ``step`` per reading; ``step`` is changed by the test's call."""

    def __init__(self) -> None:
        self.now = 0.0
        self.step = 0.001

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_block_medians_follow_a_machine_that_slows_down(monkeypatch):
    clock = SteppedClock()
    monkeypatch.setattr(host_stability, "clock", clock)
    calls = []

    def call():
        calls.append(1)
        if len(calls) == 40:    # from here on every clock reading is 3x further apart
            clock.step = 0.003

    medians = host_stability.block_medians(call, blocks=4, block_s=0.05, warmup=5)  # ~17 calls a block
    assert len(medians) == 4
    assert medians[0] == pytest.approx(0.001)   # one step between a call's start and end
    assert medians[-1] == pytest.approx(0.003)
    assert host_stability.spread(medians) == pytest.approx(3.0)


def test_every_block_has_at_least_one_call_however_slow():
    medians = host_stability.block_medians(lambda: None, blocks=3, block_s=0.0, warmup=0)
    assert len(medians) == 3 and all(m >= 0 for m in medians)


def test_fma_blocks_convert_the_loops_own_rate_to_time_per_million_flop(monkeypatch):
    clock = SteppedClock()
    monkeypatch.setattr(host_stability, "clock", clock)

    class FakeKernel:
        rates = iter([100.0] + [100.0] * 10 + [50.0] * 1000)  # GFLOP/s: warm-up, then halves

        def gflops(self, threads, seconds):
            assert threads == 1
            return next(self.rates)

    medians = host_stability.fma_block_medians(FakeKernel(), blocks=3, block_s=0.005, call_s=0.01)
    assert medians[0] == pytest.approx(10.0)    # 1e3 / 100 GFLOP/s = 10 µs per million FLOP
    assert medians[-1] == pytest.approx(20.0)


def test_spread_is_slowest_over_fastest():
    assert host_stability.spread([2.0, 1.0, 4.0]) == 4.0
    assert host_stability.spread([5.0, 5.0]) == 1.0


def test_python_loop_is_the_sum_of_squares():
    assert host_stability.python_loop(10) == sum(i * i for i in range(10))


def test_tasks_declare_registered_metrics_and_small_quick_sizes():
    for quick in (True, False):
        tasks = host_stability.tasks(quick)
        assert {t.model for t in tasks} == {"python_loop", "mlp", "fma_loop"}
        for t in tasks:
            assert t.metrics == (BLOCK_TIME, BLOCK_SPREAD)
            assert all((m.name, m.unit) in METRICS for m in t.metrics)
    quick_s = sum(t.params["blocks"] * t.params["block_s"] for t in host_stability.tasks(True))
    assert quick_s < 1.0


def _ctx():
    from experiments.harness.context import Context

    return Context(quick=True, threads=1, seed=0)


def test_run_python_loop_reports_one_spread_and_a_time_per_block():
    task = next(t for t in host_stability.tasks(True) if t.model == "python_loop")
    by_name = {m.metric: m for m in host_stability.run(task, _ctx())}
    times, spreads = by_name[BLOCK_TIME], by_name[BLOCK_SPREAD]
    assert len(times.samples) == task.params["blocks"]
    assert all(math.isfinite(s) and s > 0 for s in times.samples)
    assert len(spreads.samples) == 1 and spreads.samples[0] >= 1.0
    assert spreads.samples[0] == pytest.approx(max(times.samples) / min(times.samples))


def test_run_fma_loop_compiles_and_reports_blocks():
    pytest.importorskip("experiments.gemm")
    task = Task(framework="pytorch", mode="native", model="fma_loop",
                params={"block_s": 0.02, "blocks": 2, "call_s": 0.005}, threads=1,
                metrics=(BLOCK_TIME, BLOCK_SPREAD))
    try:
        by_name = {m.metric: m for m in host_stability.run(task, _ctx())}
    except RuntimeError as exc:  # no C compiler or no FMA on this machine: gemm says which
        pytest.skip(str(exc))
    assert len(by_name[BLOCK_TIME].samples) == 2 and all(s > 0 for s in by_name[BLOCK_TIME].samples)
    assert by_name[BLOCK_SPREAD].samples[0] >= 1.0


@pytest.mark.frameworks
def test_run_pytorch_mlp():
    task = Task(framework="pytorch", mode="eager", model="mlp",
                params={"batch_size": 1, "block_s": 0.01, "blocks": 2}, threads=1,
                metrics=(BLOCK_TIME, BLOCK_SPREAD))
    by_name = {m.metric: m for m in host_stability.run(task, _ctx())}
    assert len(by_name[BLOCK_TIME].samples) == 2
    assert by_name[BLOCK_SPREAD].samples[0] >= 1.0
