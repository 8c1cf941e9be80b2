"""Fast checks of the deployment, cold-start, gemm, keras-backend, usability and
time-to-accuracy experiments: pure helpers on fixed inputs, and run() on the cheapest task
of each module with a stand-in context (the harness's timer is not under test here).
"""

from __future__ import annotations

import math
import os
import time
from types import SimpleNamespace

import pytest

from experiments import cold_start, deployment, gemm, keras_backends, time_to_accuracy, usability
from experiments.harness.api import Measurement, Task

MODULES = (cold_start, deployment, gemm, keras_backends, time_to_accuracy, usability)
FRAMEWORKS = {"pytorch", "tensorflow", "onnxruntime", "litert", "keras"}


def _timeit(fn, *, per_call=False, repeat=3, **_):
    """A stand-in for the harness timer: one warm-up, then ``repeat`` timed calls."""
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def make_ctx(**over):
    ctx = SimpleNamespace(quick=True, threads=2, seed=0, device="cpu", sync=lambda: None,
                          timeit=_timeit)
    for k, v in over.items():
        setattr(ctx, k, v)
    return ctx


def check(task: Task, results: list[Measurement]) -> dict[str, Measurement]:
    """Every declared metric comes back once, ok ones with finite non-negative samples."""
    by_name = {m.metric: m for m in results}
    assert set(by_name) == {m.name for m in task.metrics}, (task, list(by_name))
    for m in results:
        if m.status == "ok":
            assert m.samples, m
            assert all(math.isfinite(s) and s >= 0 for s in m.samples), m
        else:
            assert m.error, m
    return by_name


def pick(module, **match) -> Task:
    for t in module.tasks(True):
        if all(getattr(t, k) == v for k, v in match.items()):
            return t
    raise LookupError(match)


# --- contract ------------------------------------------------------------------------------

@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_tasks_follow_the_contract(module):
    for quick in (True, False):
        tasks = module.tasks(quick)
        assert tasks
        for t in tasks:
            assert t.framework in FRAMEWORKS
            assert t.metrics
            assert all(isinstance(v, (int, float, str, bool, type(None)))
                       for v in t.params.values()), t.params
    assert isinstance(module.TITLE, str) and module.NAME == module.__name__.rsplit(".", 1)[-1]


# --- gemm ----------------------------------------------------------------------------------

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Processor
cpu MHz\t\t: 2300.000
siblings\t: 2
cpu cores\t: 2
flags\t\t: fpu sse sse2 avx fma avx2 avx512f

processor\t: 1
model name\t: Intel(R) Xeon(R) Processor
cpu MHz\t\t: 2300.000
siblings\t: 2
cpu cores\t: 2
flags\t\t: fpu sse sse2 avx fma avx2 avx512f
"""


def test_theoretical_peak_avx512():
    p = gemm.theoretical_peak(CPUINFO)
    assert p["logical_cpus"] == 2 and p["vector_extension"] == "avx512f"
    assert p["flops_per_cycle_per_core"] == 64
    assert p["peak_gflops"] == pytest.approx(2 * 2.3 * 64)
    assert not p["smt_detected"]


def test_theoretical_peak_avx2_max_clock_and_smt():
    text = CPUINFO.replace(" avx512f", "").replace("siblings\t: 2", "siblings\t: 4")
    p = gemm.theoretical_peak(text, max_mhz=3000)
    assert p["flops_per_cycle_per_core"] == 32 and p["clock_ghz"] == 3.0
    assert p["peak_gflops"] == pytest.approx(2 * 3.0 * 32)
    assert p["smt_detected"]
    assert gemm.theoretical_peak(text.replace(" fma avx2", "").replace(" avx", ""))[
        "flops_per_cycle_per_core"] == 8


def test_gemm_run_quick():
    ctx = make_ctx()
    task = pick(gemm, framework="pytorch", mode="matmul")
    res = check(task, gemm.run(task, ctx))
    assert all(g > 0.1 for g in res["gflops"].samples)
    assert 0 < res["fraction_of_peak"].samples[0] < 2
    peak = pick(gemm, mode="theoretical_peak")
    res = check(peak, gemm.run(peak, ctx))
    assert res["theoretical_peak"].samples[0] > 1
    assert res["theoretical_peak"].extra["numpy_gflops_median"] > 0
