"""The calibrated timer behind ``ctx.timeit``: warm up, size the inner loop, collect samples.

Modelled on pyperf and ``torch.utils.benchmark.Timer.blocked_autorange``: one sample times a
block of ``number`` calls, with ``number`` chosen so the block lasts at least ``min_sample_s``
and clock overhead is negligible; the device barrier runs before each clock read so
asynchronous (CUDA) work is counted. ``per_call=True`` forces blocks of one call, which tail
latencies (p99 at batch size 1) need.

Budgets are small on purpose: the full suite (about 300 tasks x 5 fresh-process rounds) must fit
in 30 minutes on 2 cores, so one task spends under half a second timing per process (0.2 s of
warm-up at most, then 0.25 s of samples; the window was 0.4 s until the suite ran 32 minutes on a
2-vCPU VM, and each results file records the budget it was measured with). Precision comes from
the processes (the unit of replication), not from more samples inside one process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

clock = time.perf_counter


@dataclass(frozen=True)
class Budget:
    """How long ``timeit`` may spend on one call site; every field is in calls or seconds."""

    warmup: int                 # calls always run before measuring
    warmup_max_s: float         # stop warming up after this, stable or not
    min_sample_s: float         # one sample (a block of calls) lasts at least this long
    min_samples: int            # always collect this many samples, however slow the call
    max_samples: int            # stop after this many samples ...
    max_time_s: float           # ... or after this long measuring (once min_samples are in)
    per_call_max_samples: int   # sample cap when per_call=True (p99 needs hundreds)

    def as_dict(self) -> dict:
        return asdict(self)


QUICK_BUDGET = Budget(warmup=1, warmup_max_s=0.03, min_sample_s=0.001, min_samples=2,
                      max_samples=5, max_time_s=0.1, per_call_max_samples=20)
FULL_BUDGET = Budget(warmup=3, warmup_max_s=0.2, min_sample_s=0.01, min_samples=5,
                     max_samples=40, max_time_s=0.25, per_call_max_samples=400)

STABLE_SPREAD = 0.10  # warm-up ends when the last 3 blocks agree within 10%
MAX_NUMBER = 1_000_000


@dataclass(frozen=True)
class TimingInfo:
    """How the last ``timeit`` call ran; experiments may copy it into ``Measurement.extra``."""

    number: int          # calls per sample
    warmup_calls: int
    samples: int
    seconds: float       # total wall time spent, warm-up included


def _block(fn: Callable[[], object], number: int, sync: Callable[[], None]) -> float:
    """Seconds per call over one block of ``number`` calls, with barriers around it."""
    sync()
    start = clock()
    for _ in range(number):
        fn()
    sync()
    return (clock() - start) / number


def _warm_up(fn, sync, budget: Budget, per_call: bool) -> tuple[int, int, float]:
    """Run until timings stabilise (bounded); returns (calls, block size, per-call estimate).

    Blocks grow geometrically so a microsecond call is not judged on single noisy calls; the
    growth doubles as calibration, as in ``blocked_autorange``.
    """
    start = clock()
    calls, number, history = 0, 1, []
    while True:
        per = _block(fn, number, sync)
        calls += number
        history.append(per)
        if not per_call and per * number < budget.min_sample_s and number < MAX_NUMBER:
            number *= 2
        recent = history[-3:]
        stable = (len(recent) == 3 and min(recent) > 0
                  and (max(recent) - min(recent)) / min(recent) <= STABLE_SPREAD)
        if calls >= budget.warmup and (stable or clock() - start >= budget.warmup_max_s):
            return calls, number, min(recent)


def measure(fn: Callable[[], object], *, sync: Callable[[], None], budget: Budget,
            per_call: bool = False) -> tuple[list[float], TimingInfo]:
    """Seconds per call, one value per sample, plus how the samples were taken."""
    start = clock()
    warm_calls, _, estimate = _warm_up(fn, sync, budget, per_call)
    if per_call:
        number, cap = 1, budget.per_call_max_samples
    else:
        need = budget.min_sample_s / estimate if estimate > 0 else MAX_NUMBER
        number, cap = max(1, min(MAX_NUMBER, math.ceil(need))), budget.max_samples
    samples: list[float] = []
    measuring = clock()
    while len(samples) < cap:
        samples.append(_block(fn, number, sync))
        if len(samples) >= budget.min_samples and clock() - measuring >= budget.max_time_s:
            break
    info = TimingInfo(number=number, warmup_calls=warm_calls, samples=len(samples),
                      seconds=clock() - start)
    return samples, info


def budget_with(budget: Budget, *, warmup: int | None = None, min_sample_s: float | None = None,
                max_samples: int | None = None, max_time_s: float | None = None) -> Budget:
    """``budget`` with the caller's overrides; per-call sampling honours ``max_samples`` too."""
    changes: dict = {}
    if warmup is not None:
        changes["warmup"] = warmup
    if min_sample_s is not None:
        changes["min_sample_s"] = min_sample_s
    if max_samples is not None:
        changes["max_samples"] = changes["per_call_max_samples"] = max_samples
        changes["min_samples"] = min(budget.min_samples, max_samples)
    if max_time_s is not None:
        changes["max_time_s"] = max_time_s
    for name, value in changes.items():
        if value is None or value < 0 or (name.endswith("samples") and value < 1):
            raise ValueError(f"timeit: {name} must be positive, got {value!r}")
    return replace(budget, **changes)
