"""The results contract: version-1 files upgrade to version 2 without a made-up interval, and the
metric registry decides which metrics are deterministic (measured once, no CI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from results_contract import ResultsError, dump, load, parse
from results_contract.schema import SCHEMA_VERSION
from results_contract.stats import summarize
from results_contract.vocabulary import METRICS, is_deterministic

REPO = Path(__file__).resolve().parents[2]
V1 = REPO / "results" / "intel-xeon-c3e960" / "inference.json"


def _v1_document() -> dict:
    case = {"id": "pytorch/eager/mlp/latency/batch_size=1", "framework": "pytorch", "mode": "eager", "model": "mlp",
            "metric": "latency", "unit": "ms", "better": "lower", "params": {"batch_size": 1}, "status": "ok",
            "error": None, "samples": [1.0, 1.1, 0.9, 1.0], "n": 4, "median": 1.0, "ci95": [0.98, 1.02],
            "p90": 1.1, "p99": 1.1, "mean": 1.0, "stdev": 0.08, "noisy": False}
    size = {**case, "id": "pytorch/eager/mlp/artifact_size/batch_size=1", "metric": "artifact_size",
            "unit": "bytes", "samples": [1000.0], "n": 1, "median": 1000.0, "ci95": [1000.0, 1000.0]}
    env = json.loads(V1.read_text())["environment"]
    return {"schema_version": 1, "experiment": "inference", "title": "t", "module": "experiments/inference.py",
            "quick": False, "parameters": {}, "environment": env, "cases": [case, size]}


def test_v1_is_upgraded_keeping_the_median_and_dropping_the_pooled_interval(tmp_path):
    path = tmp_path / "inference.json"
    path.write_text(json.dumps(_v1_document()))
    rf = load(path)
    assert rf.document["schema_version"] == SCHEMA_VERSION == 2 and rf.written_as == 1
    latency, size = sorted(rf.cases, key=lambda c: c.metric != "latency")
    assert latency.median == 1.0 and latency.n == 4
    assert latency.ci95 is None and latency.processes is None  # runs absent: unknown, not invented
    assert latency.extra["v1_pooled_ci95"] == [0.98, 1.02]     # kept, labelled as what it was
    assert not latency.deterministic and size.deterministic
    # The upgraded document is a valid version-2 file: it can be written and read back.
    dump(dict(rf.document), tmp_path / "again.json")
    assert load(tmp_path / "again.json").written_as == 1


def test_the_committed_v1_results_load_as_v2():
    rf = load(V1)
    assert rf.written_as == 1 and rf.cases
    assert all(c.processes is None and c.ci95 is None for c in rf.cases if c.ok)


def test_v2_case_with_runs_needs_no_upgrade(tmp_path):
    doc = _v1_document()
    doc["schema_version"] = 2
    for case in doc["cases"]:
        deterministic = is_deterministic(case["metric"], case["unit"])
        runs = [[case["median"]]] if deterministic else [[1.0, 1.01], [0.99, 1.0], [1.0, 1.02]]
        case.pop("samples")
        case.update(summarize(runs, deterministic=deterministic), deterministic=deterministic)
    dump(doc, tmp_path / "inference.json")
    rf = load(tmp_path / "inference.json")
    latency = next(c for c in rf.cases if c.metric == "latency")
    assert latency.processes == 3 and latency.ci95 is not None and len(latency.runs) == 3


@pytest.mark.parametrize("metric", ["artifact_size", "loc", "dependencies", "install_size", "max_abs_diff",
                                    "label_agreement"])
def test_registry_declares_sizes_counts_and_output_differences_deterministic(metric):
    found = [m for (name, _), m in METRICS.items() if name == metric]
    assert found and all(m.deterministic for m in found)


@pytest.mark.parametrize("metric", ["latency", "throughput", "compile_time", "convert_time", "load_time",
                                    "import_time", "peak_rss", "wall_time", "epochs", "gflops"])
def test_registry_declares_timings_and_process_level_quantities_measured(metric):
    found = [m for (name, _), m in METRICS.items() if name == metric]
    assert found and not any(m.deterministic for m in found)


def test_a_deterministic_case_carries_no_interval(tmp_path):
    doc = _v1_document()
    doc["schema_version"] = 2
    size = doc["cases"][1]
    size.pop("samples")
    size.update(summarize([[1000.0], [1000.0], [1000.0]], deterministic=True), deterministic=True)
    assert size["ci95"] is None
    size["ci95"] = [999.0, 1001.0]
    doc["cases"] = [size]
    with pytest.raises(ResultsError, match="deterministic"):
        parse(json.dumps(doc), "inference.json")


class _DictMemo:
    def __init__(self):
        self.keys: set[str] = set()

    def known(self, key: str) -> bool:
        return key in self.keys

    def remember(self, key: str) -> None:
        self.keys.add(key)


def test_a_validation_memo_skips_checks_only_for_bytes_that_passed_them(tmp_path):
    from results_contract.model import validation_key

    path = tmp_path / "inference.json"
    path.write_text(json.dumps(_v1_document()))
    memo = _DictMemo()
    first = load(path, memo=memo)
    assert memo.keys == {validation_key(path.read_bytes())}
    again = load(path, memo=memo)  # remembered: decoded and upgraded, not re-checked
    assert again.document == first.document and again.written_as == 1
    assert [c.id for c in again.cases] == [c.id for c in first.cases]
    # New bytes are new keys: a file broken after it was remembered is still refused.
    broken = _v1_document()
    broken["cases"][0]["median"] = "fast"
    path.write_text(json.dumps(broken))
    with pytest.raises(ResultsError, match=r"\$\.cases\[0\]\.median"):
        load(path, memo=memo)
    assert len(memo.keys) == 1
