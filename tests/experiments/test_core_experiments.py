"""The core experiments (inference, training, parity, memory) enumerate sane tasks and their
``run`` returns every declared metric with plausible values on the smallest task.

``run`` is called in-process with the harness's real ``Context`` in quick mode (no timing
assertions: the values only have to be positive and finite). The full benchmarks run through
the CLI, not here.
"""

from __future__ import annotations

import math
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # as the compile tasks' workers

from experiments import inference, memory, parity, training  # noqa: E402
from experiments.harness import Context  # noqa: E402
from experiments.harness.cases import check_unique  # noqa: E402
from experiments.models.weights import MODELS  # noqa: E402
from tests.support import REPO  # noqa: E402

pytestmark = pytest.mark.frameworks

EXPERIMENTS = (inference, training, parity, memory)


def ctx() -> Context:
    return Context(quick=True, threads=2, seed=0, device="cpu")


def find(module, **where):
    for task in module.tasks(True):
        if all(getattr(task, k, task.params.get(k)) == v for k, v in where.items()):
            return task
    raise LookupError(where)


def check(task, measurements):
    """Every declared metric reported once, ok, with positive finite samples."""
    assert sorted(m.metric.name for m in measurements) == sorted(m.name for m in task.metrics)
    for m in measurements:
        assert m.status == "ok", m.error
        assert m.samples and all(math.isfinite(s) and s >= 0 for s in m.samples), m
    return {m.metric.name: m.samples for m in measurements}


@pytest.mark.parametrize("module", EXPERIMENTS, ids=lambda m: m.NAME)
@pytest.mark.parametrize("quick", [True, False])
def test_tasks_are_unique_and_cover_every_model(module, quick):
    tasks = module.tasks(quick)
    check_unique(tasks, module.NAME)
    assert {t.model for t in tasks} == (set(MODELS) if not quick or module is not memory
                                        else {"mlp"})
    assert {t.framework for t in tasks} == {"pytorch", "tensorflow"}


def test_inference_declares_latency_throughput_and_thread_scaling():
    tasks = inference.tasks(False)
    assert {t.params["batch_size"] for t in tasks} == {1, 32, 256}
    scaling = {(t.framework, t.mode, t.model) for t in tasks if t.threads == 1}
    assert scaling == {(f, m, model) for f, m in inference.MAIN_MODES for model in MODELS}
    xla = [t for t in tasks if t.mode == "xla"]
    assert xla and all(t.params["jit_compile"] is True for t in xla)
    assert all("compile_time" in {m.name for m in t.metrics} for t in xla if t.params["boundary"] == "tensor")


@pytest.mark.parametrize("framework,mode", [("pytorch", "eager"), ("tensorflow", "eager"),
                                            ("tensorflow", "xla")])
def test_inference_runs(framework, mode):
    task = find(inference, framework=framework, mode=mode, model="mlp")
    samples = check(task, inference.run(task, ctx()))
    metric = "latency" if task.params["batch_size"] == 1 else "throughput"
    assert min(samples[metric]) > 0


def test_inference_latency_is_per_call_in_ms():
    task = find(inference, framework="tensorflow", mode="graph", model="mlp", batch_size=1)
    samples = check(task, inference.run(task, ctx()))
    assert 0 < min(samples["latency"]) < 1000  # milliseconds, not seconds
    assert len(samples["latency"]) > 5         # one sample per call


@pytest.mark.parametrize("framework,mode", [("pytorch", "eager"), ("tensorflow", "graph")])
def test_training_runs(framework, mode):
    task = find(training, framework=framework, mode=mode, model="mlp")
    samples = check(task, training.run(task, ctx()))
    assert min(samples["throughput"]) > 0
    assert task.params["batch_size"] == 8 and task.params["optimizer"] == "adam"


def test_training_compile_reports_compile_time():
    task = find(training, framework="pytorch", mode="compile", model="mlp")
    samples = check(task, training.run(task, ctx()))
    assert samples["compile_time"][0] >= 0


@pytest.mark.parametrize("framework,mode,model", [("tensorflow", "eager", "cnn"),
                                                  ("tensorflow", "graph", "lstm")])
def test_parity_models_agree(framework, mode, model):
    task = find(parity, framework=framework, mode=mode, model=model)
    samples = check(task, parity.run(task, ctx()))
    assert samples["max_abs_diff"][0] < 1e-4
    assert samples["max_rel_diff"][0] < 1e-3
    assert samples["label_agreement"] == [1.0]


def test_parity_compare_detects_differences():
    import numpy as np

    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[1.0, 0.5], [0.6, 0.0]])
    scores = parity.compare(a, b)
    assert scores["max_abs_diff"] == pytest.approx(1.0)
    assert scores["max_rel_diff"] == pytest.approx(1.0)
    assert scores["label_agreement"] == 0.5


def test_memory_peak_is_not_inherited_from_the_parent():
    """ru_maxrss survives execve on Linux; the child's peak must be its own, not its parent's."""
    import subprocess
    import sys

    from experiments.harness.children import child_env

    ballast = bytearray(400 * 2**20)  # raise this process's peak by 400 MiB, touched
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    out = subprocess.run([sys.executable, "-c", "from experiments.memory import _peak_mib; print(_peak_mib())"],
                         env=child_env(threads=1), capture_output=True, text=True, check=True, cwd=REPO)
    del ballast
    assert float(out.stdout) < 200, out.stdout  # a bare interpreter, not the 400+ MiB parent


def test_memory_measures_a_fresh_process():
    task = find(memory, framework="pytorch", model="mlp", phase="inference")
    samples = check(task, memory.run(task, ctx()))
    assert 50 < samples["peak_rss"][0] < 8192               # MiB
    assert samples["peak_rss_over_runtime"][0] <= samples["peak_rss_over_import"][0] < samples["peak_rss"][0]


def test_memory_baseline_after_the_workload_code_excludes_lazy_imports():
    """Training through torch.optim imports torch._dynamo (tens of MiB) after the framework
    import: the runtime baseline counts it, so the MLP's part above it is far below the part
    above the bare import (the MLP's weights and Adam state are about 3 MiB)."""
    task = next(t for t in memory.tasks(False) if t.framework == "pytorch" and t.model == "mlp")
    report = memory._child({"framework": "pytorch", "mode": task.mode, "model": "mlp", "threads": 1, "seed": 0,
                            **task.params, "steps": 2})
    assert report["import_mib"] + 10 < report["runtime_mib"] < report["peak_mib"]
    assert report["peak_mib"] - report["runtime_mib"] < (report["peak_mib"] - report["import_mib"]) / 2


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_memory_children_run_at_the_framework_concurrency_and_each_is_one_run(monkeypatch, framework):
    """A full run starts PROCESSES children, CHILDREN_AT_ONCE[framework] at a time (PyTorch's one
    at a time: two would oversubscribe the cores with OpenMP threads), one run each, in order."""
    import threading
    import time

    lock, active, most, seen = threading.Lock(), [0], [0], []

    def fake_child(job):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
            seen.append(len(seen))
            number = seen[-1]
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return {"peak_mib": 100.0 + number, "import_mib": 50.0, "runtime_mib": 70.0}

    monkeypatch.setattr(memory, "_child", fake_child)
    monkeypatch.setattr(memory.os, "cpu_count", lambda: 2)
    monkeypatch.setitem(memory.CHILDREN_AT_ONCE, "tensorflow", 2)
    task = find(memory, framework=framework, model="mlp", phase="inference")
    out = {m.metric.name: m for m in memory.run(task, Context(quick=False, threads=2, seed=0, device="cpu"))}
    assert most[0] == {"pytorch": 1, "tensorflow": 2}[framework]
    assert sorted(out["peak_rss"].samples) == [100.0 + i for i in range(memory.PROCESSES)]
    assert out["peak_rss"].runs == [[s] for s in out["peak_rss"].samples]
    assert out["peak_rss_over_import"].runs == [[s - 50.0] for s in out["peak_rss"].samples]
    assert out["peak_rss_over_runtime"].runs == [[s - 70.0] for s in out["peak_rss"].samples]


def test_training_measures_every_tensorflow_mode_with_default_threads_too():
    """The pinned inter-op pool (one thread) can bind TensorFlow more than PyTorch's eager step,
    so every TensorFlow mode, and PyTorch eager, also runs unpinned (threads=None)."""
    tasks = training.tasks(False)
    unpinned = {(t.framework, t.mode) for t in tasks if t.threads is None}
    assert unpinned == {("pytorch", "eager"), ("tensorflow", "eager"), ("tensorflow", "graph"), ("tensorflow", "xla")}
    for framework, mode in unpinned:
        assert {t.model for t in tasks if (t.framework, t.mode) == (framework, mode) and t.threads is None} == set(MODELS)
    assert all(t.threads is not None for t in training.tasks(True))
