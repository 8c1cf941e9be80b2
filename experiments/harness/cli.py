"""Command line: ``python -m experiments.harness [NAMES...] [--quick] [--force] ...``.

``python build.py experiments ...`` calls ``main`` too. Exit codes: 0 done, 1 user error
(one line), 2 bad usage or unknown experiment, 130 interrupted (nothing half-written).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from experiments.harness.errors import HarnessError
from experiments.harness.progress import make_progress
from experiments.harness.runner import DEFAULT_ROUNDS, RunOptions, UnknownExperiment, \
    default_out_dir, run_suite, select_experiments


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python build.py experiments",
                                description="Run experiments and write results/<name>.json.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all)")
    p.add_argument("--quick", action="store_true",
                   help=f"tiny sizes, {DEFAULT_ROUNDS[True]} round, into "
                        "build/results-quick/")
    p.add_argument("--force", action="store_true", help="ignore the cache and re-run")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default: results/, or build/results-quick/ with --quick)")
    p.add_argument("--accept-failures", action="store_true",
                   help="replace a results file even when cases that were ok in it now fail "
                        "(by default such a run is written beside it as NAME.json.rejected)")
    p.add_argument("--list", action="store_true", help="list experiments and exit")
    p.add_argument("--seed", type=int, default=0, help="seed for task order (default 0)")
    # For tests and other experiment collections; not part of the documented interface.
    p.add_argument("--package", default="experiments", help=argparse.SUPPRESS)
    p.add_argument("--path", default=None, help=argparse.SUPPRESS)
    return p


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        experiments = select_experiments(args.names, args.package, args.path)
        if args.list:
            for exp in experiments:
                print(f"{exp.name:24} {exp.title}  ({exp.relpath})")
            return 0
        opts = RunOptions(quick=args.quick, force=args.force,
                          out_dir=args.out or default_out_dir(args.quick), seed=args.seed,
                          accept_failures=args.accept_failures)
        progress = make_progress()
        try:
            statuses = run_suite(experiments, opts, progress)
        finally:
            progress.close()
        rejected = [name for name, status in statuses.items() if status == "rejected"]
        if rejected:
            print(f"error: {len(rejected)} experiment(s) kept their previous results because this run "
                  f"lost ok cases or failed entirely: {', '.join(rejected)}", file=sys.stderr)
            return 1
        return 0
    except UnknownExperiment as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: workers stopped; the unfinished experiment's results file was "
              "left as it was", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
