"""The command line: listing, unknown names, and interruption leaving old results intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import FIXTURES

from cli import main

ROOT = Path(__file__).resolve().parents[2]
FAKE = ["--package", "fake_experiments", "--path", str(FIXTURES)]


def experiments(*args: str) -> int:
    return main(["experiments", *args])


def test_list(capsys):
    assert experiments("--list", *FAKE) == 0
    out = capsys.readouterr().out
    assert "fake_ok" in out and "fake_faults" in out


def test_unknown_name_is_one_line_and_exit_2(capsys):
    assert experiments("nope", *FAKE) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown experiment 'nope'" in err and "fake_ok" in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_previous_results_and_exits_130(tmp_path, sig):
    out = tmp_path / "out"
    out.mkdir()
    previous = b'{"previous": "results"}\n'
    (out / "fake_slow.json").write_bytes(previous)
    marker = tmp_path / "worker.pid"
    env = {**os.environ, "FAKE_SLOW_MARKER": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "experiments", "fake_slow", "--quick", "--force",
         "--out", str(out), *FAKE], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker_pid = int(marker.read_text())
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode().strip().count("\n") == 0 and "interrupted" in err.decode()
    assert (out / "fake_slow.json").read_bytes() == previous
    assert [p.name for p in out.iterdir()] == ["fake_slow.json"]
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)
