"""The per-process record of how busy the rest of the machine was (``runs[i].load``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import jsonschema
import pytest

from support import FIXTURES

from experiments.harness.machine_load import LoadMeter
from experiments.harness.progress import PlainProgress
from experiments.harness.runner import RunOptions, run_experiment, select_experiments
from results_contract.schema import RESULTS_SCHEMA

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")

SPIN = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"


def test_another_busy_process_is_counted_and_our_own_work_is_not():
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        time.sleep(0.3)  # the spinner is running
        meter = LoadMeter.start()
        time.sleep(1.0)  # we idle while it spins: about one other core busy
        busy = meter.stop()
    finally:
        spinner.kill()
        spinner.wait()
    assert busy["other_cpu_cores"] is not None and busy["other_cpu_cores"] > 0.6, busy
    assert busy["steal_cores"] is not None and busy["steal_cores"] >= 0

    meter = LoadMeter.start()
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:  # our own work is not "other"
        pass
    own = meter.stop()
    assert own["other_cpu_cores"] < busy["other_cpu_cores"] - 0.4, (own, busy)


def test_a_task_shorter_than_the_accounting_resolution_records_no_load():
    from experiments.harness.machine_load import MIN_WALL_S

    meter = LoadMeter.start()
    short = meter.stop()   # microseconds: one 10-ms tick would read as hundreds of cores
    assert short == {"other_cpu_cores": None, "steal_cores": None}
    meter = LoadMeter.start()
    time.sleep(MIN_WALL_S + 0.05)
    assert meter.stop()["other_cpu_cores"] is not None


class Quiet(PlainProgress):
    def message(self, text: str) -> None:
        pass


def _fake_ok_runs(tmp_path) -> list[dict]:
    (exp,) = select_experiments(["fake_ok"], "fake_experiments", FIXTURES)
    assert run_experiment(exp, RunOptions(quick=True, out_dir=tmp_path, force=True), Quiet()) == "written"
    doc = json.loads((tmp_path / "fake_ok.json").read_text())
    jsonschema.validate(doc, RESULTS_SCHEMA)
    return [run for case in doc["cases"] if case["status"] == "ok" for run in case["runs"]]


def test_every_run_carries_its_process_load(tmp_path, monkeypatch):
    from experiments.harness.machine_load import MIN_WALL_S

    monkeypatch.setenv("FAKE_OK_SLEEP", str(MIN_WALL_S + 0.05))  # the workers inherit it
    runs = _fake_ok_runs(tmp_path)
    assert runs and all(set(run["load"]) == {"other_cpu_cores", "steal_cores"} for run in runs)
    assert all(run["load"]["other_cpu_cores"] >= 0 for run in runs)


def test_schema_refuses_a_malformed_load():
    from results_contract.schema import RUN_SCHEMA

    good = {"samples": [1.0], "median": 1.0, "n": 1, "load": {"other_cpu_cores": 0.1, "steal_cores": None}}
    jsonschema.validate(good, RUN_SCHEMA)
    for bad in ({"other_cpu_cores": -1}, {"other_cpu_cores": "busy"}, {"cores": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, "load": bad}, RUN_SCHEMA)


def test_paper_helper_counts_disturbed_runs(tmp_path):
    """``machine_load()`` counts the primary host's timed runs whose process was disturbed."""
    import copy

    from report.document import DocumentState
    from report.errors import Problems
    from report.helpers import Helpers, Sources
    from report.results import load_results
    from results_contract import dump
    from results_contract.vocabulary import BUSY_OTHER_CORES
    from support import FIXTURE

    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    doc = copy.deepcopy(base)
    case = doc["cases"][0]
    loads = [(0.0, 0.01), (0.05, 0.02), (BUSY_OTHER_CORES + 0.5, 0.2), (None, None)]
    case["runs"] = [{"process": i, "samples": [1.0], "median": 1.0, "n": 1,
                     "load": {"other_cpu_cores": o, "steal_cores": s}} for i, (o, s) in enumerate(loads)]
    doc["cases"] = [case]
    dump(doc, tmp_path / "results" / "host" / "latency.json")
    problems = Problems()
    helpers = Helpers(Sources(tmp_path, load_results(tmp_path / "results", problems, tmp_path), bib=None),
                      problems, DocumentState())
    assert not problems.errors
    got = helpers.machine_load()
    assert got["runs"] == 3 and got["busy"] == 1 and got["threshold"] == BUSY_OTHER_CORES
    assert got["max_other"] == BUSY_OTHER_CORES + 0.5
    assert got["median_steal"] == 0.02 and got["max_steal"] == 0.2


def test_build_notes_a_run_disturbed_by_other_processes(project):
    """An author sees, in the build log, that a run was measured on a busy machine."""
    from support import run_build

    path = project / "results" / "fixture-host" / "latency.json"
    doc = json.loads(path.read_text())
    case = next(c for c in doc["cases"] if c.get("runs") and not c.get("deterministic"))
    case["runs"][0]["load"] = {"other_cpu_cores": 0.9, "steal_cores": 0.0}
    path.write_text(json.dumps(doc, indent=1))
    result = run_build(project, "--no-pdf")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "were measured while other processes" in line]
    assert len(notes) == 1, result.stderr
    assert "latency.json: 1 process run(s)" in notes[0] and "0.9 cores" in notes[0]
    assert "re-run that experiment on an idle machine" in notes[0]
