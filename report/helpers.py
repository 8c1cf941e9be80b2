"""The author API: every function a template may call, in one registry.

A method decorated with ``@helper`` is a template global of the same name; its docstring is its
documentation (``docs/helpers.md`` is generated from these, and a test fails if it drifts).

Helpers never raise on an author's mistake: they record one line naming the template file and
line (found from the Jinja frame that called them) and return a visible ``[??]`` marker, so one
build reports every problem at once. Inputs that were refused at load time (a results file, a
bibliography entry) are skipped without a second error: the loader reported them. A lookup that
found nothing returns ``None``; every helper that takes a case accepts ``None`` and returns the
``[??]`` marker, so one missing case is one error, not a cascade.
"""

from __future__ import annotations

import datetime as dt
from array import array
import html
import inspect
import re
import math
import statistics
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from markupsafe import Markup

from report import document, formatting, listings
from report.bibliography import Bibliography
from report.charts import ChartSpec, Point
from report.config import PaperConfig
from report.document import FIGURE_MARK, KINDS, REF_MARK, DocumentState, Figure
from report.errors import Problems, UserError
from report.results import Case, ResultsSet
from report.templates import short_path
from results_contract.stats import ratio_ci
from results_contract.vocabulary import (BUSY_OTHER_CORES, DEFAULT_MODES, FRAMEWORK_NAMES, MODE_NAMES, MODEL_NAMES,
                                         REPEAT_TOLERANCE, STEAL_BANDS, unit as unit_of)

# How chart axes name the values of a field, unless a figure gives x_labels.
AXIS_NAMES = {"model": MODEL_NAMES, "framework": FRAMEWORK_NAMES, "mode": MODE_NAMES}

SHORT_PARAM = 16      # longer string parameters are left out of appendix tables
SHORT_ERROR = 90      # error texts are cut to this many characters in tables
LONG_TABLE_ROWS = 8   # longer tables may break across pages (the header repeats); shorter ones are kept whole
UNRESOLVED = Markup('<span class="unresolved">[??]</span>')
# A PyTorch-against-TensorFlow verdict as the tallies name it.
_OUTCOMES = {formatting.BETTER: "pytorch", formatting.WORSE: "tensorflow", formatting.WITHIN: "within",
             formatting.MISSING: "missing", formatting.NO_CI: "no_ci"}


def _is_timed(case: Case) -> bool:
    """An ok, measured (not deterministic) time or rate: the cases for which "slower" means
    something. Sizes, scores and counts (peak memory, share of peak, accuracy, epochs) are not."""
    return case.ok and not case.deterministic and unit_of(case.unit).kind in ("time", "rate")


@dataclass
class Pairing:
    """One side-by-side of PyTorch (``a``) and TensorFlow (``b``) under one pairing rule."""

    rule: str
    a: Case | None
    b: Case | None
    verdict: str
    sentence: str
    speedup: tuple[float, float | None, float | None] | None = None  # value, CI low, CI high


def speedup(a: Case, b: Case) -> tuple[float, float | None, float | None] | None:
    """How many times faster (or better) ``a`` is than ``b``, with the hierarchical-bootstrap CI
    of that ratio (None bounds with fewer than three processes on either side)."""
    value = formatting.ratio(a, b)
    if value is None:
        return None
    ci = None if (a.deterministic and b.deterministic) else cached_ratio_ci(a.run_samples(), b.run_samples())
    if ci is None:
        return value, None, None
    lo, hi = ci  # CI of median(b) / median(a)
    return (value, lo, hi) if a.better == "lower" else (value, 1 / hi, 1 / lo)


def _cached_ci(name: str, compute, *runs: list[list[float]]) -> tuple[float, float] | None:
    """``compute(*runs)`` through the ``ratios`` cache, keyed by ``name``, the runs and the
    statistics code: the bootstraps are the build's most expensive computation, and their results
    depend on nothing else."""
    from report import cache
    from results_contract import stats

    key = cache.fingerprint(name, *map(_packed, runs), cache.source_of(stats.__file__))
    ci = cache.cached_json("ratios", key, lambda: compute(*runs))
    return tuple(ci) if ci is not None else None


def _packed(runs: list[list[float]]) -> bytes:
    """``runs`` as bytes for a cache key: each run's length, then its samples as doubles. Packing
    is some 25 times faster than the JSON that ``cache.fingerprint`` writes for other values, and
    a build keys some 1,800 bootstraps on their raw samples."""
    return b"".join(len(run).to_bytes(8, "big") + array("d", run).tobytes() for run in runs)


def cached_ratio_ci(a_runs: list[list[float]], b_runs: list[list[float]]) -> tuple[float, float] | None:
    """``ratio_ci`` through the ``ratios`` cache."""
    return _cached_ci("ratio_ci", ratio_ci, a_runs, b_runs)


def cached_hierarchical_ci(runs: list[list[float]]) -> tuple[float, float] | None:
    """``hierarchical_ci`` through the ``ratios`` cache."""
    from results_contract import stats

    return _cached_ci("hierarchical_ci", stats.hierarchical_ci, runs)


def split_runs(rf, case: Case) -> tuple[tuple, tuple] | None:
    """``case``'s processes as measured by the first and the second pooled run of ``rf``
    (``build.py pool`` keeps each run's processes together, in the order of
    ``parameters.pooled_from``), or None when that cannot be told. A run normally gives each case
    as many processes as its ``processes``; an experiment that starts several processes per round
    itself (cold start) gives each case more, the same number in both runs when they ran the same
    tasks, so such a case from two equal runs splits in half. A case with fewer processes than
    the runs' total (a process failed) cannot be split."""
    sources = rf.sources
    if len(sources) < 2 or not all(s.get("processes") for s in sources[:2]):
        return None
    first, second = (int(s["processes"]) for s in sources[:2])
    runs = case.runs
    if len(sources) == 2 and first == second and len(runs) > first + second and len(runs) % 2 == 0:
        first = second = len(runs) // 2
    if len(runs) < first + second:
        return None
    return runs[:first], runs[first:first + second]


BACK_TO_BACK_S = 900.0  # two runs this close are one after the other, not separate sessions


def _run_gap_s(rf) -> float | None:
    """Seconds from the end of ``rf``'s first pooled run to the start of its second, or None."""
    sources = rf.sources
    try:
        end, start = (dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")
                      for t in (sources[0]["finished_at"], sources[1]["started_at"]))
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    return max((start - end).total_seconds(), 0.0)


def session_cases(rf, cases: list[Case]) -> list[list[Case]] | None:
    """``cases`` (from results file ``rf``) as each of its first two pooled runs measured them
    alone: per run, each case with only that run's processes, and its median and CI recomputed
    from them the way the harness computes them. None when ``rf`` does not pool two runs or a
    case lacks a process of either run (its processes could not be told apart)."""
    if len(rf.sources) < 2 or not all(s.get("processes") for s in rf.sources[:2]):
        return None
    out: list[list[Case]] = [[], []]
    for c in cases:
        if not c.ok:  # a failed case failed in the pooled data: it is failed in each run too
            out[0].append(c)
            out[1].append(c)
            continue
        parts = None if c.deterministic else split_runs(rf, c)
        if parts is None or sum(map(len, parts)) != len(c.runs):
            return None
        for i, runs in enumerate(parts):
            samples = [list(map(float, run["samples"])) for run in runs]
            medians = [statistics.median(r) for r in samples]
            out[i].append(replace(c, runs=tuple(runs), processes=len(runs), median=statistics.median(medians),
                                  ci95=cached_hierarchical_ci(samples)))
    return out


@dataclass
class Headline:
    fastest: Pairing
    default: Pairing


def helper(fn: Callable) -> Callable:
    """Register ``fn`` as a template global (its name) documented by its docstring."""
    if not (fn.__doc__ or "").strip():
        raise TypeError(f"template helper {fn.__name__} needs a docstring")
    fn.__template_helper__ = True
    return fn


def template_location() -> str:
    """``templates/x.html.j2:12`` of the innermost template frame calling a helper.

    Helpers ask for it on every call (about 1,300 times a build), and Jinja re-parses the
    template's line table each time it maps a line, so each template keeps the locations it has
    already mapped (keyed by the working folder too, since the path is shown relative to it)."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            try:
                known = template.__dict__.setdefault("_paper_locations", {})
            except AttributeError:  # pragma: no cover - a template without a __dict__
                known = {}
            key = (os.getcwd(), frame.f_lineno)
            if key not in known:
                name = template.filename or template.name or "<template>"
                try:
                    line = template.get_corresponding_lineno(frame.f_lineno)
                except Exception:  # pragma: no cover - jinja internals
                    line = "?"
                known[key] = f"{short_path(name)}:{line}"
            return known[key]
        frame = frame.f_back
    return "<template>"


@dataclass
class Sources:
    """What the helpers read: the loaded inputs of one build."""

    root: Path
    results: ResultsSet
    bib: Bibliography
    config: PaperConfig | None = None


# Error texts whose cause is known, and how the paper says it (marker found in the error -> words).
KNOWN_FAILURES = (
    ("Select TensorFlow op", "the model needs TensorFlow's Flex operations, which neither the LiteRT interpreter nor "
                             "TensorFlow's own tf.lite interpreter could run here"),
)


class Helpers:
    """The template functions of one build, bound to its inputs, problems and document state."""

    def __init__(self, sources: Sources, problems: Problems, state: DocumentState):
        self.sources, self.problems, self.state = sources, problems, state
        self.results, self.bib = sources.results, sources.bib
        self.min_effect = sources.config.min_effect if sources.config else 0.05
        self.error_chars = sources.config.error_chars if sources.config else 160
        # The bootstrap behind a speed-up is the build's most expensive computation, and the
        # abstract, guide, conclusion and machines section ask for the same pairs: once each.
        self._speedups: dict[tuple, tuple[float, float | None, float | None] | None] = {}
        self._hosts: list[dict[str, Any]] | None = None  # hosts(): the results do not change in a build
        self._session_verdicts: dict[tuple, dict[str, Any]] = {}  # session_verdicts(), by its arguments
        self._session_agreement: dict[str, dict[str, Any]] = {}  # session_agreement(), by host: several sections ask

    @classmethod
    def registry(cls) -> dict[str, Callable]:
        """Every registered helper, unbound, by name (for documentation)."""
        found = {name: fn for name, fn in inspect.getmembers(cls, inspect.isfunction)
                 if getattr(fn, "__template_helper__", False)}
        found["toc"], found["bibliography"] = document.toc, document.bibliography
        return dict(sorted(found.items()))

    def globals(self) -> dict[str, Any]:
        """The template globals: every registered helper, bound to this build."""
        out = {name: (getattr(self, name) if name not in ("toc", "bibliography") else fn)
               for name, fn in self.registry().items()}
        return out

    # --- citations and cross-references -------------------------------------------------
    @helper
    def cite(self, *keys: str) -> Markup:
        """``[1, 2]``: numbered links to references.bib entries, in order of first citation.
        An unknown key is an error naming the template line."""
        where = template_location()
        links = []
        for key in keys:
            if key not in self.bib.entries:
                if not self.bib.refused_key(key):  # a refused entry was reported where it is
                    self.problems.error(f"{where}: unknown citation key '{key}'; add it to references.bib "
                                        "or fix the key")
                links.append(UNRESOLVED)
                continue
            if key not in self.state.citations:
                self.state.citations.append(key)
            n = self.state.citations.index(key) + 1
            links.append(Markup('<a class="cite" href="#ref-{}">{}</a>').format(key, n))
        return Markup("[") + Markup(", ").join(links) + Markup("]")

    @helper
    def ref(self, label: str) -> Markup:
        """"Figure 3", "Table 2", "Listing 1" or "Section 4.2" for a label defined anywhere in the
        paper (forward references work); an unknown label is an error."""
        self.state.refs.append((label, template_location()))
        return Markup(REF_MARK.format(html.escape(label)))

    def _new_label(self, kind: str, label: str | None, where: str) -> tuple[int, str]:
        self.state.counters[kind] += 1
        number = self.state.counters[kind]
        if label:
            if not label.startswith(f"{kind}:"):
                self.problems.error(f"{where}: label '{label}' must start with '{kind}:'")
            elif label in self.state.labels:
                self.problems.error(f"{where}: label '{label}' is defined twice; labels must be unique")
            self.state.labels[label] = f"{KINDS[kind]} {number}"
        return number, label or f"{kind}:{number}"

    # --- finding cases -------------------------------------------------------------------
    def _cases(self, experiment: str, filters: dict[str, Any], where: str) -> list[Case]:
        if experiment in self.results.failed:  # refused at load time, and reported there
            return []
        if self.results.primary and self.results.primary not in self.results.hosts:
            return []  # the missing primary host was reported at load time: no cascade
        if self.results.experiment(experiment) is None:
            self.problems.error(f"{where}: no results for experiment '{experiment}'; "
                                f"run `python build.py experiments {experiment}` or fix the name")
            return []
        self.state.used_experiments.add(experiment)
        return self.results.find(experiment, **filters)

    def _one(self, experiment: str, filters: dict[str, Any], where: str) -> Case | None:
        found = self._cases(experiment, filters, where)
        if len(found) == 1:
            return found[0]
        if self.results.experiment(experiment) is not None:
            what = formatting.describe_params(filters)
            if not found:
                self.problems.error(f"{where}: no case in '{experiment}' matches {what}; check the filters")
            else:
                ids = ", ".join(c.id for c in found[:4])
                self.problems.error(f"{where}: {len(found)} cases in '{experiment}' match {what} ({ids}, ...); "
                                    "add a filter so exactly one matches")
        return None

    @helper
    def cases(self, experiment: str, **filters: Any) -> list[Case]:
        """Every case of ``experiment`` matching the filters (case fields such as ``framework``,
        ``mode``, ``model``, ``metric``, ``status``, or parameters such as ``batch_size``)."""
        return self._cases(experiment, filters, template_location())

    @helper
    def case(self, experiment: str, **filters: Any) -> Case | None:
        """The one case matching the filters; none or several is an error (returns None)."""
        return self._one(experiment, filters, template_location())

    @helper
    def maybe_case(self, experiment: str, **filters: Any) -> Case | None:
        """Like ``case``, but a case that was not measured (none matches) is None without an
        error: for tables whose rows exist only in some runs (``--quick`` measures fewer)."""
        where = template_location()
        found = self._cases(experiment, filters, where)
        return self._one(experiment, filters, where) if len(found) > 1 else (found[0] if found else None)

    @helper
    def params(self, experiment: str, name: str, **filters: Any) -> list[Any]:
        """Distinct values of a case field or parameter, sorted: lets prose loop over batch
        sizes or thread counts without typing them."""
        values = {c.field(name) for c in self._cases(experiment, filters, template_location())}
        return sorted((v for v in values if v is not None), key=lambda v: (str(type(v)), v))

    @helper
    def noise(self) -> dict[str, Any]:
        """How noisy the primary host's timed cases (times and rates, not sizes, scores or
        counts) are: ``{"cases": n with a process-level CI, "wide": how many have a CI half-width
        above the noise threshold, "median_half_width": the median half-width as a fraction of
        the median}``."""
        widths, wide = [], 0
        for c in self._timed_cases():
            if c.ci95 and c.median:
                widths.append((c.ci95[1] - c.ci95[0]) / 2 / abs(c.median))
                wide += c.noisy
        return {"cases": len(widths), "wide": wide,
                "median_half_width": statistics.median(widths) if widths else None}

    @helper
    def machine_load(self) -> dict[str, Any]:
        """How busy the rest of the primary host was while its processes measured, over the
        timed runs (times and rates) that record it (``runs[i].load``): ``{"runs": how many, "busy": how many had
        other processes keep more than ``threshold`` cores busy, "threshold": that many cores,
        "max_other": the most such cores, "median_steal" and "max_steal": cores taken by the
        hypervisor, "excluded": records left out as impossible (more busy cores than the host
        has, see ``Case.loaded_runs``)}``; counts are 0 and values None when no run records it."""
        other, steal = [], []
        cores = self._primary_cores()
        excluded = 0
        for c in self._timed_cases():
            excluded += len(c.loaded_runs()) - len(c.loaded_runs(cores))
            for load in c.run_loads(cores):
                if load.get("other_cpu_cores") is not None:
                    other.append(load["other_cpu_cores"])
                if load.get("steal_cores") is not None:
                    steal.append(load["steal_cores"])
        return {"runs": len(other), "busy": sum(v > BUSY_OTHER_CORES for v in other),
                "threshold": BUSY_OTHER_CORES, "max_other": max(other, default=None),
                "median_steal": statistics.median(steal) if steal else None,
                "max_steal": max(steal, default=None), "excluded": excluded}

    def _primary_cores(self) -> int | None:
        """The primary host's logical core count, which no load record can exceed."""
        host = self.results.hosts.get(self.results.primary) if self.results.primary else None
        return host.environment.get("cpu_cores_logical") if host else None

    def _timed_cases(self) -> Iterable[Case]:
        """The primary host's ok timed cases: measured (not deterministic) times and rates, from
        every results file. Sizes, scores and counts (peak memory, share of peak, accuracy,
        epochs) are left out: "slower" means nothing for them, and a share of peak repeats the
        rate it was computed from."""
        return (c for rf in self.results.files.values() for c in rf.cases if _is_timed(c))

    @helper
    def steal_effect(self) -> list[dict[str, Any]]:
        """How much slower processes ran by the hypervisor steal they recorded, over the primary
        host's timed cases with at least 3 process runs that record their load. One row per band of
        steal (``STEAL_BANDS``, in cores): ``{"low": cores, "high": cores or None for the last band,
        "runs": process runs in the band, "median_slowdown": the median of process median over
        case median (turned so that above 1 is slower), "slow_share": the share of those runs more
        than ``tolerance`` slower, "tolerance": REPEAT_TOLERANCE}``. Bands with no run are left
        out; the list is empty when no run records its load."""
        by_band: dict[int, list[float]] = {}
        cores = self._primary_cores()
        for c in self._timed_cases():
            if c.better not in ("higher", "lower") or len(c.runs) < 3 or not c.median:
                continue
            for run in c.loaded_runs(cores):
                load, median = run["load"], run.get("median")
                if load.get("steal_cores") is None or not median:
                    continue
                slowdown = formatting.advantage(c.median, median, c.better)
                band = max(i for i, low in enumerate(STEAL_BANDS) if load["steal_cores"] >= low)
                by_band.setdefault(band, []).append(slowdown)
        rows = []
        for band, values in sorted(by_band.items()):
            high = STEAL_BANDS[band + 1] if band + 1 < len(STEAL_BANDS) else None
            rows.append({"low": STEAL_BANDS[band], "high": high, "runs": len(values),
                         "median_slowdown": statistics.median(values),
                         "slow_share": sum(v > 1 + REPEAT_TOLERANCE for v in values) / len(values),
                         "tolerance": REPEAT_TOLERANCE})
        return rows

    @helper
    def session_agreement(self, host: str | None = None) -> dict[str, Any]:
        """How closely two full runs agree on the primary host (or on ``host``), from its
        results files that pool runs (``build.py pool`` lists each run's processes in the order of
        ``parameters.pooled_from``; the first two runs are compared). Over the timed cases (times
        and rates) in which every process of both runs measured: ``{"cases": how many, "within":
        how many have run medians (each run's median of its process medians) within
        ``tolerance`` of each other, "share": within / cases, "tolerance": REPEAT_TOLERANCE,
        "shift": the geometric mean over cases of the second run's cost over the first's (above 1:
        the second session was slower), "spread": the standard deviation of the log cost ratios,
        "processes": processes per run (the smaller run), "needed": the processes per run at which
        95% of cases would agree within ``tolerance`` if the spread were independent
        process-to-process noise, shrinking with the square root of the process count (None if
        they already do), "experiments": the experiments counted, "shifts": {experiment: its own
        geometric-mean cost ratio}, smallest first, "aa_cases" and "aa_directions": an A/A test of
        the comparison rule, applied to each such case's first run against its second (the same
        code and configuration, each run's processes alone): how many cases it was applied to and
        in how many it named a direction anyway, "aa_by_experiment": {experiment: directions} for
        the experiments with any, "aa_cases_by_experiment": {experiment: cases tested},
        "gap_s": the longest time between the end of a file's first run and the start of its
        second (None if not recorded), "single_run": the experiments
        whose files hold one run only (not compared), "back_to_back": whether every pooling file's second run began
        within ``BACK_TO_BACK_S`` of its first run's end (one run after the other, in one state of
        the machine as far as it lasts) rather than in a separate session}``; ``{}`` when no file pools two runs or no case
        qualifies. Computed once per build and host: the threats section, the conclusion, a table
        caption and the machines section ask for it."""
        key = host or self.results.primary
        if key not in self._session_agreement:
            self._session_agreement[key] = self._session_agreement_of(key)
        return self._session_agreement[key]

    def _session_agreement_of(self, host: str | None) -> dict[str, Any]:
        """The work of ``session_agreement``."""
        files = self._host_files(host)
        by_experiment: dict[str, list[float]] = {}  # log cost ratios of the second run over the first
        processes = None
        aa_cases = aa_directions = 0
        aa_by_experiment: dict[str, int] = {}
        aa_cases_by_experiment: dict[str, int] = {}
        gaps = []
        for name, rf in sorted(files.items()):
            gaps.append(_run_gap_s(rf))
            for c in rf.cases:
                parts = split_runs(rf, c) if _is_timed(c) and c.better in ("higher", "lower") else None
                if parts is None:
                    continue
                medians = [[run.get("median") for run in part] for part in parts]
                if any(m is None or m <= 0 for part in medians for m in part):
                    continue
                a, b = (statistics.median(part) for part in medians)
                by_experiment.setdefault(name, []).append(math.log(formatting.advantage(a, b, c.better)))
                processes = min(processes or len(parts[0]), len(parts[0]), len(parts[1]))
                per_run = session_cases(rf, [c])
                if per_run is not None and all(run[0].ci95 for run in per_run):
                    aa_cases += 1
                    aa_cases_by_experiment[name] = aa_cases_by_experiment.get(name, 0) + 1
                    if formatting.verdict(per_run[0][0], per_run[1][0], self.min_effect) in ("better", "worse"):
                        aa_directions += 1
                        aa_by_experiment[name] = aa_by_experiment.get(name, 0) + 1
        logs = [value for values in by_experiment.values() for value in values]
        if len(logs) < 2:
            return {}
        known = [g for g in gaps if g is not None]  # files of one run have no gap
        within = sum(abs(math.exp(value) - 1) <= REPEAT_TOLERANCE for value in logs)
        spread = statistics.stdev(logs)
        target = math.log(1 + REPEAT_TOLERANCE) / 1.96  # a normal log ratio within tolerance 95% of the time
        needed = math.ceil(processes * (spread / target) ** 2) if spread > target else None
        return {"cases": len(logs), "within": within, "share": within / len(logs), "tolerance": REPEAT_TOLERANCE,
                "shift": math.exp(statistics.fmean(logs)), "spread": spread, "processes": processes,
                "needed": needed, "experiments": sorted(by_experiment),
                "aa_cases": aa_cases, "aa_directions": aa_directions,
                "aa_by_experiment": dict(sorted(aa_by_experiment.items(), key=lambda item: -item[1])),
                "aa_cases_by_experiment": aa_cases_by_experiment,
                "gap_s": max(known, default=None),
                "single_run": sorted(name for name, rf in files.items() if len(rf.sources) < 2),
                "back_to_back": bool(known) and all(g <= BACK_TO_BACK_S for g in known),
                "shifts": dict(sorted(((name, math.exp(statistics.fmean(values)))
                                       for name, values in by_experiment.items()), key=lambda item: item[1]))}

    @helper
    def host_stability(self) -> dict[str, dict[str, Any]]:
        """How the primary host's speed changed inside one process (the ``host_stability``
        experiment), by workload (``"python_loop"``, ``"mlp"``): ``{"spread": the block_spread
        case (slowest over fastest block median of one process; its median and CI are across
        processes), "fastest" and "slowest": the fastest and slowest block median of any process
        (µs), "fast_share": the share of blocks within ``REPEAT_TOLERANCE`` of their own process's
        fastest block, "processes": how many, "blocks": blocks per process, "block_s": seconds per
        block, "threads": the intra-op thread setting, "max_steal": the most steal, in cores, that
        any of its processes recorded}``. Empty when
        the experiment has no results on the primary host (it is optional)."""
        if self.results.experiment("host_stability") is None or "host_stability" in self.results.failed:
            return {}
        self.state.used_experiments.add("host_stability")
        out: dict[str, dict[str, Any]] = {}
        for spread in self.results.find("host_stability", metric="block_spread"):
            times = self.results.find("host_stability", metric="block_time", model=spread.model)
            if not (spread.ok and len(times) == 1 and times[0].ok):
                continue
            per_process = times[0].run_samples()
            blocks = [s for run in per_process for s in run]
            near_fastest = sum(b <= min(run) * (1 + REPEAT_TOLERANCE) for run in per_process for b in run)
            steal = [load.get("steal_cores") or 0.0 for load in times[0].run_loads()]
            out[spread.model] = {"spread": spread, "fastest": min(blocks), "slowest": max(blocks),
                                 "fast_share": near_fastest / len(blocks),
                                 "processes": len(times[0].runs), "blocks": times[0].params.get("blocks"),
                                 "block_s": times[0].params.get("block_s"),
                                 "threads": times[0].params.get("threads"),
                                 "max_steal": max(steal, default=None)}
        return out

    @helper
    def process_medians(self, case: Case | None) -> list[float]:
        """A case's per-process medians, smallest first (empty for a missing case or for
        version-1 data, which has no processes): ``process_medians(c)[0]`` and ``[-1]`` give the
        spread between its independent processes."""
        if case is None:
            return []
        return sorted(run["median"] for run in case.runs if run.get("median") is not None)

    @helper
    def replication(self, experiment: str = "inference") -> dict[str, Any]:
        """How the primary host's cases were replicated: ``{"per_run": processes per run of
        ``experiment`` (None if it has no results), "total": its processes per case over every
        pooled run, "pooled": {experiment: [{"git_commit", "started_at", "finished_at",
        "processes"}, ...]} for each experiment whose results pool several full runs
        (``build.py pool``), in the order of its processes, "hours_apart": (fewest, most) hours between
        the starts of consecutive pooled runs of one experiment, over every pooled experiment (None
        when nothing is pooled or a run lacks a start time)}``."""
        from datetime import datetime

        pooled = {name: rf.sources for name, rf in sorted(self.results.files.items()) if len(rf.sources) > 1}
        rf = self.results.experiment(experiment)
        total = (rf.parameters or {}).get("processes") if rf else None
        per_run = pooled[experiment][0]["processes"] if experiment in pooled else total
        try:
            gaps = [(datetime.fromisoformat(b["started_at"]) - datetime.fromisoformat(a["started_at"])).total_seconds() / 3600
                    for runs in pooled.values() for a, b in zip(runs, runs[1:])]
        except (KeyError, TypeError, ValueError):
            gaps = []
        return {"per_run": per_run, "total": total, "pooled": pooled,
                "hours_apart": (min(gaps), max(gaps)) if gaps else None}

    @helper
    def pinned_threads(self, experiment: str) -> int | None:
        """The largest pinned thread count among ``experiment``'s cases (the main configuration;
        cases run with the frameworks' defaults are not pinned), or None if it has none."""
        counts = [v for v in self.params(experiment, "threads") if isinstance(v, int) and not isinstance(v, bool)]
        return max(counts) if counts else None

    @helper
    def best(self, experiment: str, **filters: Any) -> Case | None:
        """The ok case with the best median among those matching (None if none ran)."""
        return self._extreme(self._cases(experiment, filters, template_location()), want_best=True)

    @helper
    def worst(self, experiment: str, **filters: Any) -> Case | None:
        """The ok case with the worst median among those matching (None if none ran)."""
        return self._extreme(self._cases(experiment, filters, template_location()), want_best=False)

    @staticmethod
    def _extreme(found: list[Case], want_best: bool) -> Case | None:
        ok = [c for c in found if c.ok]
        if not ok:
            return None
        higher_wins = (ok[0].better == "higher") == want_best
        return (max if higher_wins else min)(ok, key=lambda c: c.median)

    @helper
    def best_per_framework(self, experiment: str, **filters: Any) -> dict[str, Case | None]:
        """Each framework's best ok case among those matching, as ``{framework: case}`` (None
        for a framework whose every matching case failed): the fastest-vs-fastest pairing."""
        found = self._cases(experiment, filters, template_location())
        frameworks = list(dict.fromkeys(c.framework for c in found))
        return {fw: self._extreme([c for c in found if c.framework == fw], want_best=True) for fw in frameworks}

    @helper
    def headline(self, experiment: str, metric: str, host: str | None = None, **filters: Any) -> "Headline":
        """The paper's one comparison rule for PyTorch against TensorFlow on one metric, in two
        pairings: ``.fastest`` (each framework's best mode among the matching cases) and
        ``.default`` (PyTorch eager against tf.function, what each framework's tutorials run:
        Keras ``fit``/``predict`` trace a tf.function). Each has ``.a``, ``.b`` (cases),
        ``.verdict`` (see ``verdict``), ``.sentence`` and ``.speedup`` (how many times faster or
        better PyTorch is, with a process-level CI); no template picks mode pairs by hand.
        ``host`` takes the cases from another host than the primary one."""
        where = template_location()
        found = self._host_cases(host, experiment, {"metric": metric, **filters}, where)
        pairs = {}
        for rule in ("fastest", "default"):
            a, b = self._pair(found, rule, where, experiment, filters)
            if a is None or b is None:
                pairs[rule] = Pairing(rule, a, b, formatting.MISSING, str(UNRESOLVED) if not found else
                                      "one framework has no successful case")
                continue
            key = (str(a.source), a.id, str(b.source), b.id)
            if key not in self._speedups:
                self._speedups[key] = speedup(a, b)
            pairs[rule] = Pairing(rule, a, b, formatting.verdict(a, b, self.min_effect),
                                  formatting.compare_sentence(a, b, min_effect=self.min_effect), self._speedups[key])
        return Headline(pairs["fastest"], pairs["default"])

    def _pair(self, found: list[Case], rule: str, where: str, experiment: str,
              filters: dict[str, Any]) -> tuple[Case | None, Case | None]:
        """The (PyTorch, TensorFlow) cases that ``rule`` pairs among ``found``: each framework's
        best ("fastest") or its default mode ("default")."""
        sides = []
        for fw in ("pytorch", "tensorflow"):
            mine = [c for c in found if c.framework == fw]
            if rule == "default":
                mine = [c for c in mine if c.mode == DEFAULT_MODES[fw]]
                if len(mine) > 1:
                    self.problems.error(f"{where}: headline: {len(mine)} default-mode {fw} cases in "
                                        f"'{experiment}' match {formatting.describe_params(filters)}; add a filter")
            sides.append(self._extreme(mine, want_best=True) if rule == "fastest" else (mine[0] if mine else None))
        return sides[0], sides[1]

    def _host_files(self, host: str | None) -> dict:
        """The results files of ``host`` (the primary host's when None), ``{}`` for an unknown host."""
        if host is None or host == self.results.primary:
            return self.results.files
        return self.results.hosts[host].files if host in self.results.hosts else {}

    def _host_cases(self, host: str | None, experiment: str, filters: dict[str, Any], where: str) -> list[Case]:
        if host is None or host == self.results.primary:
            return self._cases(experiment, filters, where)
        found = self.results.host(host)
        if found is None:
            self.problems.error(f"{where}: no host '{host}' in the results; hosts: {', '.join(self.results.hosts)}")
            return []
        return found.find(experiment, **filters)

    @helper
    def host_case(self, host: str, experiment: str, **filters: Any) -> Case | None:
        """The one case of ``experiment`` on ``host`` matching the filters, or None when that host
        has none (hosts measure different sets of cases); several matching cases are an error."""
        where = template_location()
        found = self._host_cases(host, experiment, filters, where)
        if len(found) > 1:
            self.problems.error(f"{where}: {len(found)} cases in '{experiment}' on host '{host}' match "
                                f"{formatting.describe_params(filters)}; add a filter")
            return None
        return found[0] if found else None

    @helper
    def other_hosts(self) -> list[dict[str, Any]]:
        """The ``hosts()`` records of every machine but the primary one, for "the other machine"
        against "the others"."""
        return [h for h in self.hosts() if not h["primary"]]

    @helper
    def hosts(self) -> list[dict[str, Any]]:
        """Every host with results, the primary one first: ``label``, ``primary``,
        ``environment`` (of its first results file), ``experiments`` (names), ``schema``
        ("process-level" when its cases carry per-process runs, else "pooled": version-1 data),
        ``commits`` (the distinct commits its files were measured at, first 10 characters, sorted),
        ``dirty`` (how many of its files came from a modified tree), ``files`` (how many),
        ``timing`` (the timing parameters of its first results file, ``{}`` if none) and
        ``allocator_pinned`` (whether its environment records glibc's fixed allocator
        thresholds). Computed once per build: the paper and ``other_hosts()`` ask for it
        several times."""
        if self._hosts is not None:
            return self._hosts
        out = []
        for label in sorted(self.results.hosts, key=lambda h: (h != self.results.primary, h)):
            h = self.results.hosts[label]
            cases = [c for rf in h.files.values() for c in rf.cases if c.ok and not c.deterministic]
            pooled = bool(cases) and all(c.processes is None for c in cases)
            commits = sorted({str(source.get("git_commit") or "?")[:10] for rf in h.files.values()
                              for source in rf.sources})
            first = next(iter(h.files.values()), None)
            threads_env = (h.environment or {}).get("threads") or {}
            out.append({"label": label, "primary": label == self.results.primary, "environment": h.environment,
                        "experiments": sorted(h.files), "schema": "pooled" if pooled else "process-level",
                        "commits": commits, "files": len(h.files),
                        "dirty": sum(bool(rf.environment.get("git_dirty")) for rf in h.files.values()),
                        "timing": dict(first.parameters.get("timing") or {}) if first else {},
                        "allocator_pinned": bool(threads_env.get("MALLOC_MMAP_THRESHOLD_"))})
        self._hosts = out
        return out

    @helper
    def across_hosts(self, experiment: str, metric: str, rule: str = "fastest", **filters: Any) -> dict[str, Any]:
        """One headline finding (``headline(...)``'s ``rule`` pairing) on every host. Returns
        ``{"primary": pairing, "hosts": [{"label", "pairing", "status"}], "holds": k, "tested": n,
        "summary": "no other machine with intervals; same direction by point estimate on host B" /
        "holds on 1 of 2 other machines with intervals; reverses on host C" / ..., "reversed_on":
        [hosts where the direction is the opposite, by interval or point estimate],
        "reversed_by_point": [those of them with point estimates only]}`` (the primary
        host defines the finding, so the summary counts only the other hosts). On a host whose
        results have no process-level CIs (version-1 data) only the direction of the point
        estimate is compared, and the status says so; on another host that pools two runs, a
        direction one of them alone does not reach is marked "(weaker)", as Table 3 marks the
        primary host's."""
        out: dict[str, Any] = {"hosts": [], "holds": 0, "tested": 0}
        primary = None
        queries: dict[str, dict[str, Any]] = {}  # each host's filters, for weaker() below
        for info in self.hosts():
            label = info["label"]
            extra = {} if info["schema"] == "pooled" else filters.get("_process_level", {})
            host_filters = {k: v for k, v in filters.items() if k != "_process_level"}
            pairing = getattr(self.headline(experiment, metric, host=label, **host_filters, **extra), rule)
            if info["primary"]:
                primary = pairing
            out["hosts"].append({"label": label, "pairing": pairing, "pooled": info["schema"] == "pooled"})
            queries[label] = {**host_filters, **extra}
        out["primary"] = primary
        direction = {formatting.BETTER: 1, formatting.WORSE: -1}.get(primary.verdict if primary else "", 0)
        reversed_on, reversed_by_point, unconfirmed, by_point = [], [], [], []
        for entry in out["hosts"]:
            pr = entry["pairing"]
            if entry["pooled"]:
                value = pr.speedup[0] if pr.speedup else None
                d = 0 if value is None or abs(math.log(value)) < math.log(1 + self.min_effect) else (1 if value > 1 else -1)
                faster = {1: "PyTorch", -1: "TensorFlow"}.get(d)
                # the same words as a host with intervals, marked as resting on point estimates
                entry["status"] = "not measured" if value is None else \
                    ("holds" if d == direction and d else "reverses" if d == -direction and d else
                     f"{faster} faster" if d else "within the threshold") + " (point estimate)"
            else:
                d = {formatting.BETTER: 1, formatting.WORSE: -1}.get(pr.verdict, 0)
                entry["status"] = "holds" if d == direction and d else "reverses" if d == -direction and d else \
                    {1: "PyTorch faster", -1: "TensorFlow faster"}.get(d) or \
                    {formatting.WITHIN: "within the threshold", formatting.UNCLEAR: "no clear difference",
                     formatting.NO_CI: "no CI", formatting.MISSING: "not measured"}.get(pr.verdict, pr.verdict)
                if d and entry["pairing"] is not primary and "model" in filters and filters["model"] in \
                        self.weaker(experiment, metric, rule=rule, host=entry["label"], **queries[entry["label"]]):
                    entry["status"] += " (weaker)"  # one of that host's two runs alone does not reach it
            if direction and d:
                out["tested"] += 1
                out["holds"] += d == direction
                if d == -direction:
                    (reversed_by_point if entry["pooled"] else reversed_on).append(entry["label"])
                elif entry["pooled"]:
                    by_point.append(entry["label"])
            elif direction:
                unconfirmed.append(entry["label"])
        if not direction:
            out["summary"] = "no direction on the primary host"
        else:
            # The primary host defines the finding, so it cannot confirm it: only another host with
            # process-level intervals can; a host with point estimates only can agree in direction,
            # which the summary says apart.
            others = [e for e in out["hosts"] if not e["pooled"] and e["pairing"] is not primary]
            held = sum(e["status"] == "holds" for e in others)
            parts = [f"holds on {held} of {len(others)} other machine{'' if len(others) == 1 else 's'} with intervals"
                     if others else "no other machine with intervals"]
            parts += [f"same direction by point estimate on {', '.join(by_point)}"] if by_point else []
            parts += [f"reverses on {', '.join(reversed_on)}"] if reversed_on else []
            parts += [f"reverses by point estimate on {', '.join(reversed_by_point)}"] if reversed_by_point else []
            parts += [f"not confirmed on {', '.join(unconfirmed)}"] if unconfirmed else []
            out["summary"] = "; ".join(parts)
        out["reversed_on"] = reversed_on + reversed_by_point
        out["reversed_by_point"] = reversed_by_point
        return out

    @helper
    def ratio_figure(self, label: str, caption: str, rows: list[dict[str, Any]], xlabel: str,
                     series_labels: dict[str, str] | None = None, band: bool = True, alt: str | None = None) -> Markup:
        """A numbered dot plot of PyTorch-over-TensorFlow speed-ups on a linear scale, a line at 1
        and the band of differences under ``min_effect``. Each row is ``{"label": ..., "series":
        ..., "pairing": headline(...).fastest}``; the whisker is the pairing's process-level 95% CI."""
        where = template_location()
        number, label = self._new_label("fig", label, where)
        points = [Point(r["label"], r["pairing"].speedup[0], r["pairing"].speedup[1], r["pairing"].speedup[2],
                        r.get("series", ""))
                  for r in rows if r.get("pairing") is not None and r["pairing"].speedup]
        if not points:
            self.problems.error(f"{where}: figure '{label}': no comparable pair among its rows")
            return UNRESOLVED
        spec = ChartSpec(kind="ratio", cases=[], x="", series=(), ylabel=xlabel, points=points,
                         band=self.min_effect if band else None, series_labels=series_labels or {})
        drawn = [c for r in rows if r.get("pairing") is not None and r["pairing"].speedup
                 for c in (r["pairing"].a, r["pairing"].b) if c is not None]
        sources = list(dict.fromkeys((c.source, self._module_of(c)) for c in drawn))
        first = drawn[0]
        self.state.figures.append(Figure(label, number, caption, spec, first.experiment, sources[0][0],
                                         sources[0][1], where=where, alt=alt or caption,
                                         more_sources=tuple(sources[1:])))
        return Markup(FIGURE_MARK.format(len(self.state.figures) - 1))

    def _module_of(self, case: Case) -> str:
        """The experiment module recorded in the results file ``case`` came from."""
        for h in self.results.hosts.values():
            rf = h.files.get(case.experiment)
            if rf is not None and rf.path == case.source:
                return rf.module
        return ""

    @helper
    def tally(self, experiment: str, metric: str, rule: str = "fastest", by: str = "model", host: str | None = None,
              point_estimates: bool = False, **filters: Any) -> dict:
        """For each value of ``by`` (each model), apply ``headline``'s ``rule`` ("fastest" or
        "default") and group the values by outcome: ``{"pytorch": [...], "tensorflow": [...],
        "within": [...], "unclear": [...], "no_ci": [...], "missing": [...]}`` (within: a gap under
        min_effect; unclear: overlapping CIs; no_ci: fewer than three processes). ``host`` tallies another host;
        ``point_estimates`` ranks cases without CIs (version-1 data) by their medians and the
        threshold alone."""
        out: dict[str, list] = {"pytorch": [], "tensorflow": [], "within": [], "unclear": [], "no_ci": [],
                                "missing": []}
        found = self._host_cases(host, experiment, {"metric": metric, **filters}, template_location())
        values = sorted({c.field(by) for c in found if c.field(by) is not None}, key=lambda v: (str(type(v)), v))
        for value in values:
            pairing = getattr(self.headline(experiment, metric, host=host, **{by: value, **filters}), rule)
            found_verdict = pairing.verdict
            if point_estimates and found_verdict == formatting.NO_CI:
                r = formatting.ratio(pairing.a, pairing.b) or 1.0
                found_verdict = (formatting.BETTER if r >= 1 + self.min_effect else formatting.WORSE
                                 if r <= 1 / (1 + self.min_effect) else formatting.WITHIN)
            out[_OUTCOMES.get(found_verdict, "unclear")].append(value)
        return out

    @helper
    def reversals(self, experiment: str, metric: str, host: str, rule: str = "fastest", by: str = "model",
                  **filters: Any) -> dict[str, list]:
        """Which of the primary host's verdicts ``host`` reverses: ``tally`` on both hosts with the
        same ``rule`` and filters, then ``{"tensorflow": [values PyTorch wins on the primary host and
        TensorFlow on host], "pytorch": [the other way round], "all": both, sorted, "weaker": the
        reversals that one of host's two pooled runs alone does not reach (``weaker`` on host)}``.
        Values without a direction on either host are not reversals. The abstract, the decision guide
        and the conclusion say which verdicts another machine reverses."""
        primary, other = (self.tally(experiment, metric, rule=rule, by=by, host=h, **filters)
                          for h in (None, host))
        to_tf = [v for v in other["tensorflow"] if v in primary["pytorch"]]
        to_pt = [v for v in other["pytorch"] if v in primary["tensorflow"]]
        both = sorted(to_tf + to_pt, key=lambda v: (str(type(v)), v))
        weak = self.weaker(experiment, metric, rule=rule, host=host, by=by, **filters)
        return {"tensorflow": to_tf, "pytorch": to_pt, "all": both, "weaker": [v for v in both if v in weak]}

    @helper
    def session_verdicts(self, experiment: str, metric: str, rule: str = "fastest", by: str = "model",
                         host: str | None = None, **filters: Any) -> dict[str, Any]:
        """``tally``'s comparisons repeated on each of the two pooled runs alone: do the verdicts
        survive a second session? For each value of ``by``, ``rule`` pairs the cases again within
        each run (so "fastest" may pick another mode there), with medians and CIs from that run's
        processes only. Returns ``{"values": [...], "pooled": {value: outcome}, "runs": [{value:
        outcome}, {value: outcome}], "processes": [per run], "same": [values whose outcome is the
        same in both runs and the pooled data], "reversed": [values where one of the three favours
        PyTorch and another TensorFlow], "repicked": [values where "fastest" picked another mode in one
        run than in the other run or in the pooled data]}``, outcomes named as ``tally`` names them ("pytorch",
        "tensorflow", "within", "unclear", "no_ci", "missing"); ``{}`` when the experiment's
        results do not pool two runs. ``host`` asks the same of another host's runs."""
        where = template_location()
        found = self._host_cases(host, experiment, {"metric": metric, **filters}, where)
        rf = self._host_files(host).get(experiment)
        if rf is None or not found:
            return {}
        # Several sections ask for the same comparisons (weaker() marks each verdict it states):
        # the per-run bootstraps are computed once per build.
        key = (host if host != self.results.primary else None, experiment, metric, rule, by,
               tuple(sorted((k, repr(v)) for k, v in filters.items())))
        if key in self._session_verdicts:
            return self._session_verdicts[key]
        self._session_verdicts[key] = out = self._session_verdicts_of(rf, found, experiment, rule, by, filters, where)
        return out

    def _session_verdicts_of(self, rf, found, experiment, rule, by, filters, where) -> dict[str, Any]:
        """The work of ``session_verdicts`` for cases already found."""
        values = sorted({c.field(by) for c in found if c.field(by) is not None}, key=lambda v: (str(type(v)), v))
        out: dict[str, Any] = {"values": values, "pooled": {}, "runs": [{}, {}], "processes": [],
                               "same": [], "reversed": [], "repicked": []}
        for value in values:
            mine = [c for c in found if c.field(by) == value]
            per_run = session_cases(rf, mine)
            if per_run is None:
                return {}
            outcomes, picks = [], []
            for cases in (mine, *per_run):
                a, b = self._pair(cases, rule, where, experiment, filters)
                outcomes.append(_OUTCOMES.get(formatting.verdict(a, b, self.min_effect), "unclear")
                                if a is not None and b is not None else "missing")
                picks.append((a.mode if a else None, b.mode if b else None))
            out["pooled"][value] = outcomes[0]
            for i in (0, 1):
                out["runs"][i][value] = outcomes[1 + i]
            out["processes"] = [min((c.processes or 0 for c in run if c.ok), default=0) for run in per_run]
            if len(set(outcomes)) == 1:
                out["same"].append(value)
            if {"pytorch", "tensorflow"} <= set(outcomes):
                out["reversed"].append(value)
            if len(set(picks)) > 1:  # a run alone picks another mode than the other run or the pooled data
                out["repicked"].append(value)
        return out

    @helper
    def weaker(self, experiment: str, metric: str, rule: str = "fastest", host: str | None = None,
               **filters: Any) -> list[Any]:
        """The models (values of ``by``, default "model") for which the pooled data give a
        direction that one of the two pooled sessions alone does not reach (``session_verdicts``
        with the same arguments, ``host`` included): the verdicts a sentence should mark as
        weaker. ``[]`` when the results do not pool two sessions."""
        found = self.session_verdicts(experiment, metric, rule=rule, host=host, **filters)
        if not found:
            return []
        return [v for v in found["values"]
                if found["pooled"].get(v) in ("pytorch", "tensorflow") and v not in found["same"]]

    @helper
    def weaker_pair(self, a: Case | None, b: Case | None) -> bool:
        """Whether the comparison rule gives ``a`` against ``b`` (two cases of one experiment on the
        primary host, such as one framework with two and with one process) a direction that one of
        the two pooled runs alone does not reach: ``weaker`` for a pair a template picked itself.
        False when the pooled data give no direction or the file does not pool two runs."""
        if a is None or b is None or a.experiment != b.experiment:
            return False
        pooled = formatting.verdict(a, b, self.min_effect)
        if pooled not in (formatting.BETTER, formatting.WORSE):
            return False
        rf = self.results.files.get(a.experiment)
        per_run = session_cases(rf, [a, b]) if rf is not None else None
        if per_run is None:
            return False
        return any(formatting.verdict(ra, rb, self.min_effect) != pooled for ra, rb in per_run)

    @helper
    def mode_spread(self, experiment: str, metric: str, by: str = "model", **filters: Any) -> dict:
        """Does leaving a framework's default mode move a result more than switching framework? For
        each value of ``by``: ``within`` = the larger, over the two frameworks, of the gain from the
        framework's default mode (``DEFAULT_MODES``: PyTorch eager, TensorFlow tf.function) to its
        fastest mode (as a speed ratio of the medians, counted only where the comparison rule tells
        the two apart, and leaving out compiled modes that captured no graph; a slow mode nobody
        would choose, such as TensorFlow eager, never counts) and ``between`` = the gap between the
        two frameworks' fastest modes. Returns ``{"values": [...], "mode_matters": [values where within > between],
        "by_framework": {"pytorch": [values where PyTorch's own spread > between], "tensorflow": [...]},
        "ratios": {value: (within, between)}, "separated": {value: whether the comparison rule
        tells the two fastest modes apart}}``: a gap the rule does not establish should be written
        as "no clear difference", not as a factor."""
        out: dict[str, Any] = {"values": [], "mode_matters": [], "ratios": {}, "separated": {},
                               "by_framework": {"pytorch": [], "tensorflow": []}}
        for value in self.params(experiment, by, metric=metric, **filters):
            found = [c for c in self._cases(experiment, {"metric": metric, by: value, **filters}, template_location())
                     if c.ok and c.median]
            best: dict[str, Case] = {}
            spread: dict[str, float] = {}
            for fw in ("pytorch", "tensorflow"):
                # A compiled mode that captured no graph ran the eager code: not a mode of its own.
                mine = [c for c in found if c.framework == fw and (c.extra or {}).get("dynamo_graphs") != 0]
                if not mine:
                    break
                lo = self._extreme(mine, want_best=True)
                default = next((c for c in mine if c.mode == DEFAULT_MODES[fw]), None)
                best[fw] = lo
                # Only a gain the comparison rule establishes counts; otherwise it is noise.
                ruled = default is not None and formatting.verdict(lo, default, self.min_effect) == formatting.BETTER
                spread[fw] = (formatting.ratio(lo, default) or 1.0) if ruled else 1.0
            within = max(spread.values(), default=1.0)
            if len(best) < 2:
                continue
            r = formatting.ratio(best["pytorch"], best["tensorflow"]) or 1.0
            between = max(r, 1 / r)
            out["values"].append(value)
            out["ratios"][value] = (within, between)
            out["separated"][value] = formatting.verdict(best["pytorch"], best["tensorflow"], self.min_effect) \
                in (formatting.BETTER, formatting.WORSE)
            if within > between:
                out["mode_matters"].append(value)
            for fw, own in spread.items():
                if own > between:
                    out["by_framework"][fw].append(value)
        return out

    @helper
    def investigation_host(self) -> str | None:
        """``[tool.paper] investigation_host`` (the machine of ``docs/investigations.md``'s
        findings) when it is not the primary host, else None: a sentence that gives one of those
        findings names this host."""
        host = self._configured("investigation_host")
        return host if host and host != self.results.primary else None

    @helper
    def recheck_host(self) -> str | None:
        """``[tool.paper] recheck_host`` (where ``docs/investigations.md``'s findings were timed
        again) when it is the primary host, else None: a sentence that reports a re-check of a
        finding on the primary host renders only while that is true."""
        host = self._configured("recheck_host")
        return host if host and host == self.results.primary else None

    def _configured(self, name: str) -> Any:
        """The ``[tool.paper]`` setting ``name``, None without a configuration."""
        return getattr(self.sources.config, name) if self.sources.config else None

    @helper
    def same_medians(self, p: Pairing, q: Pairing) -> bool:
        """Whether two pairings of the same comparison (say with pinned and with default threads)
        have each side's median the same by the comparison rule (no direction between ``p.a`` and
        ``q.a``, nor between ``p.b`` and ``q.b``) and the same modes on each side: a verdict that
        differs between them differs in the intervals' width, not in what was measured."""
        if not (p.a and p.b and q.a and q.b):
            return False
        if p.a.mode != q.a.mode or p.b.mode != q.b.mode:
            return False
        same = (formatting.WITHIN, formatting.UNCLEAR)
        return (formatting.verdict(p.a, q.a, self.min_effect) in same
                and formatting.verdict(p.b, q.b, self.min_effect) in same)

    @helper
    def same_runs(self, a: str, b: str) -> bool:
        """Whether the primary host measured experiments ``a`` and ``b`` in the same runs (their
        files' runs started at the same times), so that a ratio across the two compares
        measurements made side by side rather than hours or sessions apart."""
        files = self.results.files
        if a not in files or b not in files:
            return False
        starts = [[str(s.get("started_at")) for s in files[name].sources] for name in (a, b)]
        return starts[0] == starts[1] and "None" not in starts[0]

    @helper
    def deployment_status(self, mode: str, experiment: str = "deployment") -> dict:
        """What a deployment path achieved, per model, checking every stage it claims:
        ``{"models": [...], "converted": [...], "loaded": [...], "ran": [...], "matched": [...],
        "failed": {model: "stage: reason"}}``; "matched" means the reloaded outputs are within
        ``[tool.paper] numeric_tolerance`` of the source model's."""
        tolerance = self.sources.config.numeric_tolerance if self.sources.config else 1e-4
        found = self._cases(experiment, {"mode": mode}, template_location())
        models = list(dict.fromkeys(c.model for c in found))
        out: dict[str, Any] = {"models": models, "attempted": len(models), "converted": [], "loaded": [], "ran": [],
                               "matched": [], "failed": {}}
        for m in models:
            by_metric = {c.metric: c for c in found if c.model == m}
            stages = (("converted", "artifact_size"), ("loaded", "load_time"), ("ran", "latency"))
            for key, metric in stages:
                case = by_metric.get(metric)
                if case is not None and case.ok:
                    out[key].append(m)
                elif m not in out["failed"]:
                    out["failed"][m] = f"{metric}: {case.error if case is not None else 'not measured'}"
            diff = by_metric.get("max_abs_diff")
            ran = all(m in out[key] for key, _ in stages)
            if ran and diff is not None and diff.ok and diff.median is not None and diff.median <= tolerance:
                out["matched"].append(m)
            elif ran and m not in out["failed"]:
                out["failed"][m] = ("max_abs_diff: " + (diff.error or "not ok") if diff is not None and not diff.ok
                                    else "outputs differ from the source model's" if diff is not None
                                    else "max_abs_diff: not measured")
        return out

    @helper
    def model_name(self, model: Any) -> str:
        """How the paper writes a model id: "cnn" → "CNN", "transformer" → "Transformer"."""
        return MODEL_NAMES.get(str(model), str(model))

    @helper
    def display_name(self, framework: str, mode: str | None = None) -> str:
        """A reader's name for a framework and mode id: ("pytorch", "eager") → "PyTorch eager";
        a combined id "pytorch/eager" works too."""
        if mode is None and "/" in framework:
            framework, mode = framework.split("/", 1)
        name = FRAMEWORK_NAMES.get(framework, framework)
        return name if not mode else f"{name} {MODE_NAMES.get(mode, mode.replace('_', ' '))}"

    @helper
    def which_of(self, selected: Iterable[Any], among: Iterable[Any], noun: str = "models", article: bool = True) -> str:
        """"all four models", "none of the models" or "the CNN and the MLP": which of ``among`` are
        in ``selected``, in the order of ``among`` (model ids in their display names, each with
        "the" unless ``article`` is false, as in a table cell: "CNN and MLP")."""
        among = list(among)
        picked = set(selected)  # once: ``selected`` may be a one-pass iterator (a Jinja filter's output)
        chosen = [x for x in among if x in picked]
        if among and len(chosen) == len(among):
            if len(among) == 1:
                return f"the {MODEL_NAMES.get(str(among[0]), str(among[0])) if noun == 'models' else among[0]}"
            words = {2: "both", 3: "all three", 4: "all four", 5: "all five", 6: "all six"}
            return f"{words.get(len(among), f'all {len(among)}')} {noun}"
        if not chosen:
            return f"none of the {noun}"
        names = [("the " if article else "") + MODEL_NAMES.get(str(x), str(x)) if noun == "models" else str(x)
                 for x in chosen]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    # --- numbers and sentences -----------------------------------------------------------
    @helper
    def value(self, experiment: str, stat: str = "median", ci: bool = True, **filters: Any) -> Markup:
        """The formatted value of the one matching case, "0.12 ms (95% CI 0.11–0.13 ms)", with
        its identity in a tooltip; ``stat`` may be median, p90, p99 (of the pooled samples),
        p90_by_process, p99_by_process (every process weighing the same), mean or stdev."""
        found = self._one(experiment, filters, template_location())
        if found is None:
            return UNRESOLVED
        return Markup('<span class="measured" title="{}">{}</span>').format(
            found.describe(), formatting.fmt_case(found, stat=stat, ci=ci))

    @helper
    def compare(self, experiment: str, a: dict[str, Any], b: dict[str, Any], a_name: str | None = None,
                b_name: str | None = None, **common: Any) -> Markup:
        """One clause comparing two cases (``common`` filters plus ``a`` or ``b``): "A (x) is
        1.5× faster than B (y)", or "show no clear difference" when their CIs overlap."""
        where = template_location()
        ca = self._one(experiment, {**common, **a}, where)
        cb = self._one(experiment, {**common, **b}, where)
        if ca is None or cb is None:
            return UNRESOLVED
        return Markup(html.escape(formatting.compare_sentence(ca, cb, a_name, b_name, self.min_effect)))

    @helper
    def compare_cases(self, a: Case | None, b: Case | None, a_name: str | None = None,
                      b_name: str | None = None) -> str | Markup:
        """``compare`` for two cases already found (for example with ``best``)."""
        if a is None or b is None:
            return UNRESOLVED
        return formatting.compare_sentence(a, b, a_name, b_name, self.min_effect)

    @helper
    def fmt_case(self, case: Case | None, stat: str = "median", ci: bool = True) -> str | Markup:
        """A case's value as text, "n/a (failed: reason)" for one that did not run."""
        return UNRESOLVED if case is None else formatting.fmt_case(case, stat=stat, ci=ci)

    @helper
    def case_label(self, case: Case | None) -> str | Markup:
        """A reader's name for a case's framework and mode, e.g. "PyTorch torch.compile"."""
        return UNRESOLVED if case is None else formatting.case_label(case)

    @helper
    def change(self, a: Case | None, b: Case | None) -> str:
        """A table cell for ``a`` against ``b`` by the comparison rule: "12% faster", "2.1× slower",
        "within 5%", "no clear difference", "no CI (n < 3)" or "n/a (what failed)"."""
        if a is None or b is None:
            return "n/a (not measured)"
        found = formatting.verdict(a, b, self.min_effect)
        if found in (formatting.BETTER, formatting.WORSE):
            return formatting.fmt_change(a.median, b.median, a.unit, a.better)
        return {formatting.WITHIN: f"within {formatting.fmt_number(self.min_effect * 100)}%",
                formatting.UNCLEAR: "no clear difference", formatting.NO_CI: "no CI (n < 3)",
                formatting.NOT_RANKED: "not ranked"}.get(
            found, "n/a (" + "; ".join(f"{c.status}" for c in (a, b) if not c.ok) + ")" if not (a.ok and b.ok)
            else "n/a")

    @helper
    def relative(self, a: Case | None, b: Case | None) -> str:
        """How ``a`` compares with ``b`` in words, without the rule's significance test (for
        deterministic quantities such as sizes): "3.9× smaller", "12% larger", "n/a"."""
        if a is None or b is None or not (a.ok and b.ok):
            return "n/a"
        if formatting.ratio(a, b) is None:
            return "n/a"
        return formatting.fmt_change(a.median, b.median, a.unit, a.better)

    @helper
    def ratio(self, a: Case | None, b: Case | None) -> float | None:
        """How many times better ``a`` is than ``b`` (>1: a is better), None if either failed."""
        return None if a is None or b is None else formatting.ratio(a, b)

    @helper
    def verdict(self, a: Case | None, b: Case | None) -> str:
        """The paper's comparison rule from ``a``'s side: "better" or "worse" (non-overlapping
        process-level CIs and a gap of at least ``[tool.paper] min_effect``), "within" (a smaller
        gap), "unclear" (CIs overlap), "no_ci" (fewer than three processes) or "missing"."""
        if a is None or b is None:
            return formatting.MISSING
        return formatting.verdict(a, b, self.min_effect)

    @helper
    def overlap(self, a: Case | None, b: Case | None) -> bool:
        """Whether the two cases' 95% confidence intervals overlap (True if either is missing)."""
        return True if a is None or b is None or not (a.ci95 and b.ci95) else formatting.cis_overlap(a, b)

    @helper
    def fmt(self, value: float, unit: str = "") -> str:
        """A number with its unit, three significant digits ("1.23 ms", "4.5 MiB")."""
        return formatting.fmt_quantity(value, unit)

    @helper
    def failure_reason(self, error: str | None) -> str:
        """A recorded error as a reader reads it: known failure classes in words (for example
        LiteRT's missing Flex operations), anything else cut to ``error_chars`` characters. The
        full text stays in the results file."""
        text = error or "no reason recorded"
        for marker, words in KNOWN_FAILURES:
            if marker in text:
                return words
        return text if len(text) <= self.error_chars else text[: self.error_chars - 3].rstrip() + "..."

    @helper
    def prose_note(self, case: Case | None) -> str:
        """A case's recorded ``notes`` as prose: the first note only, without parenthesised
        pointers into the results file (``(extra.os_counters...)``) or a trailing period."""
        if case is None or not case.notes:
            return ""
        text = case.notes.split("; ")[0] if case.notes.count(";") > 2 else case.notes
        text = re.sub(r"\s*\([^()]*\bextra\.[^()]*\)", "", text)
        return text.strip().rstrip(".")

    @helper
    def pct(self, fraction: float | None) -> str:
        """A fraction as a percentage: ``pct(min_effect)`` → "5%", ``pct(0.619)`` → "61.9%"."""
        return "n/a" if fraction is None else f"{formatting.fmt_number(fraction * 100)}%"

    @helper
    def fmt_range(self, low: float, high: float, unit: str) -> str:
        """A range in one unit, chosen for ``high``: ``fmt_range(6.51e-2, 0.155, "ms")`` →
        "0.0651–0.155 ms", where two ``fmt`` calls would mix µs and ms."""
        return formatting.fmt_range(low, high, unit)

    @helper
    def pct_points(self, a: float | None, b: float | None) -> str:
        """The gap between two fractions in percentage points, without sign: ``pct_points(0.672,
        0.583)`` → "8.9 percentage points" (a difference of shares, not a relative change)."""
        if a is None or b is None:
            return "n/a"
        return f"{formatting.fmt_number(abs(a - b) * 100)} percentage points"

    @helper
    def fmt_number(self, value: float, digits: int = 3) -> str:
        """A number alone, three significant digits, thousands separators."""
        return formatting.fmt_number(value, digits)

    # --- figures, tables, listings -------------------------------------------------------
    @helper
    def figure(self, label: str, caption: str, experiment: str, metric: str, x: str = "model",
               series: Iterable[str] = ("framework", "mode"), kind: str = "bar", log: bool = False,
               ylabel: str | None = None, xlabel: str | None = None, x_order: list | None = None,
               series_labels: dict[str, str] | None = None, cases: list[Case] | None = None,
               x_labels: dict[Any, str] | None = None, hline: float | None = None,
               hline_label: str | None = None, alt: str | None = None, **where_filters: Any) -> Markup:
        """A numbered chart of one metric (bars or lines, one series per ``series`` key, error
        bars from the CIs); ``cases`` plots exactly those cases instead of the filter selection,
        and with ``"metric"`` among the ``series`` keys they may be of several metrics in the unit
        of ``metric`` (for example import time beside time to the first prediction).
        The caption links the results file, the experiment module and the commit; ``alt`` is the
        text a screen reader or the tagged PDF gives for the chart (default: the caption);
        ``hline`` draws a reference line (for example a measured peak)."""
        where = template_location()
        number, label = self._new_label("fig", label, where)
        if cases is not None:
            self._cases(experiment, {}, where)  # records the experiment as used, checks it exists
            series = tuple(series)
            unit = next((c.unit for c in cases if c is not None and c.metric == metric), None)
            found = [c for c in cases if c is not None and (
                c.metric == metric or ("metric" in series and unit is not None and c.unit == unit))]
        else:
            found = self._cases(experiment, {"metric": metric, **where_filters}, where)
        if self.results.experiment(experiment) is not None and not found:
            self.problems.error(f"{where}: figure '{label}': no '{metric}' cases in '{experiment}' match "
                                f"{formatting.describe_params(where_filters)}")
        if kind not in ("bar", "line"):
            self.problems.error(f"{where}: figure '{label}': kind must be 'bar' or 'line', not '{kind}'")
        if not found or kind not in ("bar", "line"):
            return UNRESOLVED
        spec = ChartSpec(kind=kind, cases=found, x=x, series=tuple(series), log=log,
                         ylabel=ylabel or f"{metric.replace('_', ' ')} ({found[0].unit})", xlabel=xlabel,
                         x_order=x_order, series_labels=series_labels or {},
                         x_labels=x_labels or dict(AXIS_NAMES.get(x, {})), hline=hline, hline_label=hline_label)
        rf = self.results.experiment(experiment)
        self.state.figures.append(Figure(label, number, caption, spec, experiment, rf.path, rf.module, where=where,
                                         alt=alt or caption))
        return Markup(FIGURE_MARK.format(len(self.state.figures) - 1))

    @helper
    def table(self, label: str, caption: str, columns: list[str], rows: list[list[Any]],
              numeric: Iterable[int] = (), css_class: str = "") -> Markup:
        """A numbered table; ``numeric`` lists the columns to right-align. Cells are escaped
        unless they are Markup from another helper."""
        where = template_location()
        number, label = self._new_label("tab", label, where)
        numeric = set(numeric)
        head = Markup("").join(Markup('<th class="num">{}</th>' if i in numeric else "<th>{}</th>").format(c)
                               for i, c in enumerate(columns))
        lines = []  # joined once: concatenating Markup row by row is quadratic in the row count
        for row in rows:
            if len(row) != len(columns):
                self.problems.error(f"{where}: table '{label}': a row has {len(row)} cells, expected {len(columns)}")
                continue
            cells = Markup("").join(
                Markup('<td class="num">{}</td>' if i in numeric else "<td>{}</td>").format(v)
                for i, v in enumerate(row))
            lines.append(Markup("<tr>{}</tr>\n").format(cells))
        return Markup('<div class="table-wrap{}"><table id="{}" class="{}"><caption><span class="label">Table {}.</span> {}'
                      '</caption>\n<thead><tr>{}</tr></thead>\n<tbody>{}</tbody></table></div>').format(
            " long" if len(rows) > LONG_TABLE_ROWS else "", label, css_class, number, caption, head,
            Markup("").join(lines))

    @helper
    def cases_table(self, label: str, caption: str, experiment: str, **filters: Any) -> Markup:
        """Every matching case: its short parameters, median, CI and sample count. Long string
        parameters (descriptions of the setup) and long error texts are shortened; the results
        file has them in full."""
        rows = []
        for c in self._cases(experiment, filters, template_location()):
            params = ", ".join(f"{k}={v}" for k, v in sorted(c.params.items())
                               if not (isinstance(v, str) and len(v) > SHORT_PARAM))
            if not c.ok:  # the reason goes in the wrapping column, not the narrow numeric one
                error = c.error or "no reason recorded"
                params += f"; {c.status}: " + (error if len(error) <= SHORT_ERROR else error[:SHORT_ERROR] + "…")
            rows.append([f"{c.framework}/{c.mode}/{c.model}", c.metric, params,
                         formatting.fmt_case(c, ci=False) if c.ok else f"n/a ({c.status})",
                         formatting.fmt_range(*c.ci95, c.unit) if c.ok and c.ci95 else "—",
                         str(c.sample_count) + (" (noisy)" if c.noisy else "")])
        return self.table(label, caption, ["case", "metric", "parameters", "median", "95% CI", "n"], rows,
                          numeric=(3, 4, 5), css_class="cases")

    @helper
    def listing(self, module: str, name: str, label: str | None = None, caption: str | None = None) -> Markup:
        """A numbered, highlighted listing of function or class ``name`` (``Class.method``
        allowed) from ``module``, read as source text (never imported), with its line numbers."""
        where = template_location()
        number, label = self._new_label("lst", label, where)
        try:
            lst = listings.extract(self.sources.root, module, name)
        except UserError as exc:
            self.problems.error(f"{where}: listing: {exc}")
            return UNRESOLVED
        rel = lst.path.relative_to(self.sources.root)
        cap = caption or Markup("<code>{}</code>").format(name)
        return Markup('<figure class="listing" id="{}"><figcaption><span class="label">Listing {}.</span> {} '
                      '<span class="provenance">from {}, lines {}–{}</span></figcaption>{}</figure>').format(
            label, number, cap, rel, lst.first_line, lst.last_line,
            Markup(listings.highlight_html(lst.source, lst.first_line)))

