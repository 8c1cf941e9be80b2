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
import threading
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
    load: dict | None = None   # how busy the rest of the machine was (experiments.harness.machine_load)


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

    module: str                # the experiment module of every task, unless ``modules`` says
    sys_path: list[str]
    quick: bool
    seed: int
    env: dict[str, str]
    tmp_dir: Path
    timeout_for: Callable[[Task], float]
    startup_timeout_s: float
    modules: list[str] | None = None  # per task index: the module whose run() measures it
    # Set when the run is interrupted while groups run side by side: each group's supervisor
    # then kills its worker and returns at once.
    stop: threading.Event = field(default_factory=threading.Event)


STOP_POLL_S = 0.5  # how often a supervisor checks WorkerSetup.stop while its worker is busy


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

    def __init__(self, setup: WorkerSetup, group: Group, items: list[tuple[int, Task]], round_index: int):
        spec = {"module": setup.module, "sys_path": setup.sys_path, "quick": setup.quick,
                "seed": setup.seed, "framework": group.framework, "threads": group.threads,
                "round": round_index,
                "tasks": [{"index": i, "task": task_to_dict(t),
                           "module": setup.modules[i] if setup.modules else setup.module} for i, t in items]}
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


class _GroupRun:
    """The bookkeeping of one group: which tasks remain, their outcomes, the device seen."""

    def __init__(self, setup: WorkerSetup, group: Group,
                 on_event: Callable[[str, Task, Outcome | None], None]):
        self.setup, self.on_event = setup, on_event
        self.tasks = dict(group.items)
        self.remaining = [i for i, _ in group.items]
        self.outcomes: dict[int, Outcome] = {}
        self.device = "cpu"

    def finish(self, outcome: Outcome) -> None:
        self.outcomes[outcome.index] = outcome
        self.remaining.remove(outcome.index)
        self.on_event("done", self.tasks[outcome.index], outcome)

    def fail_all(self, reason: str) -> None:
        for i in list(self.remaining):
            self.finish(Outcome(i, error=reason))

    def supervise(self, launch: _Launch) -> None:
        """Follow one worker until it exits, dies or overruns; record what it finished."""
        setup = self.setup
        current: int | None = None
        started = time.monotonic()
        deadline = started + setup.startup_timeout_s
        progressed = False
        while True:
            now = time.monotonic()
            if now >= deadline:
                if current is None:
                    self.fail_all(f"worker did not start within {setup.startup_timeout_s:g} s")
                else:
                    limit = setup.timeout_for(self.tasks[current])
                    self.finish(Outcome(current, error=f"timed out after {limit:g} s", seconds=now - started))
                return
            if setup.stop.is_set():
                return
            events = launch.read_events(min(deadline - now, STOP_POLL_S))
            if events is None:  # the worker exited or died
                code = launch.proc.wait()
                reason = _death_reason(code) + _last_log_line(setup, code)
                if current is not None:
                    self.finish(Outcome(current, error=reason, seconds=time.monotonic() - started))
                elif self.remaining and not progressed:  # died before any task: do not loop
                    self.fail_all(reason)
                return
            for event in events:
                kind, now = event["event"], time.monotonic()
                if kind == "ready":
                    self.device = event.get("device_name", self.device)
                elif kind == "start":
                    current, started = event["index"], now
                    deadline = now + setup.timeout_for(self.tasks[current])
                    self.on_event("start", self.tasks[current], None)
                elif kind == "done":
                    progressed = True
                    self.finish(Outcome(event["index"], event.get("measurements"), event.get("error"), now - started,
                                        event.get("load")))
                    current, deadline = None, now + setup.startup_timeout_s
                elif kind == "fatal":
                    self.fail_all(event["error"])


def run_group(setup: WorkerSetup, group: Group, on_event: Callable[[str, Task, Outcome | None], None],
              round_index: int = 0) -> tuple[list[Outcome], str]:
    """Run every task of ``group`` in fresh workers; returns one outcome per task and the device.

    A worker that dies, hangs or overruns costs only the task it was on: a new worker takes
    the remaining tasks. ``on_event("start"|"done", task, outcome)`` reports progress.
    """
    run = _GroupRun(setup, group, on_event)
    while run.remaining and not setup.stop.is_set():
        launch = _Launch(setup, group, [(i, run.tasks[i]) for i in run.remaining], round_index)
        try:
            run.supervise(launch)
        finally:
            launch.close()
    return [run.outcomes[i] for i, _ in group.items if i in run.outcomes], run.device
