"""The report's view of the results: every host's validated files, and queries for cases.

``results/`` holds one folder per host (``results/<host>/<experiment>.json``); a folder that
holds results files directly (a ``--results`` preview, a project from before per-host folders)
is read as one host. Every host is loaded and validated. Queries (``find``, ``experiment``) go
to the primary host, ``[tool.paper] primary_host`` (or the only host); ``host(label)`` reaches
the others, for the paper's across-machines section. Reading and validating is
``results_contract``'s job; this module collects its problems into the build's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from report.cache import ValidatedResults
from report.errors import Problems
from results_contract import Case, ResultsFile, load_folder
from results_contract.files import DEFAULT_MAX_BYTES
from results_contract.hosts import flat_files, host_folders, legacy_label
from results_contract.model import COMPARABLE_ENV_FIELDS

__all__ = ["Case", "HostResults", "ResultsFile", "ResultsSet", "load_results"]


@dataclass
class HostResults:
    """The validated results files of one host, keyed by experiment."""

    label: str
    files: dict[str, ResultsFile] = field(default_factory=dict)
    # Experiments (by file stem) whose results file was refused, so a template's use of them
    # is not reported a second time as "no results".
    failed: set[str] = field(default_factory=set)

    @property
    def environment(self) -> dict[str, Any]:
        """The environment of this host's first results file (the machine's description)."""
        first = next(iter(self.files.values()), None)
        return dict(first.environment) if first else {}

    def find(self, experiment: str, **filters: Any) -> list[Case]:
        rf = self.files.get(experiment)
        return [] if rf is None else [c for c in rf.cases if c.matches(filters)]


@dataclass
class ResultsSet:
    """Every host's results; queries without a host go to the primary host."""

    hosts: dict[str, HostResults] = field(default_factory=dict)
    primary: str | None = None

    @classmethod
    def single(cls, files: dict[str, ResultsFile], failed: set[str] | None = None,
               label: str = "host") -> "ResultsSet":
        """One host's files (tests and previews)."""
        return cls({label: HostResults(label, files, failed or set())}, label)

    @property
    def _primary(self) -> HostResults:
        found = self.hosts.get(self.primary) if self.primary else None
        return found if found is not None else HostResults("none")  # a missing primary is reported at load

    @property
    def files(self) -> dict[str, ResultsFile]:
        return self._primary.files

    @property
    def failed(self) -> set[str]:
        return self._primary.failed

    def host(self, label: str) -> HostResults | None:
        return self.hosts.get(label)

    def experiment(self, name: str) -> ResultsFile | None:
        return self.files.get(name)

    def find(self, experiment: str, **filters: Any) -> list[Case]:
        return self._primary.find(experiment, **filters)

    def all_files(self) -> Iterable[tuple[str, ResultsFile]]:
        """(host, file) for every host, primary first."""
        for label in sorted(self.hosts, key=lambda h: (h != self.primary, h)):
            for rf in self.hosts[label].files.values():
                yield label, rf

    def environment_differences(self, experiments: Iterable[str]) -> list[str]:
        """Fields of COMPARABLE_ENV_FIELDS whose values differ across these experiments (of the
        primary host: results of two machines must not be mixed in one comparison)."""
        envs = {name: self.files[name].environment for name in set(experiments) if name in self.files}
        diffs = []
        for key in COMPARABLE_ENV_FIELDS:
            values = {name: env.get(key) for name, env in envs.items()}
            if len(set(map(str, values.values()))) > 1:
                diffs.append(f"{key} ({', '.join(f'{n}: {v}' for n, v in sorted(values.items()))})")
        return diffs


def _load_host(folder: Path, label: str | None, problems: Problems, root: Path | None,
               max_bytes: int) -> HostResults:
    loaded = load_folder(folder, root, max_bytes, memo=ValidatedResults())
    for line in loaded.problems:
        problems.error(line)
    if label is None:  # a flat folder: named by the host its files record
        first = next(iter(loaded.files.values()), None)
        label = legacy_label(dict(first.environment)) if first else folder.name
    return HostResults(label, loaded.files, loaded.refused)


def load_results(results_dir: Path, problems: Problems, root: Path | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, primary: str | None = None) -> ResultsSet:
    """Load every host under ``results_dir``; problems are recorded, never raised."""
    if not results_dir.is_dir():
        problems.warn(f"{results_dir}: no results directory; the paper will have no measurements")
        return ResultsSet()
    where = str(results_dir.relative_to(root)) if root and results_dir.is_relative_to(root) else str(results_dir)
    folders = host_folders(results_dir)
    if flat_files(results_dir) and folders:
        problems.error(f"{where}: holds results files and host folders; move the files into their "
                       "host's folder with `python build.py migrate`")
        return ResultsSet()
    hosts = [_load_host(f, f.name, problems, root, max_bytes) for f in folders] if folders else \
        [_load_host(results_dir, None, problems, root, max_bytes)]
    results = ResultsSet({h.label: h for h in hosts})
    if primary is not None:
        if primary not in results.hosts:
            problems.error(f"pyproject.toml: [tool.paper] primary_host {primary!r} has no folder in {where}; "
                           f"hosts: {', '.join(results.hosts) or '(none)'}")
        results.primary = primary
    elif len(results.hosts) == 1:
        results.primary = next(iter(results.hosts))
    else:
        problems.error(f"{where}: results from {len(results.hosts)} hosts ({', '.join(results.hosts)}); "
                       "say which one the paper reports with [tool.paper] primary_host")
    return results
