"""``build.py experiments``: what the command does once its arguments are parsed (``cli.py``
parses them and prints errors; a user error here is raised, never printed)."""

from __future__ import annotations

import argparse
import sys

from experiments.harness.errors import HarnessError
from experiments.harness.progress import make_progress
from experiments.harness.runner import RunOptions, default_out_dir, run_suite, select_experiments


def run_experiments(args: argparse.Namespace) -> int:
    experiments = select_experiments(args.names, args.package, args.path)
    if args.list:
        for exp in experiments:
            print(f"{exp.name:24} {exp.title}  ({exp.relpath})")
        return 0
    opts = RunOptions(quick=args.quick, force=args.force, out_dir=args.out or default_out_dir(args.quick),
                      seed=args.seed, accept_failures=args.accept_failures)
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
