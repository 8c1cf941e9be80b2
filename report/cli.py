"""``python build.py``: build the paper, check the inputs, or run the experiments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from report.errors import UserError

DESCRIPTION = """\
Build the versioned HTML and PDF paper from results/, references.bib and templates/.

commands:
  report        build dist/<slug>-v<version>.html and .pdf (the default)
  check         validate results, bibliography, templates, citations, cross-references
                and listings without writing anything
  experiments   run experiments and write results/ (needs the frameworks installed);
                see `python build.py experiments --help`
  site          build the MkDocs site into site/ (needs requirements/test.txt)
  verify        build twice into temporary directories and compare SHA-256 hashes
  release       check tree, version and changelog, build, and write dist/SHA256SUMS
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build.py", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", default="report", choices=["report", "check"],
                   help="what to do (default: report)")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: current directory)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: <root>/dist)")
    p.add_argument("--results", type=Path, default=None, help="read results from this directory instead "
                   "of [tool.paper] results (e.g. build/results-quick to preview a --quick run)")
    p.add_argument("--strict", action="store_true", help="treat warnings (unused references, noisy "
                   "measurements, mixed environments) as errors")
    p.add_argument("--no-pdf", action="store_true", help="write only the HTML (a fast preview)")
    p.add_argument("--force", action="store_true", help="rebuild even if no input changed")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors and the result")
    return p


def safe_streams() -> None:
    """Never crash on printing: a non-UTF-8 locale gets escapes for characters it cannot show."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):
            pass


def main(argv: list[str] | None = None) -> int:
    safe_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "experiments":
        from experiments.harness.cli import main as experiments_main

        return experiments_main(argv[1:])
    if argv and argv[0] == "site":
        from report.site import main as site_main

        return site_main(argv[1:])
    if argv and argv[0] in ("verify", "release"):
        from report.release import main as release_main

        return release_main(argv)
    args = _parser().parse_args(argv)
    log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
    from report.pipeline import build

    try:
        outcome = build(args.root, args.out, strict=args.strict, force=args.force, results_dir=args.results,
                        pdf=not args.no_pdf,
                        check_only=args.command == "check", log=log)
    except UserError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        print("build failed; previous outputs were left untouched", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; previous outputs were left untouched", file=sys.stderr)
        return 130
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in outcome.removed:
        print(f"removed {_show(path)}: it was older than the HTML beside it (built with --no-pdf)")
    if args.command == "check":
        print(f"check passed with {len(outcome.warnings)} warning(s) in {outcome.seconds:.1f} s")
    elif outcome.skipped:
        outputs = [p for p in (outcome.html_path, outcome.pdf_path) if p]
        print(f"up to date: {' and '.join(map(_show, outputs))} (inputs unchanged)")
    else:
        outputs = [f"{_show(p)} ({_size(p)})" for p in (outcome.html_path, outcome.pdf_path) if p]
        print(f"built {' and '.join(outputs)} in {outcome.seconds:.1f} s")
    return 0


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1024:.0f} KiB"
