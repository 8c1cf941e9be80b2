"""Peak resident memory (RSS) of training and of inference, per framework and model.

The process high-water mark (``ru_maxrss``) only ever grows, so one process cannot measure
two workloads. Each measurement therefore runs in a fresh child process started by ``run``
(``python -m experiments.memory``): it imports the framework, records its RSS, builds the
model, runs the workload in the framework's main mode (PyTorch eager, TensorFlow
``tf.function``) and reports its peak resident set (``VmHWM`` in ``/proc/self/status``).
Not ``ru_maxrss``: Linux keeps that across ``execve``, so a child started by a worker that had
already trained a model reported the *worker's* peak (the first full run of schema 2 did exactly
that: identical peaks for every model). ``VmHWM`` belongs to the address space, which ``execve``
replaces. ``peak_rss`` is that whole-process peak, runtime included; ``peak_rss_over_import``
subtracts the RSS right after importing the framework, which still counts the modules the
workload imports lazily (``torch.optim`` pulls in ``torch._dynamo``: tens of MiB);
``peak_rss_over_runtime`` subtracts the RSS after the same workload code ran once on a
one-layer model (same optimiser, loss and mode), which leaves what the model, its data, its
optimiser state and its activations cost.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from concurrent.futures import ThreadPoolExecutor

from experiments.harness import Measurement, Task
from experiments.harness.children import child_env, run_python
from experiments.harness.framework_setup import configure_threads
from experiments.models.weights import MODELS
from results_contract.vocabulary import PEAK_RSS, PEAK_RSS_OVER_IMPORT, PEAK_RSS_OVER_RUNTIME

NAME = "memory"
TITLE = "Peak memory of training and inference"
IMPORTS_FRAMEWORKS = False  # the worker stays light; the children import the framework

METRICS = (PEAK_RSS, PEAK_RSS_OVER_IMPORT, PEAK_RSS_OVER_RUNTIME)
MAIN_MODE = {"pytorch": "eager", "tensorflow": "graph"}
PROCESSES = 5  # fresh children per case: each is one run (the process is the unit of replication)
# Children of a case run this many at a time. A peak resident set does not depend on how busy
# the cores are (nothing here is timed), so on a 2-core machine TensorFlow's children run two at
# once, which roughly halves their time (most of it is the import). PyTorch's run one at a time:
# two children with two OpenMP threads each oversubscribe the cores, and every parallel region's
# barrier then waits for a descheduled thread. Measured on our 2-vCPU VM, four LSTM training
# children took 33.6 s two at a time and 9.8 s one at a time (TensorFlow Transformer: 14.7 s
# against 25.3 s), and the whole experiment varied by over a minute between full runs.
CHILDREN_AT_ONCE = {"pytorch": 1, "tensorflow": max(1, min(2, os.cpu_count() or 1))}
PHASES = ("training", "inference")
INFERENCE_MODEL = "cnn"
NOTES = ("fresh child process per sample (TensorFlow's up to two at a time, PyTorch's one at a time: its OpenMP "
         "threads would oversubscribe the cores); peak RSS (VmHWM, which execve resets) after the workload; over_import subtracts "
         "the RSS measured right after importing the framework (so it includes modules the "
         "workload imports lazily, such as torch._dynamo for torch.optim); over_runtime subtracts the RSS after "
         "the same workload code ran once on a one-layer model (optimiser, loss and mode included), leaving "
         "the model, its data, optimiser state and activations")


def tasks(quick: bool) -> list[Task]:
    batch_size, steps = (8, 3) if quick else (64, 20)
    # Each sample starts a framework in a fresh child (TensorFlow alone takes seconds): every
    # model is measured training, the CNN also in inference; --quick only the MLP's inference.
    jobs = [("mlp", "inference")] if quick else [(m, "training") for m in MODELS] + [(INFERENCE_MODEL, "inference")]
    return [Task(framework, MAIN_MODE[framework], model, METRICS,
                 {"phase": phase, "batch_size": batch_size, "steps": steps}, threads=2,
                 rounds=1)
            for model, phase in jobs for framework in MAIN_MODE]


def run(task: Task, ctx) -> list[Measurement]:
    repeats = 1 if ctx.quick else PROCESSES
    job = {"framework": task.framework, "mode": task.mode, "model": task.model,
           "threads": ctx.threads, "seed": ctx.seed, **task.params}
    with ThreadPoolExecutor(max_workers=CHILDREN_AT_ONCE[task.framework]) as pool:
        samples = list(pool.map(_child, [job] * repeats))
    return [Measurement(PEAK_RSS, [s["peak_mib"] for s in samples], notes=NOTES,
                        runs=[[s["peak_mib"]] for s in samples],
                        extra={"import_rss_mib": [s["import_mib"] for s in samples],
                               "runtime_rss_mib": [s["runtime_mib"] for s in samples]}),
            Measurement(PEAK_RSS_OVER_IMPORT,
                        [max(0.0, s["peak_mib"] - s["import_mib"]) for s in samples],
                        runs=[[max(0.0, s["peak_mib"] - s["import_mib"])] for s in samples],
                        notes=NOTES),
            Measurement(PEAK_RSS_OVER_RUNTIME,
                        [max(0.0, s["peak_mib"] - s["runtime_mib"]) for s in samples],
                        runs=[[max(0.0, s["peak_mib"] - s["runtime_mib"])] for s in samples],
                        notes=NOTES)]


def _child(job: dict) -> dict:
    """Run one measurement in a fresh interpreter; returns its JSON report."""
    out = run_python(["-m", "experiments.memory", json.dumps(job)], env=child_env(threads=job["threads"]),
                     timeout=600, what="memory child")
    return json.loads(out.strip().splitlines()[-1])


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    """This address space's peak RSS. ``VmHWM`` where ``/proc`` has it (Linux); elsewhere
    ``ru_maxrss``, which on macOS is in bytes and is not inherited across exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _measure_torch(job: dict) -> tuple[float, float]:
    import torch  # noqa: F401 - imported first, so the RSS below is "after import"

    configure_threads("pytorch", job["threads"])
    base = _rss_mib()
    from experiments.models.modes import torch_batch, torch_predict
    from experiments.models.torch_models import build_torch, make_train_step

    # The workload's code once on a one-layer model: what it imports lazily joins the baseline.
    tiny, tx, ty = torch.nn.Linear(4, 2), torch.zeros(2, 4), torch.zeros(2, dtype=torch.long)
    if job["phase"] == "training":
        make_train_step(tiny)(tx, ty)
    else:
        with torch.inference_mode():
            tiny.eval()(tx)
    del tiny, tx, ty
    runtime = _rss_mib()

    if job["phase"] == "training":
        step = make_train_step(build_torch(job["model"]))
        x, y = torch_batch(job["model"], job["batch_size"], job["seed"], "cpu", labels=True)
        for _ in range(job["steps"]):
            step(x, y)
    else:
        predict = torch_predict(job["model"], job["mode"], "cpu")
        x = torch_batch(job["model"], job["batch_size"], job["seed"], "cpu")
        for _ in range(job["steps"]):
            predict(x)
    return base, runtime


def _measure_tensorflow(job: dict) -> tuple[float, float]:
    import tensorflow as tf  # imported first, so the RSS below is "after import"

    configure_threads("tensorflow", job["threads"])
    base = _rss_mib()
    import keras

    from experiments.models.keras_models import build_keras, compile_fn, make_train_step
    from experiments.models.modes import tf_batch, tf_predict

    # The workload's code once on a one-layer model: what it imports lazily joins the baseline.
    tiny = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    tx, ty = tf.zeros((2, 4)), tf.zeros((2,), tf.int32)
    if job["phase"] == "training":
        float(make_train_step(tiny, mode=job["mode"])(tx, ty))
    else:
        compile_fn(lambda v: tiny(v, training=False), job["mode"])(tx).numpy()
    del tiny, tx, ty
    runtime = _rss_mib()

    if job["phase"] == "training":
        step = make_train_step(build_keras(job["model"]), mode=job["mode"])
        x, y = tf_batch(job["model"], job["batch_size"], job["seed"], "cpu", labels=True)
        for _ in range(job["steps"]):
            float(step(x, y))
    else:
        predict = tf_predict(job["model"], job["mode"], "cpu")
        x = tf_batch(job["model"], job["batch_size"], job["seed"], "cpu")
        for _ in range(job["steps"]):
            predict(x).numpy()
    return base, runtime


def _main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    measure = _measure_torch if job["framework"] == "pytorch" else _measure_tensorflow
    base, runtime = measure(job)
    print(json.dumps({"peak_mib": _peak_mib(), "import_mib": base, "runtime_mib": runtime}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
