"""Fast checks of the deployment, cold-start, gemm, keras-backend, usability and
time-to-accuracy experiments: pure helpers on fixed inputs, and run() on the cheapest task
of each module with a stand-in context (the harness's timer is not under test here).
"""

from __future__ import annotations

import math
import os

import pytest

from experiments import cold_start, deployment, gemm, keras_backends, time_to_accuracy, usability
from experiments.harness.api import Measurement, Task

pytestmark = pytest.mark.frameworks


MODULES = (cold_start, deployment, gemm, keras_backends, time_to_accuracy, usability)
FRAMEWORKS = {"pytorch", "tensorflow", "onnxruntime", "litert", "keras"}


def make_ctx(**over):
    """The harness's own Context with its quick timing budget (small, bounded)."""
    from experiments.harness.context import Context

    return Context(**{"quick": True, "threads": 2, "seed": 0, **over})


def check(task: Task, results: list[Measurement]) -> dict[str, Measurement]:
    """Every declared metric comes back once, ok ones with finite non-negative samples."""
    by_name = {m.metric.name: m for m in results}
    assert set(by_name) == {m.name for m in task.metrics}, (task, list(by_name))
    for m in results:
        if m.status == "ok":
            assert m.samples, m
            assert all(math.isfinite(s) and s >= 0 for s in m.samples), m
        else:
            assert m.error, m
    return by_name


def pick(module, quick=True, **match) -> Task:
    for t in module.tasks(quick):
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


def test_nominal_peak_avx512_and_avx2():
    p = gemm.nominal_peak(CPUINFO)
    assert p["logical_cpus"] == 2 and p["vector_extension"] == "avx512f"
    assert p["flops_per_cycle_per_core"] == 64
    assert p["peak_gflops"] == pytest.approx(2 * 2.3 * 64)
    avx2 = gemm.nominal_peak(CPUINFO.replace(" avx512f", ""))
    assert avx2["flops_per_cycle_per_core"] == 32 and avx2["vector_extension"] == "avx2+fma"


def test_fraction_of_peak_is_at_most_one_by_construction():
    """The peak is the measured FMA loop, in the same process, just before: GEMM cannot beat
    the units it runs on, so every fraction is in (0, 1]."""
    ctx = make_ctx()
    for task in [t for t in gemm.tasks(True) if t.mode != "fma_peak"][:2]:
        res = check(task, gemm.run(task, ctx))
        assert all(0 < f <= 1.0 for f in res["fraction_of_peak"].samples), res["fraction_of_peak"].samples
        assert res["gflops"].extra["fma_peak_gflops_this_process"] > max(res["gflops"].samples)


def test_fma_peak_is_measured_and_the_nominal_estimate_labelled():
    ctx = make_ctx()
    peak = pick(gemm, mode="fma_peak")
    res = check(peak, gemm.run(peak, ctx))
    assert min(res["fma_peak"].samples) > 1
    assert "estimate, not a measurement" in res["theoretical_peak"].notes
    assert res["theoretical_peak"].extra["nominal_clock_ghz"] >= 0


def test_gemm_covers_model_shapes_and_tf_graph():
    full = gemm.tasks(False)
    shapes = {t.params["shape"] for t in full if t.mode != "fma_peak"}
    assert {"square", "mlp fc1, batch 32", "mlp fc1, batch 256"} <= shapes
    assert {(t.framework, t.mode) for t in full if t.mode != "fma_peak"} == set(gemm.MODES)


# --- usability -----------------------------------------------------------------------------

SNIPPET = '''
import torch


@torch.no_grad()
def train(model, x):
    """Docstring,
    two lines."""
    # a comment line
    y = model(x)   # trailing comment: still code

    s = """a string
    that is code"""
    return y


class Net:
    """Doc."""

    def forward(self, x):
        """Nested doc."""
        return x
'''


def test_count_loc_rule():
    got = usability.count_loc(SNIPPET, ("train", "Net"))
    # train: decorator, def, y =, s = (2 lines), return -> 6; Net: class, def, return -> 3
    assert got == {"train": 6, "Net": 3}
    with pytest.raises(LookupError):
        usability.count_loc(SNIPPET, ("missing",))


def test_usability_run_all_tasks():
    for task in usability.tasks(True):
        res = check(task, usability.run(task, make_ctx()))
        assert all(m.status == "ok" for m in res.values()), res
        if task.mode == "loc":
            assert 5 < res["loc"].samples[0] < 200
        else:
            assert res["install_size"].samples[0] > 10
            assert res["install_size_with_deps"].samples[0] >= res["install_size"].samples[0]
            assert res["dependencies"].samples[0] >= 1


def test_dependency_closure_excludes_extras():
    deps, _ = usability.dependency_closure("torch")
    assert "sympy" in deps and "torch" not in deps
    assert "optree" not in deps and "pyyaml" not in deps  # only behind torch's extras


# --- deployment ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode,model", [("torch_export", "mlp"), ("onnx", "mlp"),
                                        ("litert", "mlp"), ("litert", "cnn")])
def test_deployment_paths(mode, model):
    task = pick(deployment, quick=model == "mlp", mode=mode, model=model)
    res = check(task, deployment.run(task, make_ctx()))
    assert all(m.status == "ok" for m in res.values()), res
    assert res["artifact_size"].samples[0] > 50_000  # mlp ~235k, cnn ~23k float32 weights
    assert res["max_abs_diff"].samples[0] < 1e-4
    assert res["latency"].samples and res["load_time"].samples[0] < 60
    # PyTorch artefacts run in the inference experiment's gradient mode (like for like).
    assert res["latency"].extra.get("grad_mode") == ("torch.inference_mode" if mode == "torch_export" else None)


def test_deployment_failure_is_recorded(monkeypatch):
    """A path that raises while converting reports every metric as failed, with the reason."""
    import torch

    def boom(*a, **k):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(torch.export, "export", boom)
    task = pick(deployment, mode="torch_export", model="mlp")
    res = check(task, deployment.run(task, make_ctx()))
    assert all(m.status == "failed" and "exporter exploded" in m.error for m in res.values())


# --- cold start, keras backends, time to accuracy ------------------------------------------

def test_cold_start_spawn_once():
    imp, first = cold_start.spawn_once("pytorch", cold_start._child_env(
        pick(cold_start, framework="pytorch"), make_ctx()))
    assert 0 < imp < first < 120


def test_keras_backend_task_shape():
    kinds = {(t.mode, t.env["KERAS_BACKEND"]) for t in keras_backends.tasks(True)}
    assert ("backend_tensorflow", "tensorflow") in kinds and ("backend_torch", "torch") in kinds
    assert all("jit_compile" in t.params for t in keras_backends.tasks(False))


def test_keras_backend_perf_tensorflow_mlp():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("keras already imported with another backend")
    task = pick(keras_backends, mode="backend_tensorflow", model="mlp")
    res = check(task, keras_backends.run(task, make_ctx()))
    assert all(m.status == "ok" for m in res.values()), res
    assert res["predict_throughput"].samples[0] > 10 and res["train_throughput"].samples[0] > 10


def test_time_to_accuracy_uses_the_papers_mlp_on_shared_data():
    xtr, ytr, xte, yte = time_to_accuracy.load_data()
    assert xtr.shape[1] == 784 and len(xtr) + len(xte) == 1797  # digits, 28x28 like MNIST
    assert abs(float(xtr.mean())) < 1e-3
    batches = time_to_accuracy.epoch_batches(3, len(xtr), 2)
    assert all(len(idx) == time_to_accuracy.BATCH for epoch in batches for idx in epoch)  # full batches only
    again = time_to_accuracy.epoch_batches(3, len(xtr), 2)
    assert all((a == b).all() for ea, eb in zip(batches, again) for a, b in zip(ea, eb))


def test_time_to_accuracy_loop_times_every_step_but_the_first_and_stops_at_the_target(monkeypatch):
    """The loop both frameworks share: indices are converted before the clock, the first step
    is timed apart, every later step is timed, and training stops at the first epoch whose
    accuracy reaches the target."""
    clock = iter(range(10_000))
    monkeypatch.setattr(time_to_accuracy.time, "perf_counter", lambda: float(next(clock)))
    steps, converted = [], []
    accuracies = iter([0.5, 0.99, 1.0])

    def to_index(batch):
        converted.append(len(steps))  # conversions happen before any step of the epoch
        return tuple(batch)

    n = time_to_accuracy.BATCH * 3
    train_s, epochs, acc, first = time_to_accuracy.train_to_target(
        lambda x, y: steps.append(x), lambda i: (i, i), to_index, lambda: next(accuracies),
        seed=1, n=n, max_epochs=5)
    assert (epochs, acc) == (2, 0.99) and len(steps) == 6
    assert converted == [0, 0, 0, 3, 3, 3]
    assert first == 1.0  # one clock tick around the first step alone
    assert train_s == 2.0  # one tick around each epoch's timed loop (2 + 3 steps)


def test_time_to_accuracy_pytorch_one_process():
    task = pick(time_to_accuracy, framework="pytorch")
    res = check(task, time_to_accuracy.run(task, make_ctx()))
    assert 1 <= res["epochs"].samples[0] <= int(task.params["max_epochs"])
    assert res["final_accuracy"].samples[0] > 0.5
    assert res["wall_time"].extra["seed"] == 0
    assert res["epoch_time"].samples[0] == pytest.approx(res["wall_time"].samples[0] / res["epochs"].samples[0])
    assert res["wall_time"].extra["first_step_s"] > 0


def test_every_torch_predicting_path_declares_its_grad_mode():
    """The deployment table, not a side lookup, says which paths run under inference_mode."""
    torch_paths = {m for m, p in deployment.PATHS.items() if p.predict is deployment._torch_predict}
    assert torch_paths == {"torchscript", "torch_export"}
    for mode, path in deployment.PATHS.items():
        assert path.grad_mode == ("torch.inference_mode" if mode in torch_paths else None), mode
