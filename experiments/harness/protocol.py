"""What parent and worker send each other: a JSON spec file in, JSON lines out over a pipe.

Kept apart from both sides so the message shapes are defined once. Events, one JSON object a
line: ``ready`` (threads fixed, device known), ``start`` (task index), ``done`` (task index
with ``measurements`` or ``error``), ``fatal`` (the worker cannot run any task).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from experiments.harness.api import Measurement, Metric, Task


def task_to_dict(task: Task) -> dict[str, Any]:
    return asdict(task)


def task_from_dict(data: dict[str, Any]) -> Task:
    data = dict(data)
    data["metrics"] = tuple(Metric(**m) for m in data["metrics"])  # asdict() wrote every field
    return Task(**data)


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays (common in ``extra``) become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def measurement_to_dict(m: Measurement) -> dict[str, Any]:
    if not isinstance(m, Measurement):
        raise TypeError(f"run() must return Measurement objects, got {type(m).__name__}")
    if not isinstance(m.metric, Metric):
        raise TypeError(f"Measurement.metric must be a Metric (declared in Task.metrics), got "
                        f"{type(m.metric).__name__} {m.metric!r}")
    return {"metric": m.metric.name, "samples": [float(s) for s in m.samples], "status": m.status,
            "error": m.error, "extra": m.extra, "notes": m.notes,
            "runs": [[float(s) for s in run] for run in m.runs] if m.runs else None}


def encode_event(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, default=_jsonable, allow_nan=True) + "\n").encode()


def one_line_error(exc: BaseException, limit: int = 500) -> str:
    """``ExceptionType: first line of the message``, short enough for a results file."""
    text = str(exc).strip().splitlines()
    message = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return message if len(message) <= limit else message[: limit - 3] + "..."
