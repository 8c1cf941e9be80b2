"""``build.py experiments --scheduler``: a real Dask scheduler and two workers on localhost stand
in for two hosts; one of them dies mid-run. The survivor's results are kept, the lost host's
remaining cases are recorded as failed with the reason, and the paper merges both hosts."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import FIXTURES, REPO, make_project, run_build

from results_contract import load

pytest.importorskip("distributed")

FAKE = ["--package", "fake_experiments", "--path", str(FIXTURES)]
DASK = str(Path(sys.executable).with_name("dask"))  # the CLI the README tells users to run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(FIXTURES)]), **env}
    return subprocess.Popen(args, cwd=REPO, env=environ, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _workers(address: str) -> set[str]:
    from distributed import Client

    with Client(address, timeout="10s") as client:
        return {str(w.get("name")) for w in client.scheduler_info()["workers"].values()}


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.mark.slow
def test_two_hosts_one_dies_mid_run(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                    tmp_path / "scheduler.log")]
    marker = tmp_path / "hang.pid"
    try:
        _wait_for(lambda: _reachable(port), "the scheduler")
        worker = [DASK, "worker", address, "--nthreads", "1", "--resources", "bench=1", "--no-dashboard",
                  "--name"]
        procs.append(_start([*worker, "host-a"], tmp_path / "host-a.log"))
        doomed = _start([*worker, "host-b"], tmp_path / "host-b.log", FAKE_HANG_MARKER=str(marker))
        procs.append(doomed)
        _wait_for(lambda: _workers(address) == {"host-a", "host-b"}, "two workers")

        out = tmp_path / "results"
        client = subprocess.Popen([sys.executable, str(REPO / "build.py"), "experiments", "latency", "fake_ok",
                                   "--quick", "--force", "--scheduler", address, "--out", str(out), *FAKE],
                                  cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: marker.exists() and marker.read_text(), "host-b to start its hanging task")
        hung_pid = int(marker.read_text())
        _kill_group(doomed)  # the host dies: its worker and the benchmark it was running
        try:
            os.kill(hung_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = client.communicate(timeout=180)
        # A lost host makes the run fail, in one line that names it; the results are still written.
        assert client.returncode == 1, stderr
        assert stderr.strip().count("\n") == 0 and "host-b/latency (failed (host lost))" in stderr
        # Re-running resumes from the per-host cache: the surviving host runs nothing again.
        again = subprocess.run([sys.executable, str(REPO / "build.py"), "experiments", "latency", "fake_ok",
                                "--quick", "--scheduler", address, "--out", str(out), *FAKE],
                               cwd=REPO, capture_output=True, text=True, timeout=180)
    finally:
        for proc in procs:
            _kill_group(proc)
    assert again.returncode == 0, again.stderr
    assert "[host-a] 1/2 experiments: latency cached" in again.stdout
    assert "[host-a] 2/2 experiments: fake_ok cached" in again.stdout and "[host-b]" not in again.stdout

    # Progress is reported per host.
    assert "[host-a]" in stdout and "[host-b]" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["host-a", "host-b"]

    # The surviving host's results are complete and valid.
    for name in ("latency", "fake_ok"):
        survivor = load(out / "host-a" / f"{name}.json")
        assert survivor.environment["host"] == "host-a"
        assert survivor.cases and all(c.status in ("ok", "unsupported") for c in survivor.cases)
    # The lost host's remaining cases are failed, with the reason, in a valid results file.
    lost = load(out / "host-b" / "latency.json")
    assert lost.cases and all(c.status == "failed" for c in lost.cases)
    assert all("host-b" in c.error for c in lost.cases)
    assert lost.environment["host"] == "host-b"

    # The paper merges both hosts: every host is loaded and validated, the primary one is reported.
    project = make_project(tmp_path / "project")
    for host in ("host-a", "host-b"):
        (project / "results" / host).mkdir()
        shutil.copy(out / host / "latency.json", project / "results" / host / "latency.json")
    with (project / "pyproject.toml").open("a") as f:
        f.write('primary_host = "host-a"\n')
    paper = project / "templates" / "paper.html.j2"
    paper.write_text(paper.read_text().replace(
        "{% endblock %}", '{% for h in hosts() %}<p class="host">{{ h.label }} {{ h.primary }}</p>{% endfor %}'
        "{% endblock %}"))
    built = run_build(project, "report", "--no-pdf")
    assert built.returncode == 0, built.stderr
    html = next((project / "dist").glob("*.html")).read_text(encoding="utf-8")
    assert '<p class="host">host-a True</p>' in html
    assert '<p class="host">host-b False</p>' in html and '<p class="host">fixture-host False</p>' in html


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
