"""Training throughput per model and execution mode, with compilation cost reported apart.

Every mode trains the same model from the same weights on the same batch with the same
optimiser (Adam, lr 1e-3, eps 1e-8), loss (softmax cross-entropy) and dtype (float32); only
the execution mode changes. PyTorch runs its usual loop eagerly, with the whole step compiled
(``compile``: model, loss, backward and the optimizer step, the same scope ``tf.function``
compiles) and with only the model compiled (``compile_model``, the optimizer step eager);
TensorFlow runs one ``tf.GradientTape`` step eagerly, as ``tf.function`` and as
``tf.function(jit_compile=True)``. The step bodies are
``experiments.models.torch_models.make_train_step`` (and ``make_compiled_train_step``) and
``experiments.models.keras_models.make_train_step``.

The main modes (PyTorch eager, TensorFlow ``tf.function``) and TensorFlow's other two modes
(eager and XLA) also run with the frameworks' default thread settings (no pinning of intra- or
inter-op pools), next to the pinned configuration. The pinned configuration fixes the inter-op
pool to one thread. That can bind TensorFlow, which by default runs independent operations side
by side in an inter-op pool the runtime sizes itself, more than PyTorch's eager step, which runs
its operations one after another; so every TensorFlow mode is also measured unpinned, and the
fastest modes can be compared with default threads too.
"""

from __future__ import annotations

from experiments.harness import Measurement, Task
from experiments.models.modes import COMPILED_MODES, MODE_PARAMS, TASK_ENV, TRAIN_MODES
from experiments.models.weights import MODELS
from results_contract.vocabulary import COMPILE_TIME, THROUGHPUT

NAME = "training"
TITLE = "Training throughput"

LEARNING_RATE = 1e-3
THREADS = 2
MAIN_MODES = (("pytorch", "eager"), ("tensorflow", "graph"))
# Also measured with the frameworks' default threads: the main modes and every TensorFlow mode.
DEFAULT_THREAD_MODES = (*MAIN_MODES, ("tensorflow", "eager"), ("tensorflow", "xla"))
SCOPE = {("pytorch", "compile"): "step", ("pytorch", "compile_model"): "model",
         ("tensorflow", "graph"): "step", ("tensorflow", "xla"): "step"}


def tasks(quick: bool) -> list[Task]:
    batch_size = 8 if quick else 64
    out = []
    for model in MODELS:
        for framework, modes in TRAIN_MODES.items():
            for mode in modes:
                compiled = (framework, mode) in COMPILED_MODES
                if quick and mode in ("compile", "compile_model", "xla") and model != "mlp":
                    continue  # keep --quick under a minute: one slow compile per framework
                metrics = (THROUGHPUT, COMPILE_TIME) if compiled else (THROUGHPUT,)
                params = {"batch_size": batch_size, "optimizer": "adam", "lr": LEARNING_RATE,
                          "dtype": "float32", **MODE_PARAMS[(framework, mode)]}
                if compiled:
                    params["scope"] = SCOPE[(framework, mode)]
                env = TASK_ENV.get((framework, mode), {})
                out.append(Task(framework, mode, model, metrics, params, threads=THREADS, env=env))
                if (framework, mode) in DEFAULT_THREAD_MODES and not quick:  # the frameworks' own defaults
                    out.append(Task(framework, mode, model, metrics, params, threads=None, env=env))
    return out


def _torch_step(task: Task, ctx, bs: int):
    import torch

    from experiments.models.modes import torch_batch
    from experiments.models.torch_models import build_torch, make_compiled_train_step, make_train_step

    model = build_torch(task.model, device=ctx.device)
    if task.mode == "compile":
        step = make_compiled_train_step(model, lr=LEARNING_RATE)
    else:
        if task.mode == "compile_model":
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
    from experiments import execution

    bs = int(task.params["batch_size"])
    make_step = _torch_step if task.framework == "pytorch" else _tf_step
    timed = execution.time_mode(task, ctx, lambda: make_step(task, ctx, bs))
    out = [Measurement(THROUGHPUT, [bs / s for s in timed.seconds], extra=timed.extra, notes=timed.notes)]
    if timed.first_call_s is not None:
        out.append(timed.compile_time((task.framework, task.mode)))
    return out
