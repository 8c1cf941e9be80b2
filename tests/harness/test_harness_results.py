"""Atomic, validated results writing and the environment record."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from experiments.harness import environment
from results_contract import ResultsError, dump
from results_contract.files import atomic_write
from results_contract.schema import ENVIRONMENT_SCHEMA

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("broken", ["fsync", "replace"])
def test_crash_mid_write_keeps_old_file_and_no_temp(tmp_path, monkeypatch, broken):
    path = tmp_path / "x.json"
    path.write_text("old\n")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, broken, boom)
    with pytest.raises(OSError):
        atomic_write(path, b"new\n" * 1000)
    monkeypatch.undo()
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_write_replaces_and_invalid_document_is_refused(tmp_path):
    path = tmp_path / "x.json"
    atomic_write(path, b"new\n")
    assert path.read_text() == "new\n"
    with pytest.raises(ResultsError, match="schema_version|required"):
        dump({"experiment": "x"}, path)
    assert path.read_text() == "new\n"


def test_environment_record_matches_schema():
    env = environment.collect(started_at=environment.now_utc(), cwd=ROOT)
    jsonschema.validate(env, ENVIRONMENT_SCHEMA)
    assert set(environment.PACKAGES) <= set(env["packages"])
    assert env["started_at"].endswith("Z")


def test_host_label_tells_apart_vms_whose_cpus_share_a_model_name(monkeypatch):
    """Two VMs cloned from one image share machine id, host name and MAC, and a cloud CPU's
    model name can be just "AMD EPYC": the signature and flags must still give two labels."""
    def cpuinfo(family, flags):
        return lambda: [{"model name": "AMD EPYC", "vendor_id": "AuthenticAMD", "cpu family": family,
                         "model": "1", "stepping": "1", "flags": flags}]
    labels = {}
    for name, family, flags in [("zen3", "25", "fpu avx2 fma"), ("zen5", "26", "fpu avx2 fma avx512f"),
                                ("zen5-again", "26", "avx512f fma fpu avx2")]:
        monkeypatch.setattr(environment, "_cpuinfo", cpuinfo(family, flags))
        labels[name] = environment.host_label()
        if name == "zen5":
            assert environment.cpu_signature() == "AuthenticAMD 26/1/1"
            assert environment.cpu_details()["cpu_signature"] == "AuthenticAMD 26/1/1"
    assert labels["zen3"] != labels["zen5"] == labels["zen5-again"]  # flag order does not matter
    assert all(label.startswith("amd-epyc-") for label in labels.values())
    monkeypatch.setattr(environment, "_cpuinfo", lambda: [])
    assert environment.cpu_signature() is None


def test_parent_side_never_imports_a_framework():
    code = ("import sys; import cli, experiments.harness.commands, experiments.harness.runner; "
            "from experiments.harness import environment; "
            "environment.collect(started_at='t'); environment.fingerprint(); "
            "bad = [m for m in ('torch', 'tensorflow') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_own_results_do_not_make_the_tree_dirty(tmp_path):
    import subprocess

    from experiments.harness.environment import git_state

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "a.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "init")
    (tmp_path / "results" / "a.json").write_text('{"new": 1}')
    (tmp_path / "results" / "b.json").write_text("{}")
    assert git_state(tmp_path)[1] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path)[1] is True
