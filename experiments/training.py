"""Training throughput per model and execution mode, with compilation cost reported apart.

Every mode trains the same model from the same weights on the same batch with the same
optimiser (Adam, lr 1e-3, eps 1e-8), loss (softmax cross-entropy) and dtype (float32); only
the execution mode changes. PyTorch runs its usual loop eagerly and with the model under
``torch.compile``; TensorFlow runs one ``tf.GradientTape`` step eagerly, as ``tf.function``
and as ``tf.function(jit_compile=True)``. The step bodies are
``experiments.models.torch_models.make_train_step`` and
``experiments.models.keras_models.make_train_step``.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict
from statistics import median

from experiments.harness import Measurement, Metric, Task
from experiments.models.modes import COMPILE_NOTES, COMPILED_MODES, MODE_PARAMS, MODES, \
    TASK_ENV
from experiments.models.weights import MODELS

NAME = "training"
TITLE = "Training throughput"

THROUGHPUT = Metric("throughput", "samples/s", "higher")
COMPILE_TIME = Metric("compile_time", "s", "lower")
LEARNING_RATE = 1e-3
THREADS = 2


def tasks(quick: bool) -> list[Task]:
    batch_size = 8 if quick else 64
    out = []
    for model in MODELS:
        for framework, modes in MODES.items():
            for mode in modes:
                compiled = (framework, mode) in COMPILED_MODES
                if quick and mode in ("compile", "xla") and model != "mlp":
                    continue  # keep --quick under a minute: one slow compile per framework
                metrics = (THROUGHPUT, COMPILE_TIME) if compiled else (THROUGHPUT,)
                rounds = 1 if compiled and mode != "graph" else None  # cold compiles are slow
                params = {"batch_size": batch_size, "optimizer": "adam", "lr": LEARNING_RATE,
                          "dtype": "float32", **MODE_PARAMS[(framework, mode)]}
                out.append(Task(framework, mode, model, metrics, params, threads=THREADS,
                                rounds=rounds, env=TASK_ENV.get((framework, mode), {})))
    return out


def _torch_step(task: Task, ctx, bs: int):
    import torch

    from experiments.models.modes import torch_batch
    from experiments.models.torch_models import build_torch, make_train_step

    model = build_torch(task.model, device=ctx.device)
    if task.mode == "compile":
        model = torch.compile(model, dynamic=False)
    step = make_train_step(model, lr=LEARNING_RATE)
    x, y = torch_batch(task.model, bs, ctx.seed, ctx.device, labels=True)
    return (lambda: step(x, y)), ctx.sync


def _tf_step(task: Task, ctx, bs: int):
    import tensorflow as tf

    from experiments.models.keras_models import build_keras, make_train_step
    from experiments.models.modes import tf_batch, tf_call, tf_device

    with tf.device(tf_device(ctx.device)):
        model = build_keras(task.model)
        step = make_train_step(model, lr=LEARNING_RATE, mode=task.mode)
    x, y = tf_batch(task.model, bs, ctx.seed, ctx.device, labels=True)
    call, sync = tf_call(step, x, y, device=ctx.device)
    return call, sync or ctx.sync


def run(task: Task, ctx) -> list[Measurement]:
    from experiments.models import modes

    bs = int(task.params["batch_size"])
    key = (task.framework, task.mode)
    compiled = key in COMPILED_MODES
    extra: dict = {}
    setup = nullcontext()
    if task.framework == "pytorch" and compiled:
        setup = modes.fresh_inductor(not ctx.quick)
    elif task.mode == "xla":
        modes.warm_xla()
    with setup:
        call, sync = (_torch_step if task.framework == "pytorch" else _tf_step)(task, ctx, bs)
        first = modes.first_call_seconds(call, sync) if compiled else None
        if task.framework == "pytorch" and compiled:
            extra["dynamo_graphs"] = modes.dynamo_graphs()
        seconds = ctx.timeit(call, sync=sync)
    if getattr(ctx, "last_timing", None) is not None:
        extra["timing"] = asdict(ctx.last_timing)
    notes = None
    if extra.get("dynamo_graphs") == 0:
        notes = ("torch.compile captured no graph (dynamo does not trace nn.LSTM by default, "
                 "torch._dynamo.config.allow_rnn=False): the model ran eagerly")
    out = [Measurement("throughput", [bs / s for s in seconds], extra=extra, notes=notes)]
    if compiled:
        out.append(Measurement("compile_time", [max(0.0, first - median(seconds))],
                               extra={"first_call_s": first}, notes=COMPILE_NOTES[key]))
    return out
