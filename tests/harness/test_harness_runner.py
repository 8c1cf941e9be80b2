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
