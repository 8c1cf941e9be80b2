"""Inference latency (batch 1) and throughput (batch 32 and 256) per model and execution mode.

Both frameworks run the same four models with identical weights and inputs
(``experiments.models``). PyTorch runs eagerly and under ``torch.compile``; TensorFlow runs a
plain Keras call, a ``tf.function`` graph and an XLA-compiled graph. Compilation cost is
reported separately (``compile_time``) so that steady-state speed and start-up cost are not
mixed. The main modes (PyTorch eager, TensorFlow graph) are also run with one thread, to show
how each framework uses the second core.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict
from statistics import median

from experiments.harness import Measurement, Metric, Task
from experiments.models.modes import COMPILE_NOTES, COMPILED_MODES, MODE_PARAMS, MODES, \
    TASK_ENV
from experiments.models.weights import MODELS

NAME = "inference"
TITLE = "Inference latency and throughput"

LATENCY = Metric("latency", "ms", "lower")
THROUGHPUT = Metric("throughput", "samples/s", "higher")
COMPILE_TIME = Metric("compile_time", "s", "lower")
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
    from experiments.models import modes

    bs = int(task.params["batch_size"])
    key = (task.framework, task.mode)
    compiled = key in COMPILED_MODES
    extra: dict = {}
    if task.framework == "pytorch":
        setup = modes.fresh_inductor(not ctx.quick) if compiled else nullcontext()
    else:
        setup = nullcontext()
        if task.mode == "xla":
            modes.warm_xla()
    with setup:
        call, sync = (_torch_call if task.framework == "pytorch" else _tf_call)(task, ctx, bs)
        first = modes.first_call_seconds(call, sync) if compiled else None
        if task.framework == "pytorch" and compiled:
            extra["dynamo_graphs"] = modes.dynamo_graphs()
        seconds = ctx.timeit(call, sync=sync, per_call=(bs == 1))
    timing = getattr(ctx, "last_timing", None)
    if timing is not None:
        extra["timing"] = asdict(timing)
    notes = None
    if extra.get("dynamo_graphs") == 0:
        notes = ("torch.compile captured no graph (dynamo does not trace nn.LSTM by default, "
                 "torch._dynamo.config.allow_rnn=False): the model ran eagerly")
    if bs == 1:
        out = [Measurement("latency", [s * 1e3 for s in seconds], extra=extra, notes=notes)]
    else:
        out = [Measurement("throughput", [bs / s for s in seconds], extra=extra, notes=notes)]
    if compiled and any(m.name == "compile_time" for m in task.metrics):
        out.append(Measurement("compile_time", [max(0.0, first - median(seconds))],
                               extra={"first_call_s": first}, notes=COMPILE_NOTES[key]))
    return out
