"""The survey's newer experiments: data-parallel training (distributed), quantisation,
Keras 3 on JAX (keras_backends) and ExecuTorch (a deployment path)."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
from dataclasses import replace

import pytest

from experiments import deployment, distributed, keras_backends, quantization
from experiments.harness.api import Measurement, Task
from experiments.harness.context import Context
from results_contract.vocabulary import FRAMEWORKS

pytestmark = pytest.mark.frameworks

MODULES = (distributed, quantization, keras_backends)


def ctx(**over) -> Context:
    return Context(**{"quick": True, "threads": 2, "seed": 0, **over})


def check(task: Task, results: list[Measurement]) -> dict[str, Measurement]:
    by_name = {m.metric.name: m for m in results}
    assert set(by_name) == {m.name for m in task.metrics}, (task, list(by_name))
    for m in results:
        if m.status == "ok":
            assert m.samples and all(math.isfinite(s) and s >= 0 for s in m.samples), m
        else:
            assert m.error, m
    return by_name


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_tasks_follow_the_contract(module):
    for quick in (True, False):
        tasks = module.tasks(quick)
        assert tasks
        ids = set()
        for t in tasks:
            assert t.framework in FRAMEWORKS
            assert t.metrics
            assert all(isinstance(v, (int, float, str, bool, type(None)))
                       for v in t.params.values()), t.params
            key = (t.framework, t.mode, t.model, tuple(sorted(t.params.items())))
            assert key not in ids, key
            ids.add(key)
    assert module.NAME == module.__name__.rsplit(".", 1)[-1]


def test_modules_do_not_import_frameworks_at_module_level():
    code = ("import sys; import experiments.distributed, experiments.quantization, "
            "experiments.keras_backends, experiments.deployment; "
            "bad = [m for m in ('torch', 'tensorflow', 'jax', 'keras', 'executorch') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("support").REPO))
    assert run.returncode == 0, run.stdout + run.stderr


# --- distributed ---------------------------------------------------------------------------

def _task(framework, processes=2):
    return next(t for t in distributed.tasks(False)
                if t.framework == framework and t.params["processes"] == processes)


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_distributed_two_ranks_agree_with_one_process_on_the_whole_batch(framework):
    task = replace(_task(framework), params={**_task(framework).params, "blocks": 2,
                                              "steps_per_block": 2, "warmup_steps": 1})
    res = check(task, distributed.run(task, ctx()))
    assert all(m.status == "ok" for m in res.values()), res
    extra = res["step_time"].extra
    assert extra["replicas_agree"] and extra["matches_global_batch_training"]  # byte-identical replicas
    assert extra["steps_compared"] == 1 + 2 * 2 and extra["match_tolerance"] == distributed.LEARNING_RATE / 10
    # Full parameter vectors, not sums: after one step only float32 rounding separates them.
    assert 0 <= extra["max_abs_diff_first_step"] < 1e-5 and 0 <= extra["max_abs_diff_final"] <= extra["match_tolerance"]
    # One SGD step is scale-sensitive: the data-parallel update equals the whole-batch one to rounding.
    assert extra["sgd_max_update"] > 0 and extra["sgd_relative_diff"] < 1e-3
    assert extra["rank_affinity"] == [[0], [1]] or os.cpu_count() < 2


def test_sgd_check_catches_a_gradient_of_the_wrong_scale():
    """Summing the replicas' gradients instead of averaging them doubles the SGD update."""
    import numpy as np

    start = np.zeros(4, dtype=np.float32)
    reference = start - 1e-3 * np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)
    summed = start - 2e-3 * np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)
    assert distributed._sgd_check(start, reference, reference)["sgd_relative_diff"] == 0.0
    assert distributed._sgd_check(start, summed, reference)["sgd_relative_diff"] == pytest.approx(1.0)


def test_parameter_check_compares_whole_vectors_not_their_sums():
    """Two weight vectors with the same sum but different entries do not match."""
    import numpy as np

    final = np.array([1.0, -1.0, 0.5], dtype=np.float32)
    swapped = np.array([-1.0, 1.0, 0.5], dtype=np.float32)
    check = distributed._parameter_check(final, final, lambda: (final, swapped))
    assert check["checksum"] == check["reference"]           # the old check would have passed
    assert check["max_abs_diff_first_step"] == 0.0 and check["max_abs_diff_final"] == 2.0
    other = distributed._parameter_check(swapped, swapped, None)
    assert other["digest"] != check["digest"] and other["reference"] is None


def test_distributed_rank_crash_is_recorded_and_peers_killed(monkeypatch):
    real = distributed._rank_env

    def broken(framework, rank, world, ports):
        env = real(framework, rank, world, ports)
        if rank == 1:
            env["GLOO_SOCKET_IFNAME"] = "nosuchif0"
        return env

    monkeypatch.setattr(distributed, "_rank_env", broken)
    res = check(_task("pytorch"), distributed.run(_task("pytorch"), ctx()))
    err = res["step_time"].error
    assert res["step_time"].status == "failed" and "rank 1 of 2" in err and "nosuchif0" in err
    left = subprocess.run(["pgrep", "-f", "_rank_main"], capture_output=True, text=True)
    assert left.stdout.strip() == ""


def test_distributed_hang_hits_the_deadline(monkeypatch):
    import json

    real = distributed._rank_env

    def split_cluster(framework, rank, world, ports):
        env = real(framework, rank, world, ports)
        if rank == 1:  # worker 1 waits for a worker 0 that is not there
            cfg = json.loads(env["TF_CONFIG"])
            cfg["cluster"]["worker"][0] = "localhost:1"
            env["TF_CONFIG"] = json.dumps(cfg)
        return env

    monkeypatch.setattr(distributed, "_rank_env", split_cluster)
    task = replace(_task("tensorflow"), timeout_s=40)
    res = check(task, distributed.run(task, ctx()))
    assert res["step_time"].status == "failed"
    assert "still running after 20 s" in res["step_time"].error


# --- quantization --------------------------------------------------------------------------

def test_bf16_support_reads_the_flags():
    yes, why = quantization.bf16_support("flags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert yes and "avx512_bf16" in why
    no, why = quantization.bf16_support("flags\t\t: fpu sse2 avx2\n")
    assert not no and "avx2" in why and "not measured" in why


def test_row_tokens():
    import numpy as np

    pixels = np.zeros((1, 64), np.float32)
    pixels[0, :8] = [16, 0, 0, 0, 0, 0, 0, 16]   # first row: bits 0 and 7
    tokens = quantization.model_inputs("lstm", pixels)
    assert tokens.shape == (1, 8) and tokens[0, 0] == 1 + 128 and tokens[0, 1:].sum() == 0


def _qtask(framework, mode, model="mlp"):
    return next(t for t in quantization.tasks(False)
                if (t.framework, t.mode, t.model) == (framework, mode, model))


def test_quantization_pytorch_int8_mlp():
    task = _qtask("pytorch", "int8_dynamic")
    task = replace(task, params={**task.params, "train_epochs": 3})
    res = check(task, quantization.run(task, ctx()))
    assert all(m.status == "ok" for m in res.values()), res
    assert res["accuracy"].samples[0] > 0.8
    assert 0 < res["max_abs_diff"].samples[0] < 1
    assert res["artifact_size"].samples[0] < 100_000   # float32: about 206 kB
    assert "deprecated" in (res["latency"].notes or "")


def test_quantization_bf16_is_unsupported_without_the_flags():
    native, _ = quantization.bf16_support()
    if native:
        pytest.skip("this CPU has native bfloat16")
    res = check(_qtask("pytorch", "bfloat16"), quantization.run(_qtask("pytorch", "bfloat16"),
                                                                ctx()))
    assert all(m.status == "unsupported" and "avx512_bf16" in m.error for m in res.values())


# --- keras backends ------------------------------------------------------------------------

def test_keras_backends_has_jax_with_jit():
    tasks = keras_backends.tasks(False)
    jax = [t for t in tasks if t.env.get("KERAS_BACKEND") == "jax"]
    assert {t.mode for t in jax} == {"backend_jax", "backend_agreement_jax"}
    assert all(t.params["jit_compile"] is True for t in jax)
    assert all(t.params["jit_compile"] is False for t in tasks
               if t.env.get("KERAS_BACKEND") in ("tensorflow", "torch"))
    assert "XLA_FLAGS" not in jax[0].env or os.cpu_count() == 1


# --- executorch ----------------------------------------------------------------------------

@pytest.mark.skipif(importlib.util.find_spec("executorch") is None,
                    reason="executorch is not installed")
def test_executorch_mlp():
    task = next(t for t in deployment.tasks(True) if t.mode == "executorch")
    res = check(task, deployment.run(task, ctx()))
    assert all(m.status == "ok" for m in res.values()), res
    assert res["max_abs_diff"].samples[0] < 1e-5
    assert "XnnpackPartitioner" in res["latency"].extra["api"]
