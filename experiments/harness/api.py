"""The types an experiment module uses: what to run (Task) and what it measured (Measurement).

These are plain dataclasses with no framework imports, so ``tasks()`` can run in the parent
process and tasks can be sent to worker subprocesses as JSON. Metrics come from the shared
vocabulary (``results_contract.vocabulary``), so a metric's unit, direction and whether it is
deterministic are declared once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from results_contract.vocabulary import Better, Metric

__all__ = ["Better", "Measurement", "Metric", "Task"]


@dataclass(frozen=True)
class Task:
    """One unit of work, run inside a fresh worker process for ``framework``.

    ``params`` are recorded verbatim with every case (batch size, sizes, ...). ``threads``
    fixes the intra-op thread pools of the worker. ``env`` adds environment variables for
    the worker (for example ``KERAS_BACKEND``). ``rounds`` overrides how many fresh-process
    rounds this task runs (1 for deterministic quantities such as artifact sizes).
    """

    framework: str
    mode: str
    model: str
    metrics: tuple[Metric, ...]
    params: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    rounds: int | None = None
    timeout_s: float | None = None

    def __hash__(self) -> int:  # params/env are dicts; hash their sorted items
        return hash((self.framework, self.mode, self.model, self.metrics,
                     tuple(sorted(self.params.items())), self.threads,
                     tuple(sorted(self.env.items())), self.rounds))


@dataclass
class Measurement:
    """Raw samples for one declared metric of a task; statistics are computed by the harness.

    ``runs`` groups the samples by independent process when the experiment started those
    processes itself (one fresh interpreter per cold start); otherwise every sample came from
    this worker process, which is one run."""

    metric: Metric
    samples: list[float]
    status: Literal["ok", "failed", "unsupported"] = "ok"
    error: str | None = None
    extra: dict[str, Any] | None = None
    notes: str | None = None
    runs: list[list[float]] | None = None
