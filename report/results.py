"""The report's view of the results: every validated file of the results folder, and queries for
cases. Reading and validating is ``results_contract``'s job; this module only collects its
problems into the build's and answers the templates' questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from report.errors import Problems
from results_contract import Case, ResultsFile, load_folder
from results_contract.files import DEFAULT_MAX_BYTES
from results_contract.model import COMPARABLE_ENV_FIELDS

__all__ = ["Case", "ResultsFile", "ResultsSet", "load_results"]


@dataclass
class ResultsSet:
    """Every validated results file, keyed by experiment name."""

    files: dict[str, ResultsFile] = field(default_factory=dict)
    # Experiments (by file stem) whose results file was refused, so a template's use of them
    # is not reported a second time as "no results".
    failed: set[str] = field(default_factory=set)

    def experiment(self, name: str) -> ResultsFile | None:
        return self.files.get(name)

    def find(self, experiment: str, **filters: Any) -> list[Case]:
        rf = self.files.get(experiment)
        if rf is None:
            return []
        return [c for c in rf.cases if c.matches(filters)]

    def all_cases(self) -> Iterable[Case]:
        for rf in self.files.values():
            yield from rf.cases

    def environment_differences(self, experiments: Iterable[str]) -> list[str]:
        """Fields of COMPARABLE_ENV_FIELDS whose values differ across these experiments."""
        envs = {name: self.files[name].environment for name in set(experiments) if name in self.files}
        diffs = []
        for key in COMPARABLE_ENV_FIELDS:
            values = {name: env.get(key) for name, env in envs.items()}
            if len(set(map(str, values.values()))) > 1:
                diffs.append(f"{key} ({', '.join(f'{n}: {v}' for n, v in sorted(values.items()))})")
        return diffs


def load_results(results_dir: Path, problems: Problems, root: Path | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> ResultsSet:
    """Load every ``*.json`` in ``results_dir``; problems are recorded, never raised."""
    if not results_dir.is_dir():
        problems.warn(f"{results_dir}: no results directory; the paper will have no measurements")
        return ResultsSet()
    folder = load_folder(results_dir, root, max_bytes)
    for line in folder.problems:
        problems.error(line)
    return ResultsSet(folder.files, folder.refused)
