"""The runner on fake experiments: failures are recorded per task, the cache skips, the
output validates. The fake modules do pure-python work, so no framework is imported."""

from __future__ import annotations

import json
import shutil
import uuid

import jsonschema
import pytest

from support import FIXTURES

from experiments.harness.progress import PlainProgress
from experiments.harness.runner import RunOptions, run_experiment, select_experiments
from results_contract.schema import RESULTS_SCHEMA



class Quiet(PlainProgress):
    def message(self, text: str) -> None:
        self.lines = getattr(self, "lines", []) + [text]


def run(name, out, package="fake_experiments", path=FIXTURES, **opts):
    (exp,) = select_experiments([name], package, path)
    status = run_experiment(exp, RunOptions(quick=True, out_dir=out, **opts), Quiet())
    return status, out / f"{name}.json"


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    status, path = run("fake_faults", tmp_path_factory.mktemp("faults"))
    assert status == "written"
    return json.loads(path.read_text())


def by_model(doc, model, metric="latency"):
    (case,) = [c for c in doc["cases"] if c["model"] == model and c["metric"] == metric]
    return case


def test_failures_are_recorded_with_reasons(faults):
    assert by_model(faults, "raises")["status"] == "failed"
    assert by_model(faults, "raises")["error"] == "ValueError: bad shape (3, 4)"
    assert by_model(faults, "hangs")["error"] == "timed out after 1 s"
    assert by_model(faults, "segfaults")["error"] == "worker killed by SIGSEGV"
    assert by_model(faults, "forgets", "memory")["error"] == "not reported"


def test_other_tasks_still_ok(faults):
    assert by_model(faults, "forgets")["status"] == "ok"
    ok = [c for c in faults["cases"] if c["status"] == "ok"]
    assert {(c["framework"], c["model"]) for c in ok} == {
        ("pytorch", "good"), ("pytorch", "forgets"), ("tensorflow", "good")}
    assert all([r["samples"] for r in c["runs"]] == [[1.0, 2.0, 3.0]] and c["median"] == 2.0 for c in ok)


def test_output_validates_and_ids_are_unique(faults):
    jsonschema.validate(faults, RESULTS_SCHEMA)
    ids = [c["id"] for c in faults["cases"]]
    assert len(ids) == len(set(ids)) == 7
    assert "pytorch/eager/good/latency/threads=1" in ids
    assert faults["module"] == "fake_experiments/fake_faults.py"


def test_ok_experiment_cases(tmp_path):
    _, path = run("fake_ok", tmp_path)
    doc = json.loads(path.read_text())
    jsonschema.validate(doc, RESULTS_SCHEMA)
    cases = {c["id"]: c for c in doc["cases"]}
    assert cases["onnxruntime/session/sum/latency/n=100,threads=2"]["status"] == "unsupported"
    size = cases["pytorch/eager/sum/size/n=100,threads=1"]
    assert size["runs"][0]["samples"] == [1234.0] and size["extra"] == {"threads": 1}
    assert size["deterministic"] is True and size["ci95"] is None
    assert 1 <= cases["tensorflow/graph/sum/latency/n=100,threads=1"]["n"] <= 3


def test_cache_skips_unchanged_and_reruns_on_force_or_change(tmp_path):
    package = f"fakecache_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    source = tmp_path / package / "fake_ok.py"
    shutil.copy(FIXTURES / "fake_experiments" / "fake_ok.py", source)
    out = tmp_path / "out"
    assert run("fake_ok", out, package, tmp_path)[0] == "written"
    first = (out / "fake_ok.json").read_bytes()
    assert run("fake_ok", out, package, tmp_path)[0] == "cached"
    assert (out / "fake_ok.json").read_bytes() == first
    assert run("fake_ok", out, package, tmp_path, force=True)[0] == "written"
    key = json.loads((out / "fake_ok.json").read_text())["cache_key"]
    source.write_text(source.read_text() + "\n# changed\n")
    assert run("fake_ok", out, package, tmp_path)[0] == "written"
    assert json.loads((out / "fake_ok.json").read_text())["cache_key"] != key


def test_experiments_run_together_share_one_worker_per_group_and_round(tmp_path):
    """run_suite starts one worker per (framework, threads, env) group and round for all the
    experiments it runs (TensorFlow takes seconds to import), and still writes one file each."""
    from experiments.harness.runner import run_suite
    from results_contract import load

    exps = select_experiments(["fake_ok", "latency"], "fake_experiments", FIXTURES)
    statuses = run_suite(exps, RunOptions(quick=True, out_dir=tmp_path, force=True), Quiet())
    assert statuses == {"fake_ok": "written", "latency": "written"}
    pids = {}
    for name in ("fake_ok", "latency"):
        for case in load(tmp_path / f"{name}.json").cases:
            if case.metric == "latency" and case.ok:
                pids.setdefault((case.framework, case.params.get("threads", 1)), set()).add(case.extra["pid"])
    assert pids and all(len(p) == 1 for p in pids.values()), pids  # both experiments, one worker
    assert len({next(iter(p)) for p in pids.values()}) == len(pids)  # one worker per group


# --- quick runs with worker groups side by side (--jobs) -----------------------------------------

def _statuses(doc):
    return {c["id"]: (c["status"], c.get("error")) for c in doc["cases"]}


def test_side_by_side_groups_record_the_same_outcomes(faults, tmp_path):
    """Two groups at once (threads) give every case the outcome a one-at-a-time run gives,
    hangs, crashes and exceptions included, and say so in the parameters."""
    status, path = run("fake_faults", tmp_path, jobs=2)
    assert status == "written"
    doc = json.loads(path.read_text())
    assert _statuses(doc) == _statuses(faults)
    assert doc["parameters"]["parallel_worker_groups"] == 2
    assert "parallel_worker_groups" not in faults["parameters"]


def _children_of(pid: int) -> list[int]:
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_interrupt_with_side_by_side_groups_kills_every_worker(tmp_path):
    """Ctrl-C while two groups run: the interrupt propagates at once and no worker survives."""
    import os
    import threading
    import time

    from experiments.harness.runner import run_suite

    class InterruptOnStart(Quiet):
        def start_task(self, description: str) -> None:
            self.started = getattr(self, "started", 0) + 1
            if self.started == 2:  # both groups' workers are busy
                raise KeyboardInterrupt

    exps = select_experiments(["fake_slow", "fake_ok"], "fake_experiments", FIXTURES)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_suite(exps, RunOptions(quick=True, out_dir=tmp_path, force=True, jobs=2), InterruptOnStart())
    assert time.monotonic() - started < 30  # fake_slow sleeps 60 s: its worker was killed
    assert not [t for t in threading.enumerate() if t.name.startswith("group")]  # the runner's threads
    assert _children_of(os.getpid()) == []
    assert not list(tmp_path.glob("*.json"))  # nothing half-written


def test_jobs_are_for_quick_runs_only():
    from experiments.harness.commands import worker_jobs
    from experiments.harness.errors import HarnessError

    assert worker_jobs(False, None) == 1
    assert worker_jobs(False, 1) == 1
    with pytest.raises(HarnessError, match="only with --quick"):
        worker_jobs(False, 2)
    with pytest.raises(HarnessError, match="at least 1"):
        worker_jobs(True, 0)
    assert worker_jobs(True, 3) == 3
    assert 1 <= worker_jobs(True, None) <= 2
