"""``build.py experiments``: what the command does once its arguments are parsed (``cli.py``
parses them and prints errors; a user error here is raised, never printed)."""

from __future__ import annotations

import argparse
import os
import sys

from experiments.harness.errors import HarnessError
from experiments.harness.progress import make_progress
from experiments.harness.runner import RunOptions, default_out_dir, results_root, run_suite, \
    select_experiments
from results_contract.hosts import flat_files, migrate_flat


def run_experiments(args: argparse.Namespace) -> int:
    experiments = select_experiments(args.names, args.package, args.path)
    if args.list:
        for exp in experiments:
            print(f"{exp.name:24} {exp.title}  ({exp.relpath})")
        return 0
    if args.scheduler:
        return _run_on_cluster(experiments, args)
    if not args.out:  # results from before per-host folders move to their host's folder first
        migrate(results_root(args.quick))
    opts = RunOptions(quick=args.quick, force=args.force,
                      out_dir=args.out or default_out_dir(args.quick, args.host), seed=args.seed,
                      accept_failures=args.accept_failures, host=args.host, package=args.package,
                      search_path=args.path, jobs=worker_jobs(args.quick, getattr(args, "jobs", None)))
    progress = make_progress()
    try:
        statuses = run_suite(experiments, opts, progress)
    finally:
        progress.close()
    rejected = [name for name, status in statuses.items() if status == "rejected"]
    if rejected:
        raise HarnessError(f"{len(rejected)} experiment(s) kept their previous results because this run "
                           f"lost ok cases or failed entirely: {', '.join(rejected)}")
    print(f"done: {sum(s == 'written' for s in statuses.values())} written, "
          f"{sum(s == 'cached' for s in statuses.values())} cached", file=sys.stdout)
    return 0


def worker_jobs(quick: bool, jobs: int | None) -> int:
    """How many worker groups run side by side: one for a full run, whose workers must not
    compete for cores while they measure; up to two for ``--quick``, whose numbers are a smoke
    test and never go into the paper."""
    if jobs is not None and jobs < 1:
        raise HarnessError(f"--jobs {jobs}: give a number of worker groups of at least 1")
    if not quick:
        if jobs not in (None, 1):
            raise HarnessError(f"--jobs {jobs}: a full run measures one worker at a time (workers side "
                               "by side would compete for the cores they time); use --jobs only with --quick")
        return 1
    return jobs if jobs is not None else min(2, os.cpu_count() or 1)


def migrate(root) -> int:
    """Move flat ``results/*.json`` (the layout before per-host folders) into their host's
    folder, saying what moved. Returns how many files moved."""
    if not flat_files(root):
        return 0
    moved = migrate_flat(root)
    for label, names in moved.items():
        print(f"moved {len(names)} results file(s) from {root} into {root / label}/ "
              "(results are now kept per host)")
    return sum(len(n) for n in moved.values())


def _run_on_cluster(experiments, args: argparse.Namespace) -> int:
    """Every experiment on every bench worker of a Dask cluster; results into ``<out>/<host>/``."""
    from experiments.harness.dispatch import run_on_cluster
    from experiments.harness.progress import PlainProgress

    if args.host:
        raise HarnessError("--host names this machine; with --scheduler each worker's --name is its host")
    root = args.out or results_root(args.quick)
    opts = RunOptions(quick=args.quick, force=args.force, seed=args.seed, accept_failures=args.accept_failures,
                      package=args.package, search_path=args.path)
    statuses = run_on_cluster(experiments, opts, args.scheduler, root, PlainProgress())
    bad = sorted(k for k, v in statuses.items() if v != "written" and v != "cached")
    if bad:
        raise HarnessError(f"{len(bad)} of {len(statuses)} host experiment(s) did not produce results: "
                           f"{', '.join(f'{k} ({statuses[k]})' for k in bad[:6])}{' ...' if len(bad) > 6 else ''}; "
                           "lost hosts' cases are recorded as failed, re-run to resume")
    print(f"done: {len(statuses)} host experiment(s) written or cached under {root}")
    return 0
