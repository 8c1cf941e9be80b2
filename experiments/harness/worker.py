"""Worker process: runs one group of tasks (same framework, threads, env), possibly of several
experiments, and streams results.

Started by the parent as ``python -m experiments.harness.worker SPEC_FILE EVENT_FD``. It fixes
the thread pools before the first task, then runs each task and writes one JSON line per
event to ``EVENT_FD``; the parent owns timeouts and survives this process dying.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

from experiments.harness.context import Context
from experiments.harness.framework_setup import configure_threads
from experiments.harness.machine_load import LoadMeter
from experiments.harness.protocol import encode_event, measurement_to_dict, one_line_error, \
    task_from_dict


def _run_task(module, task, ctx: Context) -> dict:
    """Measurements as dicts, or raises with a message the parent records against the task."""
    measurements = module.run(task, ctx)
    declared = {m.name for m in task.metrics}
    out = [measurement_to_dict(m) for m in measurements or []]
    for m in out:
        if m["metric"] not in declared:
            raise ValueError(f"run() reported undeclared metric {m['metric']!r}")
    result = {"measurements": out}
    encode_event(result)  # fail here, as the task's error, if extra holds something odd
    return result


def main(argv: list[str]) -> int:
    spec_path, fd = argv[0], int(argv[1])

    def emit(event: dict) -> None:
        os.write(fd, encode_event(event))

    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    for entry in reversed(spec["sys_path"]):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        names = list(dict.fromkeys([item.get("module", spec["module"]) for item in spec["tasks"]] or [spec["module"]]))
        modules = {name: importlib.import_module(name) for name in names}
        if any(getattr(m, "IMPORTS_FRAMEWORKS", True) for m in modules.values()):
            device = configure_threads(spec["framework"], spec["threads"])
        else:
            from experiments.harness.framework_setup import DeviceInfo
            device = DeviceInfo()
    except Exception as exc:  # noqa: BLE001 - every task of the group fails with this reason
        traceback.print_exc()
        emit({"event": "fatal", "error": one_line_error(exc)})
        return 1
    emit({"event": "ready", "device": device.device, "device_name": device.name})
    threads = spec["threads"] if spec["threads"] is not None else (os.cpu_count() or 1)
    for item in spec["tasks"]:
        task = task_from_dict(item["task"])
        ctx = Context(quick=spec["quick"], threads=threads, seed=spec["seed"], device=device.device,
                      framework=task.framework, sync=device.sync, replicate=spec.get("round", 0))
        emit({"event": "start", "index": item["index"]})
        meter = LoadMeter.start()
        try:
            result = _run_task(modules[item.get("module", spec["module"])], task, ctx)
        except Exception as exc:  # noqa: BLE001 - recorded as the task's failure
            traceback.print_exc()
            result = {"error": one_line_error(exc)}
        emit({"event": "done", "index": item["index"], **result, "load": meter.stop()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
