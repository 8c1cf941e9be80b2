"""Experiment failures the harness tests do not already cover: a worker SIGKILLed (as the OOM
killer does), and the suite itself killed or interrupted mid-run with real earlier results in
place. In each case no half-written results file is left and previous results stay byte-identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from experiments.harness.progress import PlainProgress
from experiments.harness.runner import RunOptions, run_experiment, select_experiments
from report.errors import Problems
from support import parse_results_text

ROOT = Path(__file__).resolve().parents[2]

MODULE = '''
import os, signal, time
from experiments.harness import Measurement, Metric, Task

NAME = "robust"
TITLE = "Robustness fake"
IMPORTS_FRAMEWORKS = False


def tasks(quick):
    models = os.environ.get("ROBUST_MODELS", "good,oomkilled,raises").split(",")
    return [Task(framework="pytorch", mode="eager", model=m, threads=1, timeout_s=30,
                 metrics=(Metric("latency", "ms"),)) for m in models]


def run(task, ctx):
    marker = os.environ.get("ROBUST_MARKER")
    if task.model == "oomkilled":
        os.kill(os.getpid(), signal.SIGKILL)
    if task.model == "raises":
        raise MemoryError("simulated allocation failure")
    if task.model == "slow":
        if marker:
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
        time.sleep(60)
    return [Measurement(Metric("latency", "ms"), [1.0, 2.0, 3.0])]
'''


class Quiet(PlainProgress):
    def message(self, text: str) -> None:
        pass


@pytest.fixture
def package(tmp_path, monkeypatch):
    name = f"robustexp_{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "robust.py").write_text(MODULE)
    return name, tmp_path


def run_inprocess(package, out, models, monkeypatch):
    name, path = package
    monkeypatch.setenv("ROBUST_MODELS", models)
    (exp,) = select_experiments(["robust"], name, path)
    return run_experiment(exp, RunOptions(quick=True, out_dir=out, force=True), Quiet())


def test_sigkilled_worker_is_recorded_and_file_is_valid(package, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run_inprocess(package, out, "good,oomkilled,raises", monkeypatch) == "written"
    assert [p.name for p in out.iterdir()] == ["robust.json"]
    text = (out / "robust.json").read_text()
    problems = Problems()
    doc = parse_results_text(text, "robust.json", problems)
    assert problems.errors == [] and doc is not None
    by_model = {c["model"]: c for c in doc["cases"]}
    assert by_model["good"]["status"] == "ok"
    assert by_model["oomkilled"]["status"] == "failed"
    assert by_model["oomkilled"]["error"] == "worker killed by SIGKILL"
    assert by_model["raises"]["error"] == "MemoryError: simulated allocation failure"


def start_suite(package, out, marker):
    name, path = package
    env = {**os.environ, "ROBUST_MODELS": "slow", "ROBUST_MARKER": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "experiments", "robust", "--quick", "--force", "--out", str(out),
         "--package", name, "--path", str(path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return proc, int(marker.read_text())


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_suite_killed_midway_keeps_real_previous_results(package, tmp_path, monkeypatch, sig):
    out = tmp_path / "out"
    run_inprocess(package, out, "good", monkeypatch)  # real, valid earlier results
    previous = (out / "robust.json").read_bytes()
    proc, worker = start_suite(package, out, tmp_path / "worker.pid")
    try:
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        if sig == signal.SIGINT:
            assert proc.returncode == 130 and "Traceback" not in err.decode()
            time.sleep(0.3)
            assert not alive(worker), "worker outlived an interrupted suite"
        else:
            assert proc.returncode == -signal.SIGKILL
    finally:
        if alive(worker):  # a SIGKILLed parent cannot clean up; its worker is orphaned
            os.kill(worker, signal.SIGKILL)
    assert (out / "robust.json").read_bytes() == previous
    assert sorted(p.name for p in out.iterdir()) == ["robust.json"], "temporary file left behind"
