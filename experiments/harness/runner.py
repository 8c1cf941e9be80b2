"""Run experiments: rounds of fresh, shuffled worker groups, merged into one results file each.

One experiment goes plan (tasks, rounds, cache key) -> execute (every round in fresh worker
processes, then cases with statistics across processes) -> store (validate, write atomically,
or write beside the old file when the run would lose good results). Nothing is written until
the whole experiment has run and validated, so an interrupt leaves the previous file untouched.
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from experiments.harness import cache, environment
from experiments.harness.api import Task
from experiments.harness.cases import build_case, case_params, check_unique
from experiments.harness.discovery import Experiment, discover
from experiments.harness.errors import HarnessError, UnknownExperiment
from experiments.harness.children import REPO_ROOT, SHARED_DEFAULTS, child_env
from experiments.harness.framework_setup import thread_env
from experiments.harness.progress import PlainProgress
from experiments.harness.supervisor import Group, Outcome, WorkerSetup, run_group
from experiments.harness.timing import FULL_BUDGET, QUICK_BUDGET
from results_contract import ResultsError, dump, format_params
from results_contract.schema import SCHEMA_VERSION
from results_contract.vocabulary import FRAMEWORKS

# Fresh-process rounds per task, by quick: the process is the unit of replication, and a CI
# needs at least three processes (results_contract.stats.MIN_PROCESSES).
DEFAULT_ROUNDS = {False: 5, True: 1}
DEFAULT_TIMEOUT_S = {False: 300.0, True: 120.0}  # per task, unless Task/module says otherwise


@dataclass(frozen=True)
class RunOptions:
    quick: bool = False
    force: bool = False
    out_dir: Path | None = None
    seed: int = 0
    # Replace a results file even when cases that were ok in it failed in this run.
    accept_failures: bool = False
    host: str | None = None   # the results folder's name (None: derived from the machine)
    package: str = "experiments"        # where experiments are found (tests use fixtures)
    search_path: str | None = None
    jobs: int = 1   # worker groups side by side (more than one only for quick runs)


# Python modules a task's framework needs in its worker; checked before anything runs, so a
# machine without the frameworks (the `make report` environment) fails in one line instead of
# recording every case as failed.
FRAMEWORK_MODULES = {"pytorch": ("torch",), "tensorflow": ("tensorflow",),
                     "litert": ("tensorflow", "ai_edge_litert"), "onnxruntime": ("onnxruntime",),
                     "keras": ("keras",)}
KERAS_BACKEND_MODULES = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}


def missing_modules(tasks: list[Task]) -> list[str]:
    """Modules the tasks need that are not installed (found without importing them)."""
    import importlib.util

    needed: dict[str, None] = {}
    for task in tasks:
        for name in FRAMEWORK_MODULES.get(task.framework, ()):
            needed[name] = None
        backend = task.env.get("KERAS_BACKEND")
        if task.framework == "keras" and backend in KERAS_BACKEND_MODULES:
            needed[KERAS_BACKEND_MODULES[backend]] = None
    return [name for name in needed if importlib.util.find_spec(name) is None]


def previous_ok_ids(path: Path) -> set[str]:
    """Ids of the ok cases in the results file a run would replace (empty if none/unreadable)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {c["id"] for c in data["cases"] if c.get("status") == "ok"}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def rejected_path(path: Path) -> Path:
    """Where a run that would lose good results is written instead: beside the kept file, with
    a suffix the results loader ignores."""
    return path.with_name(path.name + ".rejected")


def results_root(quick: bool) -> Path:
    """The folder that holds one folder per host. Quick runs never touch the committed results."""
    return REPO_ROOT / ("build/results-quick" if quick else "results")


def default_out_dir(quick: bool, host: str | None = None) -> Path:
    """This machine's results folder: ``results/<host>/`` (``build/results-quick/<host>/``)."""
    return results_root(quick) / environment.host_label(host)


def _describe(task: Task) -> str:
    return f"{task.framework}/{task.mode}/{task.model} {format_params(case_params(task))}"


def _gather_tasks(exp: Experiment, quick: bool) -> list[Task]:
    tasks = list(exp.module.tasks(quick))
    for task in tasks:
        if not isinstance(task, Task):
            raise HarnessError(f"{exp.path}: tasks() must return Task objects, got "
                               f"{type(task).__name__}")
        if task.framework not in FRAMEWORKS:
            raise HarnessError(f"{exp.path}: unknown framework {task.framework!r}; "
                               f"use one of {', '.join(FRAMEWORKS)}")
    check_unique(tasks, str(exp.path))
    return tasks


def _groups(tasks: list[Task], indices: list[int]) -> list[Group]:
    by_key: dict[tuple, Group] = {}
    for i in indices:
        t = tasks[i]
        # Settings equal to the workers' shared defaults do not split a group.
        key = (t.framework, t.threads, tuple(sorted((k, v) for k, v in t.env.items() if SHARED_DEFAULTS.get(k) != v)))
        by_key.setdefault(key, Group(t.framework, t.threads, dict(t.env))).items.append((i, t))
    return list(by_key.values())


@dataclass
class Plan:
    """What one run of an experiment will do, decided before anything runs."""

    exp: Experiment
    tasks: list[Task]
    rounds: list[int]          # fresh-process rounds per task (the task's replicates)
    parameters: dict
    cache_key: str
    timeout_s: float


def plan_experiment(exp: Experiment, opts: RunOptions) -> Plan:
    """The tasks, rounds, recorded parameters and cache key of ``exp`` (cheap: no framework)."""
    tasks = _gather_tasks(exp, opts.quick)
    rounds = DEFAULT_ROUNDS[opts.quick]
    timeout = float(getattr(exp.module, "TIMEOUT_S", None) or DEFAULT_TIMEOUT_S[opts.quick])
    parameters = {"processes": rounds, "seed": opts.seed, "default_timeout_s": timeout,
                  "timing": (QUICK_BUDGET if opts.quick else FULL_BUDGET).as_dict(),
                  "replication": "each round is a fresh worker process per (framework, threads, "
                                 "environment) group, shared by the experiments run together, "
                                 "tasks in a shuffled order; a case's runs come from distinct "
                                 "processes"}
    if opts.jobs > 1:  # quick runs only: workers side by side compete for the cores
        parameters["parallel_worker_groups"] = opts.jobs
    key = cache.cache_key(exp.path, {**parameters, "quick": opts.quick}, environment.fingerprint(),
                          exp.path.parent / "models")
    task_rounds = [t.rounds if t.rounds is not None else _default_rounds(t, rounds) for t in tasks]
    return Plan(exp, tasks, task_rounds, parameters, key, timeout)


def _default_rounds(task: Task, rounds: int) -> int:
    """A task that reports only deterministic metrics is measured once."""
    return 1 if all(m.deterministic for m in task.metrics) else rounds


def execute(plan: Plan, opts: RunOptions, progress: PlainProgress) -> dict:
    """Run every round of ``plan`` in fresh workers; returns the validated results document."""
    return execute_suite([plan], opts, progress)[0]


def execute_suite(plans: list[Plan], opts: RunOptions, progress: PlainProgress) -> list[dict]:
    """Run every round of every plan; returns one results document per plan, in order.

    The experiments share workers: in each round, one fresh worker per (framework, threads,
    environment) group runs the tasks of *every* experiment in that group, in a shuffled order.
    Starting TensorFlow takes seconds, so this keeps the suite's budget for measuring, while a
    case's runs still come from distinct processes (one per round)."""
    entries = [(k, i) for k, plan in enumerate(plans) for i in range(len(plan.tasks))]
    tasks = [plans[k].tasks[i] for k, i in entries]
    rounds = [plans[k].rounds[i] for k, i in entries]
    modules = [plans[k].exp.module.__name__ for k, _ in entries]
    timeouts = {id(t): float(t.timeout_s or plans[k].timeout_s) for (k, _), t in zip(entries, tasks)}
    names = {id(t): plans[k].exp.name for (k, _), t in zip(entries, tasks)}
    started_at = environment.now_utc()
    outcomes: list[list[Outcome]] = [[] for _ in tasks]
    devices: set[str] = set()
    label = plans[0].exp.name if len(plans) == 1 else f"{len(plans)} experiments"
    progress.start_experiment(label, sum(rounds))

    def describe(task: Task) -> str:
        return _describe(task) if len(plans) == 1 else f"{names[id(task)]}: {_describe(task)}"

    def on_event(kind: str, task: Task, outcome: Outcome | None) -> None:
        if kind == "start":
            progress.start_task(describe(task))
        else:
            status = "ok" if outcome.error is None else f"failed: {outcome.error}"
            progress.finish_task(describe(task), status, outcome.seconds)

    roots = list(dict.fromkeys(str(plan.exp.root) for plan in plans))
    with tempfile.TemporaryDirectory(prefix="harness-") as tmp:
        setup = WorkerSetup(
            module=modules[0], sys_path=[str(REPO_ROOT), *roots], modules=modules,
            quick=opts.quick, seed=opts.seed, env=child_env(search_root=plans[0].exp.root), tmp_dir=Path(tmp),
            timeout_for=lambda t: timeouts[id(t)], startup_timeout_s=max(plan.timeout_s for plan in plans))
        seed_name = "+".join(plan.exp.name for plan in plans)
        for r in range(max(rounds, default=0)):
            rng = random.Random(f"{opts.seed}/{seed_name}/{r}")
            groups = _groups(tasks, [i for i, n in enumerate(rounds) if n > r])
            rng.shuffle(groups)
            for group in groups:
                rng.shuffle(group.items)
                group.env = {**group.env, **thread_env(group.threads)}
            for results, device in _run_groups(setup, groups, on_event, r, opts.jobs):
                devices.add(device)
                for outcome in results:
                    outcomes[outcome.index].append(outcome)
    progress.finish_experiment()

    gpu = sorted(d for d in devices if d != "cpu")
    documents = []
    for k, plan in enumerate(plans):
        mine = [j for j, (kk, _) in enumerate(entries) if kk == k]
        cases = sorted((build_case(tasks[j], m, outcomes[j]) for j in mine
                        for m in range(len(tasks[j].metrics))), key=lambda c: c["id"])
        documents.append({
            "schema_version": SCHEMA_VERSION, "experiment": plan.exp.name, "title": plan.exp.title,
            "module": plan.exp.relpath, "quick": opts.quick, "cache_key": plan.cache_key,
            "parameters": plan.parameters,
            "environment": environment.collect(started_at=started_at, device=gpu[0] if gpu else "cpu",
                                               cwd=plan.exp.root, host=environment.host_label(opts.host)),
            "cases": cases,
        })
    return documents


def _run_groups(setup: WorkerSetup, groups: list[Group], on_event, round_index: int,
                jobs: int) -> Iterator[tuple[list[Outcome], str]]:
    """Each group's (outcomes, device), in ``groups`` order. With ``jobs`` > 1 (quick runs only)
    that many groups run side by side in threads, each supervising its own worker; an
    interrupt or error stops them all and kills their workers before it propagates."""
    if jobs <= 1:
        for group in groups:
            yield run_group(setup, group, on_event, round_index=round_index)
        return
    lock = threading.Lock()

    def locked(kind: str, task: Task, outcome: Outcome | None) -> None:
        with lock:
            on_event(kind, task, outcome)

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="group")
    try:
        futures = [pool.submit(run_group, setup, group, locked, round_index) for group in groups]
        for future in futures:
            yield future.result()
    except BaseException:
        setup.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def store(document: dict, path: Path, opts: RunOptions, progress: PlainProgress) -> str:
    """Write ``document`` to ``path``: "written", or "rejected" (written beside it) when the run
    lost cases that were ok in the file it would replace, or failed entirely."""
    name, cases = document["experiment"], document["cases"]
    previous_ok = previous_ok_ids(path)
    lost = sorted(c["id"] for c in cases if c["status"] == "failed" and c["id"] in previous_ok)
    everything_failed = bool(cases) and all(c["status"] != "ok" for c in cases)
    if (lost or everything_failed) and not opts.accept_failures:
        aside = rejected_path(path)
        write_results(aside, document)
        why = (f"{len(lost)} case(s) that were ok in it failed in this run, e.g. {lost[0]}"
               if lost else "every case failed in this run")
        first_error = next((c["error"] for c in cases if c["status"] == "failed"), None)
        progress.message(f"{name}: kept {path}: {why}" + (f" ({first_error})" if first_error else "")
                         + f"; this run is in {aside}; re-run with --accept-failures to replace it")
        return "rejected"
    write_results(path, document)
    failed = sum(c["status"] == "failed" for c in cases)
    progress.message(f"{name}: wrote {path} ({len(cases)} cases, {failed} failed)")
    return "written"


def run_experiment(exp: Experiment, opts: RunOptions, progress: PlainProgress) -> str:
    """Run one experiment unless cached; returns "cached", "written" or "rejected"."""
    return run_suite([exp], opts, progress)[exp.name]


def select_experiments(names: list[str], package: str = "experiments",
           search_path: str | Path | None = None) -> list[Experiment]:
    """The named experiments (all when ``names`` is empty); unknown names are a user error."""
    known = discover(package, search_path)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownExperiment(f"unknown experiment {unknown[0]!r}; known: "
                                f"{', '.join(known) or '(none)'}")
    return [known[n] for n in (names or list(known))]


def write_results(path: Path, document: dict) -> None:
    """Validate and write atomically; an invalid document is the experiment module's mistake."""
    try:
        dump(document, path)
    except ResultsError as exc:
        raise HarnessError(exc.problems[0]) from None


def run_suite(experiments: list[Experiment], opts: RunOptions,
              progress: PlainProgress) -> dict[str, str]:
    """Run the experiments that are not cached, sharing workers (``execute_suite``); returns
    each one's status ("cached", "written" or "rejected": the run would have replaced good
    results with failures, see ``rejected_path``). Nothing is written until every round of
    every experiment has run, so an interrupt leaves all previous results files as they were."""
    out_dir = opts.out_dir or default_out_dir(opts.quick, opts.host)
    statuses: dict[str, str] = {}
    todo = []
    for exp in experiments:
        plan = plan_experiment(exp, opts)
        path = out_dir / f"{exp.name}.json"
        if not opts.force and cache.cached_key(path) == plan.cache_key:
            progress.message(f"{exp.name}: cached ({path})")
            statuses[exp.name] = "cached"
        else:
            todo.append(plan)
    missing = missing_modules([t for plan in todo for t in plan.tasks])
    if missing:
        raise HarnessError(f"{', '.join(plan.exp.name for plan in todo)}: {', '.join(missing)} not installed in "
                           f"this Python ({sys.executable}); `make experiments` installs the frameworks "
                           "(requirements/experiments.txt)")
    if todo:
        for plan, document in zip(todo, execute_suite(todo, opts, progress)):
            statuses[plan.exp.name] = store(document, out_dir / f"{plan.exp.name}.json", opts, progress)
    return {exp.name: statuses[exp.name] for exp in experiments}
