"""Pooling repeated runs of an experiment into more processes per case (``build.py pool``)."""

from __future__ import annotations

import copy
import json
import statistics
import subprocess
import sys

import pytest
from support import FIXTURE, REPO

from results_contract import UserError, dump, load
from results_contract.pool import pool

BASE = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())


def run_doc(commit: str, started: str, scale: float = 1.0, steal: float = 0.0) -> dict:
    """A full run of the fixture experiment whose process medians are multiplied by ``scale``."""
    doc = copy.deepcopy(BASE)
    doc.update(quick=False, cache_key="same-code", parameters={"processes": 3, "seed": 0})
    doc["environment"].update(git_commit=commit, started_at=started, finished_at=started.replace("T0", "T1"),
                              git_dirty=False)
    for case in doc["cases"]:
        case["runs"] = [{"process": i, "samples": [v * scale, v * scale * 1.01], "median": v * scale * 1.005, "n": 2,
                         "load": {"other_cpu_cores": 0.0, "steal_cores": steal}}
                        for i, v in enumerate((1.0, 1.1, 1.2))]
        case["processes"] = 3
    return doc


def test_pooled_cases_hold_every_runs_processes_and_their_statistics():
    a, b = run_doc("aaa", "2026-01-01T05:00:00Z"), run_doc("bbb", "2026-01-02T05:00:00Z", scale=2.0, steal=0.3)
    out = pool([a, b], ["a.json", "b.json"])
    case = out["cases"][0]
    assert case["processes"] == 6 and [r["process"] for r in case["runs"]] == list(range(6))
    medians = [r["median"] for r in case["runs"]]
    assert case["median"] == pytest.approx(statistics.median(medians))
    assert case["ci95"][0] <= case["median"] <= case["ci95"][1]
    assert [r["load"]["steal_cores"] for r in case["runs"]] == [0.0] * 3 + [0.3] * 3
    assert out["parameters"]["processes"] == 6
    assert [s["git_commit"] for s in out["parameters"]["pooled_from"]] == ["aaa", "bbb"]
    assert out["environment"]["started_at"] == "2026-01-01T05:00:00Z"
    assert out["environment"]["git_commit"] == "aaa"


def test_pooled_document_is_a_valid_results_file(tmp_path):
    out = pool([run_doc("aaa", "2026-01-01T05:00:00Z"), run_doc("bbb", "2026-01-02T05:00:00Z")], ["a", "b"])
    dump(out, tmp_path / "latency.json")
    loaded = load(tmp_path / "latency.json")
    assert all(c.processes == 6 for c in loaded.cases)


def test_pooling_is_associative():
    a, b, c = (run_doc(x, f"2026-01-0{i}T05:00:00Z") for i, x in enumerate("abc", 1))
    once = pool([pool([a, b], ["a", "b"]), c], ["ab", "c"])
    assert once["parameters"]["processes"] == 9
    assert [s["git_commit"] for s in once["parameters"]["pooled_from"]] == ["a", "b", "c"]
    assert once["cases"][0]["processes"] == 9


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(cache_key="other-code"), "cache_key differs"),
    (lambda d: d["environment"].update(cpu_model="Another CPU"), "environment.cpu_model differs"),
    (lambda d: d["cases"].pop(), "its cases differ"),
    (lambda d: d.update(quick=True), "quick differs"),
    (lambda d: d.update(upgraded_from=1), "version-1"),
    # seeded replicates (time to accuracy): a second run repeats the first run's seeds
    (lambda d: d["cases"][0].update(extra={"seed": 0}), "repeat a.json's processes"),
])
def test_runs_that_did_not_measure_the_same_thing_are_refused(change, words):
    a, b = run_doc("aaa", "2026-01-01T05:00:00Z"), run_doc("bbb", "2026-01-02T05:00:00Z")
    change(b)
    with pytest.raises(UserError) as err:
        pool([a, b], ["a.json", "b.json"])
    assert words in str(err.value) and "b.json" in str(err.value) and "\n" not in str(err.value)


def test_a_deterministic_case_keeps_its_single_measurement():
    a, b = run_doc("aaa", "2026-01-01T05:00:00Z"), run_doc("bbb", "2026-01-02T05:00:00Z", scale=3.0)
    for doc in (a, b):
        doc["cases"][0].update(deterministic=True, ci95=None)
        doc["cases"][0]["runs"] = doc["cases"][0]["runs"][:1]
    out = pool([a, b], ["a", "b"])
    assert out["cases"][0]["median"] == a["cases"][0]["median"]
    assert out["cases"][0]["ci95"] is None and len(out["cases"][0]["runs"]) == 1


def test_a_case_failed_in_any_run_is_failed_and_keeps_the_processes_that_measured():
    a, b = run_doc("aaa", "2026-01-01T05:00:00Z"), run_doc("bbb", "2026-01-02T05:00:00Z")
    b["cases"][0].update(status="failed", error="RuntimeError: boom", runs=[], median=None, ci95=None,
                         processes=0)
    out = pool([a, b], ["a", "b"])
    assert out["cases"][0]["status"] == "failed" and out["cases"][0]["error"] == "RuntimeError: boom"
    assert out["cases"][0]["processes"] == 3


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build.py"), "pool", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_cli_pools_folders_and_writes_one_file_per_experiment(tmp_path):
    for name, doc in (("one", run_doc("aaa", "2026-01-01T05:00:00Z")), ("two", run_doc("bbb", "2026-01-02T05:00:00Z"))):
        dump(doc, tmp_path / name / "latency.json")
    result = _cli(str(tmp_path / "one"), str(tmp_path / "two"), "--out", str(tmp_path / "pooled"))
    assert result.returncode == 0, result.stderr
    assert "latency: 6 processes per case from 2 runs" in result.stdout
    assert all(c.processes == 6 for c in load(tmp_path / "pooled" / "latency.json").cases)


def test_cli_refuses_with_one_line_and_writes_nothing(tmp_path):
    other = run_doc("bbb", "2026-01-02T05:00:00Z")
    other["cache_key"] = "changed-code"
    dump(run_doc("aaa", "2026-01-01T05:00:00Z"), tmp_path / "one" / "latency.json")
    dump(other, tmp_path / "two" / "latency.json")
    result = _cli(str(tmp_path / "one"), str(tmp_path / "two"), "--out", str(tmp_path / "pooled"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cache_key differs" in result.stderr
    assert not (tmp_path / "pooled").exists()
    missing = _cli(str(tmp_path / "nope"), str(tmp_path / "two"), "--out", str(tmp_path / "pooled"))
    assert missing.returncode == 1 and "not a results folder" in missing.stderr
