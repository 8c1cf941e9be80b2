"""How busy the rest of the machine was while a task ran in a worker.

A process that measures while something else runs on the same cores is slower for reasons that
have nothing to do with the framework: the first full run of schema 2 had one round in which
the PyTorch worker ran 2-17x slower on about a quarter of its cases, with one core's worth of
CPU time and dozens of involuntary context switches per call going to another process. So every
task records, per process, two averages over its wall time (Linux only; None elsewhere):

- ``other_cpu_cores``: cores kept busy by every *other* process (the machine's busy time from
  ``/proc/stat`` minus this worker's and its children's CPU time, over the wall time);
- ``steal_cores``: cores the hypervisor gave to other virtual machines (``steal`` in
  ``/proc/stat``), which the guest cannot see as processes.

Both are reported with each run in the results (``runs[i].load``); they describe the conditions
of a measurement, they do not correct it. ``/proc/stat`` counts in ticks of 10 ms, so a task
shorter than ``MIN_WALL_S`` records None for both: one tick over a 1-ms task would read as ten
cores (a harness-accuracy task timing an empty call did exactly that).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

# /proc/stat "cpu" columns: user nice system idle iowait irq softirq steal guest guest_nice.
# guest time is already counted in user, so it is left out; idle and iowait are not busy.
_BUSY = (0, 1, 2, 5, 6)
_STEAL = 7
# Below this wall time one accounting tick is more than a few hundredths of a core.
MIN_WALL_S = 0.25


def _cpu_line() -> list[int] | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            first = f.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    return [int(x) for x in first[1:]]


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class LoadMeter:
    """Started before a task, ``stop()``-ped after it."""

    wall: float
    own: float
    cpu: list[int] | None

    @classmethod
    def start(cls) -> "LoadMeter":
        return cls(time.perf_counter(), _own_cpu_s(), _cpu_line())

    def stop(self) -> dict[str, float | None]:
        wall = time.perf_counter() - self.wall
        own = _own_cpu_s() - self.own
        cpu = _cpu_line()
        if self.cpu is None or cpu is None or wall < MIN_WALL_S or len(cpu) <= _STEAL:
            return {"other_cpu_cores": None, "steal_cores": None}
        tick = os.sysconf("SC_CLK_TCK")
        busy = sum(cpu[i] - self.cpu[i] for i in _BUSY) / tick
        steal = (cpu[_STEAL] - self.cpu[_STEAL]) / tick
        # Jiffies are coarse (10 ms): clamp the small negative values rounding can give.
        return {"other_cpu_cores": round(max(0.0, busy - own) / wall, 3),
                "steal_cores": round(max(0.0, steal) / wall, 3)}
