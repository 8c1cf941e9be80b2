"""Run one group of tasks in worker processes, surviving hangs and crashes.

The parent owns every timeout: a worker that stops reporting is killed with its whole process
group, the task it was on is recorded as failed, and a fresh worker takes the remaining tasks.
A worker killed by a signal (segfault, OOM killer) is handled the same way.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from experiments.harness.api import Task
from experiments.harness.protocol import task_to_dict


@dataclass
class Outcome:
    """How one task ended in one round: ``measurements`` (dicts) or an ``error`` line."""

    index: int
    measurements: list[dict] | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Group:
    """Tasks that share a worker: same framework, thread count and extra environment."""

    framework: str
    threads: int | None
    env: dict[str, str]
    items: list[tuple[int, Task]] = field(default_factory=list)


@dataclass
class WorkerSetup:
    """Everything a worker launch needs besides its tasks."""

    module: str
    sys_path: list[str]
    quick: bool
    seed: int
    env: dict[str, str]
    tmp_dir: Path
    timeout_for: Callable[[Task], float]
    startup_timeout_s: float


def _death_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"worker killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"worker killed by signal {-returncode}"
    return f"worker exited with code {returncode}"


def _last_log_line(setup: "WorkerSetup", returncode: int) -> str:
    """The worker's last stderr line when it exited on its own (signals say enough)."""
    if returncode <= 0:
        return ""
    try:
        lines = (setup.tmp_dir / "workers.log").read_text(errors="replace").splitlines()
    except OSError:
        return ""
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    return f": {last[:300]}" if last else ""


def _kill(proc: subprocess.Popen) -> None:
    """Kill the worker and anything it started (it leads its own process group)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


class _Launch:
    """One worker process and the read end of its event pipe."""

    def __init__(self, setup: WorkerSetup, group: Group, items: list[tuple[int, Task]]):
        spec = {"module": setup.module, "sys_path": setup.sys_path, "quick": setup.quick,
                "seed": setup.seed, "framework": group.framework, "threads": group.threads,
                "tasks": [{"index": i, "task": task_to_dict(t)} for i, t in items]}
        fd, spec_path = tempfile.mkstemp(suffix=".json", prefix="spec-", dir=setup.tmp_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        read_fd, write_fd = os.pipe()
        log = open(setup.tmp_dir / "workers.log", "ab")  # noqa: SIM115 - closed in close()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "experiments.harness.worker", spec_path, str(write_fd)],
                env={**setup.env, **group.env}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, pass_fds=(write_fd,), start_new_session=True)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
            log.close()
        self.fd = read_fd
        self.buffer = b""

    def read_events(self, timeout: float) -> list[dict] | None:
        """Events that arrived within ``timeout`` seconds; None at end of stream."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return []
        data = os.read(self.fd, 1 << 16)
        if not data:
            return None
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def close(self) -> None:
        _kill(self.proc)
        os.close(self.fd)


def run_group(setup: WorkerSetup, group: Group,
              on_event: Callable[[str, Task, Outcome | None], None]) -> tuple[list[Outcome], str]:
    """Run every task of ``group``; returns one outcome per task and the device name seen.

    ``on_event("start"|"done", task, outcome)`` reports progress as it happens.
    """
    tasks = dict(group.items)
    remaining = [i for i, _ in group.items]
    outcomes: dict[int, Outcome] = {}
    device = "cpu"

    def finish(outcome: Outcome) -> None:
        outcomes[outcome.index] = outcome
        remaining.remove(outcome.index)
        on_event("done", tasks[outcome.index], outcome)

    while remaining:
        launch = _Launch(setup, group, [(i, tasks[i]) for i in remaining])
        current: int | None = None
        started = time.monotonic()
        deadline = started + setup.startup_timeout_s
        progressed = False
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    if current is None:
                        reason = f"worker did not start within {setup.startup_timeout_s:g} s"
                        for i in list(remaining):
                            finish(Outcome(i, error=reason))
                    else:
                        limit = setup.timeout_for(tasks[current])
                        finish(Outcome(current, error=f"timed out after {limit:g} s",
                                       seconds=now - started))
                    break
                events = launch.read_events(deadline - now)
                if events is None:  # the worker exited or died
                    code = launch.proc.wait()
                    reason = _death_reason(code) + _last_log_line(setup, code)
                    if current is not None:
                        finish(Outcome(current, error=reason, seconds=time.monotonic() - started))
                    elif remaining and not progressed:  # died before any task: do not loop
                        for i in list(remaining):
                            finish(Outcome(i, error=reason))
                    break
                for event in events:
                    kind = event["event"]
                    now = time.monotonic()
                    if kind == "ready":
                        device = event.get("device_name", device)
                    elif kind == "start":
                        current, started = event["index"], now
                        deadline = now + setup.timeout_for(tasks[current])
                        on_event("start", tasks[current], None)
                    elif kind == "done":
                        progressed = True
                        finish(Outcome(event["index"], event.get("measurements"),
                                       event.get("error"), now - started))
                        current = None
                        deadline = now + setup.startup_timeout_s
                    elif kind == "fatal":
                        for i in list(remaining):
                            finish(Outcome(i, error=event["error"]))
        finally:
            launch.close()
    return [outcomes[i] for i, _ in group.items], device
