"""How steady is the machine's speed from one second to the next, inside one process?

Two calls are timed over and over in consecutive blocks of ``BLOCK_S`` seconds within one
process: a pure-Python loop, which touches no framework, no thread pool and little memory, and
the paper's smallest framework figure, PyTorch's eager MLP at batch 1. Each block's median time
per call is one sample (``block_time``), and each process also reports the ratio of its slowest
to its fastest block (``block_spread``).

A steady machine gives a spread near 1. On a shared virtual machine, neighbours on the same
physical cores slow a vCPU without showing as steal time, and the speed of the same call can
change from one block to the next. If the spread inside one process is as wide as the spread
between the process medians of the other experiments, their between-process variation is the
machine changing over time, not something about each process, and a second full run of the
suite can only agree with the first as closely as the machine lets it (Section 14 of the paper
uses this).
"""

from __future__ import annotations

import statistics
from time import perf_counter as clock

from experiments.harness import Measurement, Task
from results_contract.vocabulary import BLOCK_SPREAD, BLOCK_TIME

NAME = "host_stability"
TITLE = "Machine speed over time within one process"
TIMEOUT_S = 120

THREADS = 1
# Seconds per block and blocks per process and call: 8 s of timing per task in a full run.
BLOCK_S = {True: 0.05, False: 0.25}
BLOCKS = {True: 3, False: 32}
LOOP_N = 20_000  # about 1-2 ms of pure Python per call on the machines we used
WARMUP_CALLS = 20


def tasks(quick: bool) -> list[Task]:
    params = {"block_s": BLOCK_S[quick], "blocks": BLOCKS[quick]}
    return [Task(framework="pytorch", mode="python", model="python_loop", params={**params, "n": LOOP_N},
                 threads=THREADS, metrics=(BLOCK_TIME, BLOCK_SPREAD)),
            Task(framework="pytorch", mode="eager", model="mlp", params={**params, "batch_size": 1},
                 threads=THREADS, metrics=(BLOCK_TIME, BLOCK_SPREAD))]


def python_loop(n: int = LOOP_N) -> int:
    """A fixed amount of interpreter work: the sum of squares below ``n``."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def _callable(task: Task, ctx):
    """``(call, description)`` for the task's workload, built once per process."""
    if task.model == "python_loop":
        n = int(task.params["n"])
        return (lambda: python_loop(n)), f"a pure-Python loop summing {n:,} squares"
    from experiments.models.modes import torch_batch, torch_predict

    predict, x = torch_predict("mlp", "eager", "cpu"), torch_batch("mlp", 1, ctx.seed, "cpu")
    return (lambda: predict(x)), "the inference experiment's PyTorch eager MLP call at batch 1 (inference_mode)"


def block_medians(call, blocks: int, block_s: float, warmup: int = WARMUP_CALLS) -> list[float]:
    """Median seconds per call in each of ``blocks`` back-to-back blocks of ``block_s`` seconds.

    Every call is timed on its own, so a block's median is not moved by the few calls that a
    timer interrupt or a page fault lengthens; ``warmup`` untimed calls run first.
    """
    for _ in range(warmup):
        call()
    medians = []
    for _ in range(blocks):
        times: list[float] = []
        end = clock() + block_s
        while not times or clock() < end:
            start = clock()
            call()
            times.append(clock() - start)
        medians.append(statistics.median(times))
    return medians


def spread(medians: list[float]) -> float:
    """Slowest block over fastest block (1.0 for a perfectly steady machine)."""
    return max(medians) / min(medians)


def run(task: Task, ctx) -> list[Measurement]:
    call, what = _callable(task, ctx)
    medians = block_medians(call, int(task.params["blocks"]), float(task.params["block_s"]))
    extra = {"block_s": task.params["block_s"], "blocks": len(medians)}
    return [
        Measurement(BLOCK_TIME, [m * 1e6 for m in medians], extra=extra,
                    notes=f"{what}; each sample is the median time per call of one "
                          f"{task.params['block_s']} s block, blocks back to back in one process"),
        Measurement(BLOCK_SPREAD, [spread(medians)], extra=extra,
                    notes=f"{what}; slowest over fastest of the process's {len(medians)} block medians"),
    ]
