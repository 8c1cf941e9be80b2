"""How steady is the machine's speed from one second to the next, inside one process?

Three workloads are timed over and over in consecutive blocks of ``BLOCK_S`` seconds within
one process, on one thread: a pure-Python loop, which touches no framework, no thread pool and
little memory; PyTorch's eager MLP at batch 1, the inference experiment's smallest call; and the
GEMM experiment's register-only FMA loop, which needs nothing but the core's clock and its FMA
units. Each block's median time per call (for the FMA loop: per million floating-point
operations, timed inside the compiled loop) is one sample (``block_time``), and each process
also reports the ratio of its slowest to its fastest block (``block_spread``).

A steady machine gives a spread near 1. On a shared virtual machine, neighbours on the same
physical cores slow a vCPU without showing as steal time, and the speed of the same call can
change from one block to the next. A clock change would slow the FMA loop as much as the others;
contention for the core's caches, memory or front end would not. If the spread inside one
process is as wide as the spread
between the process medians of the other experiments, their between-process variation is the
machine changing over time, not something about each process, and a second full run of the
suite can only agree with the first as closely as the machine lets it (Section 14 of the paper
uses this).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from time import perf_counter as clock

from experiments.harness import Measurement, Task
from results_contract.vocabulary import BLOCK_SPREAD, BLOCK_TIME

NAME = "host_stability"
TITLE = "Machine speed over time within one process"
TIMEOUT_S = 120

THREADS = 1
# Seconds per block and blocks per process and call: 4 s of timing per task in a full run (it
# was 32 blocks, 8 s, until the suite had to fit in 30 minutes; the primary host's results are
# from then, and record their blocks).
BLOCK_S = {True: 0.05, False: 0.25}
BLOCKS = {True: 3, False: 16}
LOOP_N = 20_000  # about 1-2 ms of pure Python per call on the machines we used
WARMUP_CALLS = 20
# Seconds of FMA work per run of the compiled loop; its own clock times it, so the cost of
# starting the program each time is not in the figure.
FMA_CALL_S = {True: 0.01, False: 0.02}


def tasks(quick: bool) -> list[Task]:
    params = {"block_s": BLOCK_S[quick], "blocks": BLOCKS[quick]}
    return [Task(framework="pytorch", mode="python", model="python_loop", params={**params, "n": LOOP_N},
                 threads=THREADS, metrics=(BLOCK_TIME, BLOCK_SPREAD)),
            Task(framework="pytorch", mode="eager", model="mlp", params={**params, "batch_size": 1},
                 threads=THREADS, metrics=(BLOCK_TIME, BLOCK_SPREAD)),
            Task(framework="pytorch", mode="native", model="fma_loop",
                 params={**params, "call_s": FMA_CALL_S[quick]}, threads=THREADS,
                 metrics=(BLOCK_TIME, BLOCK_SPREAD))]


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


def _blocks(sample: Callable[[], float], blocks: int, block_s: float) -> list[float]:
    """The median of ``sample()`` over each of ``blocks`` back-to-back blocks of ``block_s``
    seconds (at least one sample per block, however slow)."""
    medians = []
    for _ in range(blocks):
        values: list[float] = []
        end = clock() + block_s
        while not values or clock() < end:
            values.append(sample())
        medians.append(statistics.median(values))
    return medians


def block_medians(call, blocks: int, block_s: float, warmup: int = WARMUP_CALLS) -> list[float]:
    """Median seconds per call in each of ``blocks`` back-to-back blocks of ``block_s`` seconds.

    Every call is timed on its own, so a block's median is not moved by the few calls that a
    timer interrupt or a page fault lengthens; ``warmup`` untimed calls run first.
    """
    for _ in range(warmup):
        call()

    def timed() -> float:
        start = clock()
        call()
        return clock() - start

    return _blocks(timed, blocks, block_s)


def fma_block_medians(kernel, blocks: int, block_s: float, call_s: float) -> list[float]:
    """Median µs per million FLOP of one-thread runs of the compiled FMA loop, one value per
    block of ``block_s`` seconds; each run lasts about ``call_s`` and is timed by its own clock."""
    kernel.gflops(1, call_s)  # warm-up: page the program in
    return _blocks(lambda: 1e3 / kernel.gflops(1, call_s), blocks, block_s)


def spread(medians: list[float]) -> float:
    """Slowest block over fastest block (1.0 for a perfectly steady machine)."""
    return max(medians) / min(medians)


def run(task: Task, ctx) -> list[Measurement]:
    blocks, block_s = int(task.params["blocks"]), float(task.params["block_s"])
    if task.model == "fma_loop":
        from experiments.gemm import fma_kernel

        medians_us = fma_block_medians(fma_kernel(), blocks, block_s, float(task.params["call_s"]))
        what = ("the GEMM experiment's register-only FMA loop on one thread, each run timed by its own "
                "clock; a sample is the median microseconds per million floating-point operations of one "
                f"{block_s} s block")
    else:
        call, what = _callable(task, ctx)
        medians_us = [m * 1e6 for m in block_medians(call, blocks, block_s)]
        what += f"; each sample is the median time per call of one {block_s} s block"
    extra = {"block_s": task.params["block_s"], "blocks": len(medians_us)}
    return [
        Measurement(BLOCK_TIME, medians_us, extra=extra,
                    notes=f"{what}, blocks back to back in one process"),
        Measurement(BLOCK_SPREAD, [spread(medians_us)], extra=extra,
                    notes=f"{what}; slowest over fastest of the process's {len(medians_us)} block medians"),
    ]
