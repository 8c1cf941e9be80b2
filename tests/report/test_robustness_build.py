"""An interrupted build (Ctrl-C or SIGKILL mid-render, or mid-write) leaves the previous dist/
byte-for-byte intact with no temporary files; `check` writes nothing and is fast."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from support import REPO, run_build, snapshot

# Runs the real CLI with one stage slowed down, announcing when it got there.
WRAPPER = r'''
import sys, time
sys.path.insert(0, {repo!r})
import report.pdf, report.pdf_worker, results_contract.files, report.pipeline
stage, marker = sys.argv[1], sys.argv[2]

def announce(text="x"):
    open(marker, "w").write(text)
    time.sleep(60)

if stage in ("render", "render_in_process"):
    # the real PDF render happens (in process or in the PDF worker), then we stall before writing
    real = report.pdf.render_pdf
    def slow(*a, **k):
        out = real(*a, **k)
        announce()
        return out
    report.pdf.render_pdf = slow
    real_worker = report.pdf_worker.PdfWorker.render
    def slow_worker(self, *a, **k):
        out = real_worker(self, *a, **k)
        announce()
        return out
    report.pdf_worker.PdfWorker.render = slow_worker
elif stage == "worker":
    # stall while the PDF worker waits for the page, announcing its process id
    def stall(self, *a, **k):
        announce(str(self._process.pid))
    report.pdf_worker.PdfWorker.render = stall
elif stage == "write":
    real_stage = results_contract.files._stage
    calls = []
    def slow_stage(path, data):
        # stall inside the first staged write, after its temporary file exists
        tmp = real_stage(path, data[: len(data) // 2])
        try:
            if not calls:
                calls.append(path)
                announce()
        finally:
            os.unlink(tmp)
        return real_stage(path, data)
    import os
    results_contract.files._stage = slow_stage
from cli import main
sys.exit(main(sys.argv[3:]))
'''


@pytest.fixture
def built(project):
    result = run_build(project)
    assert result.returncode == 0, result.stderr
    tpl = project / "templates" / "paper.html.j2"
    tpl.write_text(tpl.read_text().replace("Introduction", "Introduction, revised"))  # inputs changed
    return project


@pytest.mark.parametrize("stage,sig", [("render", signal.SIGINT), ("render", signal.SIGKILL),
                                       ("write", signal.SIGINT), ("worker", signal.SIGINT),
                                       ("render_in_process", signal.SIGINT)])
def test_interrupted_build_keeps_previous_dist(built, tmp_path, stage, sig):
    if stage == "worker" and (os.cpu_count() or 1) < 2:
        pytest.skip("build.py starts the PDF worker only on a machine with a second core")
    before = snapshot(built / "dist")
    assert any(name.endswith(".pdf") for name in before)
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER.format(repo=str(REPO)))
    marker = tmp_path / "marker"
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    if stage == "render_in_process":
        env["PAPER_PDF_WORKER"] = "0"
    proc = subprocess.Popen([sys.executable, str(wrapper), stage, str(marker), "--root", str(built), "-q"],
                            cwd=built, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        assert marker.exists(), "the build never reached the slowed stage"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert err.strip() == "interrupted; previous outputs were left untouched"
    if stage.startswith("render") or sig == signal.SIGINT:
        assert snapshot(built / "dist") == before
    if stage == "worker":  # the interrupted build stopped its PDF worker
        worker_pid = int(marker.read_text())
        assert _gone(worker_pid), f"PDF worker {worker_pid} outlived the interrupted build"
    # a later build still works and replaces the files
    result = run_build(built, "-q")
    assert result.returncode == 0, result.stderr
    assert snapshot(built / "dist") != before
    assert not [p for p in (built / "dist").iterdir() if p.name.endswith(".tmp")]


def _gone(pid: int, wait_s: float = 10.0) -> bool:
    """Whether process ``pid`` has exited (a zombie, exited but not yet reaped, counts)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_check_writes_nothing_and_is_fast(project):
    started = time.perf_counter()
    result = run_build(project, "check")
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("check passed with 0 warning(s)")
    assert not (project / "dist").exists()
    assert elapsed < 5, f"check took {elapsed:.1f} s"


def test_noisy_measurements_are_a_note_even_with_strict(project):
    """Wide process-level CIs are a fact about the machine, not an author error: reported, not fatal."""
    import json

    path = project / "results" / "fixture-host" / "latency.json"
    doc = json.loads(path.read_text())
    doc["cases"][0]["noisy"] = True
    path.write_text(json.dumps(doc))
    for extra in ((), ("--strict",)):
        result = run_build(project, "check", *extra)
        notes = [l for l in result.stderr.splitlines() if l.startswith("note: ")]
        assert result.returncode == 0, result.stderr
        assert notes == [n for n in notes if "cases are noisy" in n] and len(notes) == 1
        assert notes[0].startswith("note: results/fixture-host/latency.json: 1 of ")
        assert "error:" not in result.stderr
