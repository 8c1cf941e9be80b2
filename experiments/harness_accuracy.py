"""Does our timer agree with independent ones, down to the paper's smallest figures?

The same callable is timed by ``ctx.timeit`` (blocks of calls, and one call per sample as the
latency figures use) and by reference timers: ``torch.utils.benchmark.Timer.blocked_autorange``
for PyTorch and Python's ``timeit`` for both frameworks. Two calls: a 256x256 matmul (about
0.2 ms) and the paper's smallest case, the MLP at batch 1 in PyTorch eager and TensorFlow
``tf.function`` (tens of microseconds), each the *identical* callable in every timer, including
the ``torch.inference_mode`` context the inference experiment uses. A ratio near 1 shows that
warm-up, calibration and barriers add no bias. The cost of timing itself is measured directly
on an empty call, so per-call overhead is a number, not an assumption.
"""

from __future__ import annotations

from experiments.harness import Measurement, Task
from results_contract.vocabulary import TIMER_TIME

NAME = "harness_accuracy"
TITLE = "Harness timer accuracy against torch.utils.benchmark and timeit"
TIMEOUT_S = 120

SIZE = 256
THREADS = 1
TIME = (TIMER_TIME,)
# Seconds the reference timers may spend per task and process, to stay near our own budget.
REFERENCE_S = {True: 0.1, False: 0.5}
TIMERS = {"pytorch": ("harness", "harness_per_call", "torch_benchmark", "timeit"),
          "tensorflow": ("harness", "harness_per_call", "timeit")}


def tasks(quick: bool) -> list[Task]:
    out = [Task(framework=fw, mode=mode, model=model, params={"n": SIZE} if model == "matmul" else {"batch_size": 1},
                threads=THREADS, metrics=TIME)
           for fw, modes in TIMERS.items() for model in ("matmul", "mlp") for mode in modes]
    out.append(Task(framework="pytorch", mode="harness_per_call", model="empty", params={}, threads=THREADS,
                    metrics=TIME))
    return out


def _callable(task: Task, ctx):
    """The call every timer times, built once: ``(call, description)``."""
    if task.model == "empty":
        return (lambda: None), "an empty Python call: the harness's own per-sample cost"
    if task.framework == "pytorch":
        import torch

        from experiments.models.modes import torch_batch, torch_predict

        if task.model == "matmul":
            torch.manual_seed(ctx.seed)
            a, b = torch.randn(SIZE, SIZE), torch.randn(SIZE, SIZE)
            return (lambda: torch.mm(a, b)), "torch.mm of two 256x256 float32 matrices"
        predict, x = torch_predict("mlp", "eager", "cpu"), torch_batch("mlp", 1, ctx.seed, "cpu")
        return (lambda: predict(x)), "the inference experiment's PyTorch eager MLP call at batch 1 (inference_mode)"
    import tensorflow as tf

    from experiments.models.modes import tf_batch, tf_predict

    if task.model == "matmul":
        tf.random.set_seed(ctx.seed)
        a, b = tf.random.normal((SIZE, SIZE)), tf.random.normal((SIZE, SIZE))
        return (lambda: tf.linalg.matmul(a, b).numpy()), "tf.linalg.matmul of two 256x256 matrices, read back"
    predict, x = tf_predict("mlp", "graph", "cpu"), tf_batch("mlp", 1, ctx.seed, "cpu")
    return (lambda: predict(x)), "the inference experiment's TensorFlow tf.function MLP call at batch 1"


def _reference(mode: str, call, ctx) -> list[float]:
    budget = REFERENCE_S[ctx.quick]
    if mode == "torch_benchmark":
        import torch.utils.benchmark as benchmark

        timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=ctx.threads)
        timer.timeit(10)  # warm-up, as our timer does
        return list(timer.blocked_autorange(min_run_time=budget).times)
    import timeit

    timer = timeit.Timer(call)
    timer.timeit(10)  # warm-up
    number, seconds = timer.autorange()  # smallest loop count lasting >= 0.2 s
    repeat = max(3, int(budget / (seconds / number) / number))
    return [t / number for t in timer.repeat(repeat=min(repeat, 50), number=number)]


def run(task: Task, ctx) -> list[Measurement]:
    call, what = _callable(task, ctx)
    if task.mode.startswith("harness"):
        seconds = ctx.timeit(call, per_call=task.mode == "harness_per_call")
    else:
        seconds = _reference(task.mode, call, ctx)
    return [Measurement(TIMER_TIME, [s * 1e6 for s in seconds], notes=what,
                        extra={"timer": task.mode})]
