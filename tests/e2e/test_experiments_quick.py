"""Every real experiment, run end to end through the CLI in --quick mode, writes results that the
report accepts. This is the CI smoke test of the whole measurement pipeline."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from support import REPO
from report.errors import Problems
from report.results import load_results

pytestmark = [pytest.mark.slow, pytest.mark.frameworks]

pytest.importorskip("torch")
pytest.importorskip("tensorflow")


def known_experiments() -> list[str]:
    out = subprocess.run([sys.executable, str(REPO / "build.py"), "experiments", "--list"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and not line.startswith(" ")]


def test_quick_suite_end_to_end(tmp_path):
    names = known_experiments()
    assert {"inference", "training", "deployment", "cold_start", "memory", "parity", "gemm",
            "keras_backends", "usability", "time_to_accuracy", "harness_accuracy"} <= set(names)
    started = time.perf_counter()
    run = subprocess.run([sys.executable, str(REPO / "build.py"), "experiments", "--quick", "--force",
                          "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=1200)
    elapsed = time.perf_counter() - started
    print(f"quick suite: {elapsed:.0f} s for {len(names)} experiments")  # budget: 3 minutes (a benchmark, not asserted)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    # Quick results go to build/results-quick/<host>/; with --out DIR the host folder is DIR itself.
    problems = Problems()
    results = load_results(tmp_path, problems, tmp_path)
    assert problems.errors == []
    assert sorted(results.files) == sorted(names)
    for name, rf in results.files.items():
        assert rf.quick is True and rf.cases, name
        for case in rf.cases:
            if not case.ok:  # a failure is recorded with its reason, never silently dropped
                assert case.error, case.id
    # A second run with nothing changed is served from the cache.
    again = subprocess.run([sys.executable, str(REPO / "build.py"), "experiments", "--quick",
                            "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count("cached") >= len(names), again.stdout
