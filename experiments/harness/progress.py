"""Progress reporting: a rich progress bar on a terminal, one plain line per task elsewhere.

CI logs and pipes get plain lines (a progress bar there is just noise); both report the same
events, so the runner does not care which one it talks to.
"""

from __future__ import annotations

import sys
from typing import TextIO


class PlainProgress:
    """One line per finished task, flushed at once so logs stay useful if the run dies."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.name, self.total, self.done = "", 0, 0

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start_experiment(self, name: str, total: int) -> None:
        self.name, self.total, self.done = name, total, 0
        self.message(f"{name}: running {total} task runs")

    def start_task(self, description: str) -> None:
        pass

    def finish_task(self, description: str, status: str, seconds: float) -> None:
        self.done += 1
        self.message(f"{self.name} [{self.done}/{self.total}] {description}: {status} "
                     f"({seconds:.1f} s)")

    def finish_experiment(self) -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress(PlainProgress):
    """A bar per experiment with the current task and an ETA."""

    def __init__(self, stream: TextIO | None = None):
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
            TimeElapsedColumn, TimeRemainingColumn

        self.console = Console(file=self.stream)
        self.bar = Progress(TextColumn("[bold]{task.fields[experiment]}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                            TimeRemainingColumn(), TextColumn("{task.description}"),
                            console=self.console, transient=False)
        self.bar.start()
        self.task_id = None

    def message(self, text: str) -> None:
        self.bar.console.print(text, markup=False, highlight=False)

    def start_experiment(self, name: str, total: int) -> None:
        self.name, self.total, self.done = name, total, 0
        self.task_id = self.bar.add_task("", total=total, experiment=name)

    def start_task(self, description: str) -> None:
        if self.task_id is not None:
            self.bar.update(self.task_id, description=description)

    def finish_task(self, description: str, status: str, seconds: float) -> None:
        self.done += 1
        if status != "ok":
            self.message(f"{self.name}: {description}: {status}")
        if self.task_id is not None:
            self.bar.update(self.task_id, advance=1)

    def finish_experiment(self) -> None:
        if self.task_id is not None:
            self.bar.update(self.task_id, description="done")
        self.task_id = None

    def close(self) -> None:
        self.bar.stop()


def make_progress(stream: TextIO | None = None) -> PlainProgress:
    stream = stream or sys.stdout
    return RichProgress(stream) if stream.isatty() else PlainProgress(stream)
