"""Inference latency (batch 1) and throughput (batch 32; 256 for the CNN) per model and mode.

Both frameworks run the same four models with identical weights and inputs
(``experiments.models``). PyTorch runs eagerly and under ``torch.compile``; TensorFlow runs a
plain Keras call, a ``tf.function`` graph and an XLA-compiled graph. Compilation cost is
reported separately (``compile_time``) so that steady-state speed and start-up cost are not
mixed; every mode, compiled ones included, is measured in every fresh-process round.

Two boundaries: ``boundary="tensor"`` times the call on framework tensors (the input already
converted, the output left as a tensor), as in-framework benchmarks do; ``boundary="numpy"``
(batch 1, the main modes) converts a NumPy input and returns NumPy logits inside the timed call,
which is what the deployment runtimes are timed on, so the two can be compared like for like.
Batch 256 is measured for the CNN only, where the layout anomaly shows (a budget choice: the
full suite has to fit in 30 minutes on a 2-core machine).

The main modes (PyTorch eager, TensorFlow ``tf.function``) also run with one thread, to show
how each framework uses the second core, and with the frameworks' default thread settings (no
pinning of the intra- or inter-op pools), next to the pinned configuration.
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
LARGE_BATCH_MODELS = ("cnn",)


def _task(framework: str, mode: str, model: str, bs: int, threads: int | None,
          boundary: str = "tensor", compile_time: bool = False) -> Task:
    metrics = (LATENCY if bs == 1 else THROUGHPUT,) + ((COMPILE_TIME,) if compile_time else ())
    params = {"batch_size": bs, "boundary": boundary, **MODE_PARAMS[(framework, mode)]}
    return Task(framework, mode, model, metrics, params, threads=threads,
                env=TASK_ENV.get((framework, mode), {}))


def tasks(quick: bool) -> list[Task]:
    scaling_batch = 8 if quick else 32
    out = []
    for model in MODELS:
        # latency batch, then throughput batches
        batches = (1, 8) if quick else (1, 32, 256) if model in LARGE_BATCH_MODELS else (1, 32)
        for framework, modes in MODES.items():
            for mode in modes:
                compiled = (framework, mode) in COMPILED_MODES
                slow_compile = compiled and mode != "graph"
                for bs in batches:
                    if quick and slow_compile and bs == 1:
                        continue  # keep --quick under a minute: one compile per model
                    out.append(_task(framework, mode, model, bs, THREADS, compile_time=compiled))
                if not quick and (framework, mode) in MAIN_MODES:  # the deployment runtimes' side of NumPy
                    out.append(_task(framework, mode, model, 1, THREADS, boundary="numpy"))
                if (framework, mode) == ("pytorch", "eager") and model == "cnn" and not quick:
                    for bs in batches:  # the layout Keras uses, as a labelled PyTorch variant
                        out.append(_task(framework, "eager_cl", model, bs, THREADS))
                if (framework, mode) in MAIN_MODES:
                    out.append(_task(framework, mode, model, scaling_batch, 1))
                    if not quick:
                        out.append(_task(framework, mode, model, 1, None))
                        out.append(_task(framework, mode, model, scaling_batch, None))
    return out


def _torch_call(task: Task, ctx, bs: int):
    import torch

    from experiments.models.modes import torch_batch, torch_predict
    from experiments.models.weights import make_inputs

    predict = torch_predict(task.model, task.mode, ctx.device)
    if task.params.get("boundary") == "numpy":
        x_np = make_inputs(task.model, bs, ctx.seed)
        return (lambda: predict(torch.from_numpy(x_np).to(ctx.device)).cpu().numpy()), ctx.sync
    x = torch_batch(task.model, bs, ctx.seed, ctx.device)
    if task.mode == "eager_cl":  # the input too, once, as a data pipeline would deliver it
        x = x.contiguous(memory_format=torch.channels_last)
    return (lambda: predict(x)), ctx.sync


def _tf_call(task: Task, ctx, bs: int):
    from experiments.models.modes import tf_batch, tf_call, tf_predict

    predict = tf_predict(task.model, task.mode, ctx.device)
    if task.params.get("boundary") == "numpy":
        import tensorflow as tf

        from experiments.models.weights import make_inputs, to_channels_last

        x_np = to_channels_last(task.model, make_inputs(task.model, bs, ctx.seed))
        return (lambda: predict(tf.constant(x_np)).numpy()), ctx.sync
    call, sync = tf_call(predict, tf_batch(task.model, bs, ctx.seed, ctx.device),
                         device=ctx.device)
    return call, sync or ctx.sync


# Findings of the anomaly investigation, recorded with the cases they explain.
NOTES = {
    ("tensorflow", "graph"): "investigated on amd-epyc-67ccf1 (docs/investigations.md): "
                             "TensorFlow hands each op to an intra-op pool thread: with small ops and two threads "
                             "this adds a thread wake-up per op (extra.os_counters.voluntary_switches_per_call) "
                             "without parallel work (extra.os_counters.cpu_cores_used near one core); not "
                             "hyper-threading, not oneDNN, not the inter-op setting",
    ("pytorch", "eager_cl"): "channels_last (NHWC) model and input; investigated on amd-epyc-67ccf1: "
                             "NCHW max-pooling is several times slower than "
                             "its channels_last kernel and NCHW convolutions pay oneDNN layout reorders "
                             "(torch.profiler); the NCHW 'eager' case is the default a user gets",
}


def run(task: Task, ctx) -> list[Measurement]:
    from experiments import execution

    bs = int(task.params["batch_size"])
    make_call = _torch_call if task.framework == "pytorch" else _tf_call
    timed = execution.time_mode(task, ctx, lambda: make_call(task, ctx, bs), per_call=(bs == 1))
    if bs == 1:
        samples, metric = [s * 1e3 for s in timed.seconds], LATENCY
    else:
        samples, metric = [bs / s for s in timed.seconds], THROUGHPUT
    notes = "; ".join(n for n in (timed.notes, NOTES.get((task.framework, task.mode))) if n) or None
    out = [Measurement(metric, samples, extra=timed.extra, notes=notes)]
    if timed.first_call_s is not None and any(m.name == "compile_time" for m in task.metrics):
        out.append(timed.compile_time((task.framework, task.mode)))
    return out
