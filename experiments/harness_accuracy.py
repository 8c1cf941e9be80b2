"""Does our timer agree with independent ones? The same call timed by ``ctx.timeit`` and by a
reference timer: ``torch.utils.benchmark.Timer.blocked_autorange`` for a PyTorch 256x256
matmul, and Python's ``timeit.Timer.repeat`` for the same TensorFlow matmul. The paper reports
the ratio of the medians (mode "harness" over mode "torch_benchmark" / "timeit"); a ratio near
1 shows that warm-up, calibration and barriers add no bias of their own.
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
# Seconds the reference timers may spend per task and round, to stay near our own budget.
REFERENCE_S = {True: 0.1, False: 1.0}


def tasks(quick: bool) -> list[Task]:
    params = {"n": SIZE}
    return [Task(framework=fw, mode=mode, model="matmul", params=params, threads=THREADS,
                 metrics=TIME)
            for fw, modes in (("pytorch", ("harness", "torch_benchmark")),
                              ("tensorflow", ("harness", "timeit")))
            for mode in modes]


def _torch(task: Task, ctx) -> list[float]:
    import torch
    import torch.utils.benchmark as benchmark

    torch.manual_seed(ctx.seed)
    a, b = torch.randn(SIZE, SIZE), torch.randn(SIZE, SIZE)
    if task.mode == "harness":
        return ctx.timeit(lambda: torch.mm(a, b))
    timer = benchmark.Timer(stmt="torch.mm(a, b)", globals={"torch": torch, "a": a, "b": b},
                            num_threads=ctx.threads)
    timer.timeit(10)  # warm-up, as our timer does
    return list(timer.blocked_autorange(min_run_time=REFERENCE_S[ctx.quick]).times)


def _tensorflow(task: Task, ctx) -> list[float]:
    import timeit

    import tensorflow as tf

    tf.random.set_seed(ctx.seed)
    a, b = tf.random.normal((SIZE, SIZE)), tf.random.normal((SIZE, SIZE))

    def call():
        return tf.linalg.matmul(a, b).numpy()  # .numpy() waits for the result

    if task.mode == "harness":
        return ctx.timeit(call)
    timer = timeit.Timer(call)
    timer.timeit(10)  # warm-up
    number, seconds = timer.autorange()  # smallest loop count lasting >= 0.2 s
    repeat = max(3, int(REFERENCE_S[ctx.quick] / (seconds / number) / number))
    return [t / number for t in timer.repeat(repeat=min(repeat, 50), number=number)]


def run(task: Task, ctx) -> list[Measurement]:
    seconds = _torch(task, ctx) if task.framework == "pytorch" else _tensorflow(task, ctx)
    return [Measurement(TIMER_TIME, [s * 1e6 for s in seconds])]
