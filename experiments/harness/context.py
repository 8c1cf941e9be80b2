"""The ``ctx`` object a task's ``run(task, ctx)`` receives inside a worker process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from experiments.harness.timing import FULL_BUDGET, QUICK_BUDGET, Budget, TimingInfo, \
    budget_with, measure


def _no_op() -> None:
    return None


@dataclass
class Context:
    """What a task may know about its run: size, threads, seed, device, and the one timer.

    ``threads`` is the intra-op thread count the worker fixed (tasks pass it on to runtimes the
    worker cannot configure, such as ``onnxruntime.SessionOptions.intra_op_num_threads``).
    ``device`` is ``"cpu"`` or ``"cuda"``; ``sync()`` is the matching barrier. ``replicate``
    numbers the fresh-process rounds of a task, for experiments whose replicate should vary a
    seed (time to accuracy: each process trains from its own initial weights).
    """

    quick: bool = True
    threads: int = 1
    seed: int = 0
    device: str = "cpu"
    framework: str = ""
    sync: Callable[[], None] = _no_op
    replicate: int = 0      # which fresh-process round this is (0, 1, ...): a seed offset
    budget: Budget | None = None
    last_timing: TimingInfo | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = QUICK_BUDGET if self.quick else FULL_BUDGET

    def timeit(self, fn: Callable[[], object], *, sync: Callable[[], None] | None = None,
               warmup: int | None = None, min_sample_s: float | None = None,
               max_samples: int | None = None, max_time_s: float | None = None,
               per_call: bool = False) -> list[float]:
        """Warm up, calibrate and time ``fn()``; returns seconds per call, one per sample.

        ``sync`` replaces ``ctx.sync`` as the barrier (for example a TF GPU tensor's
        ``.numpy()``). ``per_call=True`` times every call on its own, for tail percentiles.
        """
        budget = budget_with(self.budget, warmup=warmup, min_sample_s=min_sample_s,
                             max_samples=max_samples, max_time_s=max_time_s)
        samples, self.last_timing = measure(fn, sync=sync or self.sync, budget=budget,
                                            per_call=per_call)
        return samples
