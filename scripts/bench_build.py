"""Benchmark the paper build (a benchmark, not a test): warm ``build.py --force`` timings by stage.

    python scripts/bench_build.py [repeats] [--root DIR]

Builds into a temporary folder ``repeats`` times (default 3) after one untimed warm-up build
(which fills the chart cache), then prints the median seconds of each stage: load (results and
bibliography), render (templates), references (CSL), charts (matplotlib, or the cache), finish
(numbering, placing figures), layout (WeasyPrint pagination), pdf (PDF write), write (atomic
replace) and the total, plus a second, unchanged build (the up-to-date check). Last, it times
what an author runs: ``build.py --force`` as a fresh process, ``repeats`` times (the median),
which adds the imports and renders the PDF in a worker process (``report.pdf_worker``); the stage
times above are in process, with WeasyPrint already imported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from report.pipeline import build  # noqa: E402

STAGES = ("load", "render", "references", "charts", "finish", "layout", "pdf", "write")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("repeats", nargs="?", type=int, default=3)
    p.add_argument("--root", type=Path, default=ROOT)
    args = p.parse_args(argv)
    quiet = lambda _m: None  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        out = Path(tmp)
        build(args.root, out, force=True, log=quiet)  # warm-up: imports, fonts, chart cache
        runs = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            outcome = build(args.root, out, force=True, log=quiet)
            runs.append({**outcome.timings, "total": time.perf_counter() - started})
        started = time.perf_counter()
        again = build(args.root, out, log=quiet)
        unchanged = time.perf_counter() - started
        fresh = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "build.py"), "--force", "-q", "--root", str(args.root),
                            "--out", str(out)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            fresh.append(time.perf_counter() - started)
    print(f"warm build.py --force, median of {args.repeats} (seconds):")
    for stage in (*STAGES, "total"):
        values = [r.get(stage, 0.0) for r in runs]
        print(f"  {stage:11} {statistics.median(values):7.2f}")
    print(f"second build with nothing changed: {unchanged:.3f} s (skipped: {again.skipped})")
    print(f"fresh build.py --force, median of {args.repeats}: {statistics.median(fresh):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
