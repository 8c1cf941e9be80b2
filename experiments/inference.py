"""Inference latency (batch 1) and throughput (batch 32 and 256) per model and execution mode.

Both frameworks run the same four models with identical weights and inputs
(``experiments.models``). PyTorch runs eagerly and under ``torch.compile``; TensorFlow runs a
plain Keras call, a ``tf.function`` graph and an XLA-compiled graph. Compilation cost is
reported separately (``compile_time``) so that steady-state speed and start-up cost are not
mixed. The main modes (PyTorch eager, TensorFlow graph) are also run with one thread, to show
how each framework uses the second core.
"""

from __future__ import annotations

from experiments.harness import Measurement, Task
from experiments.models.modes import COMPILED_MODES, MODE_PARAMS, MODES, TASK_ENV
from experiments.models.weights import MODELS
from results_contract.vocabulary import COMPILE_TIME, LATENCY, THROUGHPUT

NAME = "inference"
TITLE = "Inference latency and throughput"

MAIN_MODES = (("pytorch", "eager"), ("tensorflow", "graph"))
THREADS = 2


def tasks(quick: bool) -> list[Task]:
    batches = (1, 8) if quick else (1, 32, 256)   # latency batch, then throughput batches
    scaling_batch = batches[1]
    out = []
    for model in MODELS:
        for framework, modes in MODES.items():
            for mode in modes:
                compiled = (framework, mode) in COMPILED_MODES
                slow_compile = compiled and mode != "graph"
                # Cold compiles are slow and deterministic: one fresh process is enough.
                rounds = 1 if slow_compile else None
                for bs in batches:
                    if quick and slow_compile and bs == 1:
                        continue  # keep --quick under a minute: one compile per model
                    metrics = (LATENCY if bs == 1 else THROUGHPUT,)
                    if compiled:
                        metrics += (COMPILE_TIME,)
                    params = {"batch_size": bs, **MODE_PARAMS[(framework, mode)]}
                    out.append(Task(framework, mode, model, metrics, params, threads=THREADS,
                                    rounds=rounds, env=TASK_ENV.get((framework, mode), {})))
                if (framework, mode) in MAIN_MODES:
                    params = {"batch_size": scaling_batch, **MODE_PARAMS[(framework, mode)]}
                    out.append(Task(framework, mode, model, (THROUGHPUT,), params, threads=1))
    return out


def _torch_call(task: Task, ctx, bs: int):
    from experiments.models.modes import torch_batch, torch_predict

    predict = torch_predict(task.model, task.mode, ctx.device)
    x = torch_batch(task.model, bs, ctx.seed, ctx.device)
    return (lambda: predict(x)), ctx.sync


def _tf_call(task: Task, ctx, bs: int):
    from experiments.models.modes import tf_batch, tf_call, tf_predict

    predict = tf_predict(task.model, task.mode, ctx.device)
    call, sync = tf_call(predict, tf_batch(task.model, bs, ctx.seed, ctx.device),
                         device=ctx.device)
    return call, sync or ctx.sync


def run(task: Task, ctx) -> list[Measurement]:
    from experiments import execution

    bs = int(task.params["batch_size"])
    make_call = _torch_call if task.framework == "pytorch" else _tf_call
    timed = execution.time_mode(task, ctx, lambda: make_call(task, ctx, bs), per_call=(bs == 1))
    if bs == 1:
        samples, metric = [s * 1e3 for s in timed.seconds], LATENCY
    else:
        samples, metric = [bs / s for s in timed.seconds], THROUGHPUT
    out = [Measurement(metric, samples, extra=timed.extra, notes=timed.notes)]
    if timed.first_call_s is not None and any(m.name == "compile_time" for m in task.metrics):
        out.append(timed.compile_time((task.framework, task.mode)))
    return out
