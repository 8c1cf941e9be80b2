"""``python build.py COMMAND``: the project's one command line (``build.py`` calls ``main``).

Every command goes through ``main``, which is the one place errors are printed: a
``UserError`` (from any part of the project) is one ``error:`` line per problem; anything else
is a bug and shows its traceback. Exit codes: 0 done, 1 user error, 2 bad usage (argparse, an
unknown experiment), 130 interrupted (Ctrl-C or SIGTERM).

This module is the only one that imports both ``report`` and ``experiments``; each command
imports its side lazily, so ``build.py report`` never loads the harness and vice versa.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Callable

from results_contract.errors import EXIT_INTERRUPTED, EXIT_OK, UserError

COMMANDS = ("report", "check", "experiments", "compare", "pool", "migrate", "site", "verify", "release")
DESCRIPTION = """\
Build the versioned HTML and PDF paper from results/, references.bib and templates/, run the
experiments that produce results/, and publish.

commands (default: report):
  report        build dist/<slug>-v<version>.html and .pdf
  check         validate results, bibliography, templates, citations, cross-references and
                listings without writing anything
  experiments   run experiments and write results/ (needs the frameworks: `make experiments`)
  compare       compare two results folders or hosts case by case (`compare --help`)
  pool          pool repeated full runs of the same experiments into more processes per case
  migrate       move results/*.json from before per-host folders into results/<host>/
  site          build the MkDocs site into site/ (needs requirements/test.txt)
  verify        build twice into temporary directories and compare SHA-256 hashes
  release       check tree, version and changelog, build, and write dist/SHA256SUMS

exit codes: 0 done, 1 user error (one line per problem), 2 bad usage, 130 interrupted
"""


def _safe_streams() -> None:
    """Never crash on printing: a non-UTF-8 locale gets escapes for characters it cannot show."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- commands ------------------------------------------------------------------------------

def _build_options(p: argparse.ArgumentParser, *, outputs: bool) -> None:
    p.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: current directory)")
    p.add_argument("--results", type=Path, default=None, help="read results from this directory instead "
                   "of [tool.paper] results (e.g. build/results-quick to preview a --quick run)")
    p.add_argument("--strict", action="store_true", help="treat warnings (unused references, mixed "
                   "environments) as errors; notes (noisy measurements) stay notes")
    if outputs:
        p.add_argument("--out", type=Path, default=None, help="output directory (default: <root>/dist)")
        p.add_argument("--no-pdf", action="store_true", help="write only the HTML (a fast preview)")
        p.add_argument("--force", action="store_true", help="rebuild even if no input changed")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors and the result")


def cmd_report(args: argparse.Namespace) -> int:
    from report.pdf_worker import wanted as worker_wanted
    from report.pipeline import build

    check = args.command == "check"
    log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
    outcome = build(args.root, None if check else args.out, strict=args.strict,
                    force=not check and args.force, results_dir=args.results,
                    pdf=check or not args.no_pdf, check_only=check, log=log, pdf_worker=worker_wanted())
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    for path in outcome.removed:
        print(f"removed {_show(path)}: it was older than the HTML beside it (built with --no-pdf)")
    if check:
        print(f"check passed with {len(outcome.warnings)} warning(s) in {outcome.seconds:.1f} s")
    elif outcome.skipped:
        outputs = [p for p in (outcome.html_path, outcome.pdf_path) if p]
        print(f"up to date: {' and '.join(map(_show, outputs))} (inputs unchanged)")
    else:
        outputs = [f"{_show(p)} ({p.stat().st_size / 1024:.0f} KiB)" for p in (outcome.html_path, outcome.pdf_path) if p]
        print(f"built {' and '.join(outputs)} in {outcome.seconds:.1f} s")
    return EXIT_OK


def _experiment_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, one round, into build/results-quick/")
    p.add_argument("--force", action="store_true", help="ignore the cache and re-run")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default: results/, or build/results-quick/ with --quick)")
    p.add_argument("--accept-failures", action="store_true",
                   help="replace a results file even when cases that were ok in it now fail "
                        "(by default such a run is written beside it as NAME.json.rejected)")
    p.add_argument("--list", action="store_true", help="list experiments and exit")
    p.add_argument("--seed", type=int, default=0, help="seed for task order (default 0)")
    p.add_argument("--jobs", type=int, metavar="N", default=None,
                   help="with --quick, run N worker groups side by side (default: 2, or 1 on a "
                        "one-core machine); a full run always measures one worker at a time")
    p.add_argument("--host", metavar="NAME", help="name of this machine's results folder "
                   "(default: CPU model plus a hash of the machine's identity)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on every worker of a Dask cluster "
                   "(tcp://HOST:PORT), one folder per host under --out (default results/); see README")
    # For tests and other experiment collections; not part of the documented interface.
    p.add_argument("--package", default="experiments", help=argparse.SUPPRESS)
    p.add_argument("--path", default=None, help=argparse.SUPPRESS)


def cmd_experiments(args: argparse.Namespace) -> int:
    from experiments.harness.commands import run_experiments

    return run_experiments(args)


def cmd_compare(args: argparse.Namespace) -> int:
    from report import compare
    from report.config import load_config
    from results_contract.files import atomic_write

    root = args.root.resolve()
    config = load_config(root)
    a = compare.resolve(args.a, config.results_dir, root)
    b = compare.resolve(args.b, config.results_dir, root)
    result = compare.compare(a, b, config.min_effect)
    if sys.stdout.isatty():
        compare.print_rich(result)
    else:
        sys.stdout.write(compare.plain_text(result))
    if args.json:
        atomic_write(args.json, (json.dumps(compare.as_json(result), indent=1, sort_keys=True) + "\n").encode())
    if args.html:
        atomic_write(args.html, compare.as_html(result).encode())
    if args.fail_on_regression is not None:
        worse = result.regressions(args.fail_on_regression)
        if worse:
            raise UserError(f"{len(worse)} case(s) regressed by more than {args.fail_on_regression:g}%, e.g. "
                            f"{worse[0].experiment}:{worse[0].case_id} ({worse[0].change})")
    return EXIT_OK


def cmd_pool(args: argparse.Namespace) -> int:
    from results_contract import dump, load
    from results_contract.pool import pool

    folders = [Path(f) for f in args.folders]
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder}: not a results folder; give folders such as results/<host> "
                            "and the folder of a second run")
    names = sorted(set.intersection(*({p.stem for p in f.glob("*.json")} for f in folders)))
    if args.experiments:
        unknown = sorted(set(args.experiments) - set(names))
        if unknown:
            raise UserError(f"{unknown[0]}: not in every folder given; pool experiments every run measured")
        names = sorted(args.experiments)
    if not names:
        raise UserError("no experiment has a results file in every folder given")
    pooled = {}
    for name in names:  # everything is checked before anything is written
        paths = [f / f"{name}.json" for f in folders]
        docs = [load(p, _show(p)).document for p in paths]
        pooled[name] = pool(docs, [_show(p) for p in paths])
    for name, doc in pooled.items():
        target = args.out / f"{name}.json"
        dump(doc, target)
        print(f"{name}: {doc['parameters']['processes']} processes per case from "
              f"{len(doc['parameters']['pooled_from'])} runs -> {_show(target)}")
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    from report.config import load_config
    from results_contract.hosts import migrate_flat

    root = load_config(args.root.resolve()).results_dir
    moved = migrate_flat(root)
    for label, names in moved.items():
        print(f"moved {', '.join(names)} into {_show(root / label)}/")
    if not moved:
        print(f"nothing to migrate: {_show(root)} has no flat results files")
    return EXIT_OK


def cmd_site(args: argparse.Namespace) -> int:
    from report.site import build_site, site_size

    log = (lambda _m: None) if args.quiet else (lambda m: print(m, flush=True))
    site = build_site(args.root, args.out, args.dist, build_paper=not args.no_build, log=log)
    print(f"built {site} ({site_size(site)}); open {site / 'index.html'}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from report.release import verify

    if not verify(args.root):
        raise UserError("two builds of the same commit differ; the build is not reproducible")
    print("verified: two builds are byte-identical")
    return EXIT_OK


def cmd_release(args: argparse.Namespace) -> int:
    from report.release import release

    release(args.root)
    return EXIT_OK


# What to add after the errors when a command fails or is interrupted.
AFTERWORD = {
    "report": ("build failed; previous outputs were left untouched",
               "interrupted; previous outputs were left untouched"),
    "experiments": (None, "interrupted: workers stopped; the unfinished experiment's results file "
                          "was left as it was"),
    "site": (None, "interrupted; the previous site/ was left as it was"),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build.py", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    report = sub.add_parser("report", help="build the HTML and PDF paper (default)")
    _build_options(report, outputs=True)
    report.set_defaults(handler=cmd_report)
    check = sub.add_parser("check", help="validate every input without writing anything")
    _build_options(check, outputs=False)
    check.set_defaults(handler=cmd_report)

    exp = sub.add_parser("experiments", help="run experiments and write results/",
                         description="Run experiments and write results/<name>.json.")
    _experiment_options(exp)
    exp.set_defaults(handler=cmd_experiments)

    cmp = sub.add_parser("compare", help="compare two results folders or hosts",
                         description="Compare every case two results folders (or hosts) have in common: the "
                                     "ratio B/A with a 95% CI from a hierarchical bootstrap over processes, and "
                                     "whether B is faster, slower or within [tool.paper] min_effect of A.")
    cmp.add_argument("a", metavar="A", help="baseline: a results folder, or a host under results/")
    cmp.add_argument("b", metavar="B", help="the other side: a results folder, or a host under results/")
    cmp.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: current directory)")
    cmp.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as JSON")
    cmp.add_argument("--html", type=Path, metavar="FILE", help="also write the comparison as an HTML page")
    cmp.add_argument("--fail-on-regression", type=float, metavar="PCT",
                     help="exit 1 if B is slower (by the rule) than A by more than PCT percent in any case")
    cmp.set_defaults(handler=cmd_compare)

    pl = sub.add_parser("pool", help="pool repeated runs into more processes per case",
                        description="Pool two or more full runs of the same experiments on the same machine "
                                    "(same code, settings and environment; only the time and commit may differ) "
                                    "into one results file per experiment whose cases hold every run's processes.")
    pl.add_argument("folders", nargs="+", metavar="FOLDER", help="results folders of the runs, e.g. results/<host> "
                                                                 "and a second run's --out folder")
    pl.add_argument("--out", type=Path, required=True, metavar="DIR",
                    help="where to write the pooled files (may be one of the FOLDERs: files are replaced atomically)")
    pl.add_argument("--only", dest="experiments", nargs="+", metavar="NAME", help="pool only these experiments")
    pl.set_defaults(handler=cmd_pool)

    migrate = sub.add_parser("migrate", help="move flat results/*.json into per-host folders")
    migrate.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: current directory)")
    migrate.set_defaults(handler=cmd_migrate)

    site = sub.add_parser("site", help="build the MkDocs site into site/")
    site.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: current directory)")
    site.add_argument("--out", type=Path, default=None, help="site directory (default: <root>/site)")
    site.add_argument("--dist", type=Path, default=None, help="where the paper is built (default: <root>/dist)")
    site.add_argument("--no-build", action="store_true", help="use the paper already in --dist; do not build it")
    site.add_argument("-q", "--quiet", action="store_true")
    site.set_defaults(handler=cmd_site)

    for name, handler, text in (("verify", cmd_verify, "build twice and compare the bytes"),
                                ("release", cmd_release, "check, build and write dist/SHA256SUMS")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: current directory)")
        cmd.set_defaults(handler=handler)
    return p


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run the command, print errors once."""
    _safe_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "report")  # `build.py --force` means `build.py report --force`
    args = parser().parse_args(argv)  # exits 2 on bad usage
    handler: Callable[[argparse.Namespace], int] = args.handler
    failed_note, interrupted_note = AFTERWORD.get(args.command, (None, "interrupted"))
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return handler(args)
    except UserError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        if failed_note:
            print(failed_note, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(interrupted_note, file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
