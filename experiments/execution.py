"""Timing one execution mode of a model, shared by the inference and training experiments.

Compile time is measured cold: each compiled task first pays the framework's one-time start-up
with a throwaway compile (imports, C++ toolchain probe, XLA client), then compiles its model
with an empty Inductor cache, so the number does not depend on task order or on what an earlier
run left on disk. The steady state is then timed with the harness timer (``ctx.timeit``).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from statistics import median

from experiments.harness import Measurement
from experiments.models.modes import COMPILED_MODES, dynamo_graphs, fresh_inductor, warm_xla
from results_contract.vocabulary import COMPILE_TIME

_INDUCTOR_NOTE = ("first call minus steady-state call; Inductor cache empty (full runs), one "
                  "in-process compile thread, one-time start-up paid by a throwaway compile")
COMPILE_NOTES = {
    ("pytorch", "compile"): _INDUCTOR_NOTE,
    ("pytorch", "compile_model"): _INDUCTOR_NOTE + "; only the model is compiled",
    ("tensorflow", "graph"): "first call minus steady-state call (tf.function tracing)",
    ("tensorflow", "xla"): "first call minus steady-state call (tracing + XLA compile); "
                           "one-time XLA start-up paid by a throwaway compile",
}


def os_counters(call, sync, calls: int) -> dict:
    """What the operating system saw during ``calls`` further calls: CPU cores busy (process CPU
    time over wall time) and voluntary and involuntary context switches per call. These do not
    depend on how loaded the machine is, and show how a framework uses its threads."""
    import resource

    sync()
    before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(calls):
        call()
    sync()
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"calls": calls, "cpu_cores_used": round(cpu / wall, 3) if wall > 0 else None,
            "voluntary_switches_per_call": round((after.ru_nvcsw - before.ru_nvcsw) / calls, 2),
            "involuntary_switches_per_call": round((after.ru_nivcsw - before.ru_nivcsw) / calls, 2)}


# Wall time the OS-counter calls may take per case (they run after the timed samples).
OS_COUNTER_BUDGET_S = {True: 0.05, False: 0.2}


def counter_calls(seconds: list[float], quick: bool) -> int:
    """How many calls the OS counters watch: about OS_COUNTER_BUDGET_S of them, 3 to 50."""
    per_call = sorted(seconds)[len(seconds) // 2] if seconds else 0.0
    return max(3, min(50, int(OS_COUNTER_BUDGET_S[quick] / per_call) if per_call > 0 else 50))


def first_call_seconds(fn, sync) -> float:
    """Wall time of one call, barrier included (the compile happens here)."""
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


NO_GRAPH_NOTE = ("torch.compile captured no graph (dynamo does not trace nn.LSTM by default, "
                 "torch._dynamo.config.allow_rnn=False): the model ran eagerly")


@dataclass
class TimedMode:
    """Steady-state timings of one call in one execution mode, plus its first (compiling) call."""

    seconds: list[float]
    first_call_s: float | None
    extra: dict = field(default_factory=dict)
    notes: str | None = None

    def compile_time(self, key: tuple[str, str]):
        """The ``compile_time`` measurement: first call minus the steady-state median."""
        return Measurement(COMPILE_TIME, [max(0.0, self.first_call_s - median(self.seconds))],
                           extra={"first_call_s": self.first_call_s}, notes=COMPILE_NOTES[key])


def time_mode(task, ctx, make_call, per_call: bool = False) -> TimedMode:
    """Set up the mode (cold Inductor cache, XLA start-up), build the call with
    ``make_call() -> (call, sync)``, time its first call when the mode compiles, then time
    the steady state with the harness timer. Shared by inference and training."""
    key = (task.framework, task.mode)
    compiled = key in COMPILED_MODES
    setup = nullcontext()
    if task.framework == "pytorch" and compiled:
        setup = fresh_inductor(not ctx.quick)
    elif task.mode == "xla":
        warm_xla()
    extra: dict = {}
    with setup:
        call, sync = make_call()
        first = first_call_seconds(call, sync) if compiled else None
        if task.framework == "pytorch" and compiled:
            extra["dynamo_graphs"] = dynamo_graphs()
        seconds = ctx.timeit(call, sync=sync, per_call=per_call)
        extra["os_counters"] = os_counters(call, sync or ctx.sync, calls=counter_calls(seconds, ctx.quick))
    if getattr(ctx, "last_timing", None) is not None:
        extra["timing"] = asdict(ctx.last_timing)
    notes = NO_GRAPH_NOTE if extra.get("dynamo_graphs") == 0 else None
    return TimedMode(seconds, first, extra, notes)
