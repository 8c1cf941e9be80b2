"""The helpers that describe the machine itself: ``steal_effect()`` and ``host_stability()``."""

from __future__ import annotations

import copy
import json
import math
import statistics
from pathlib import Path

import pytest
from support import FIXTURE

from report.document import DocumentState
from report.errors import Problems
from report.helpers import Helpers, Sources
from report.results import load_results
from results_contract import dump
from results_contract.stats import hierarchical_ci
from results_contract.vocabulary import DEFAULT_MODES, REPEAT_TOLERANCE, STEAL_BANDS

REPO = Path(__file__).resolve().parents[2]


def _helpers(root: Path, primary: str | None = None) -> tuple[Helpers, Problems]:
    problems = Problems()
    results = load_results(root / "results", problems, root, primary=primary)
    return Helpers(Sources(root, results, bib=None), problems, DocumentState()), problems


def _run(i: int, median: float, steal: float | None, samples: list[float] | None = None) -> dict:
    samples = samples or [median]
    return {"process": i, "samples": samples, "median": median, "n": len(samples),
            "load": {"other_cpu_cores": 0.0, "steal_cores": steal}}


def test_steal_effect_bands_processes_by_the_steal_they_recorded(tmp_path):
    doc = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    case = copy.deepcopy(doc["cases"][0])
    assert case["better"] == "lower"
    calm, mid, high = STEAL_BANDS
    # A case with median 10: three calm processes (one of them 20% slow), one moderate, two heavy.
    runs = [_run(0, 10.0, calm), _run(1, 10.0, calm), _run(2, 12.0, calm),
            _run(3, 10.5, mid), _run(4, 15.0, high + 0.1), _run(5, 10.0, high + 0.3)]
    case.update(runs=runs, median=10.0, processes=len(runs))
    faster = copy.deepcopy(case)   # a throughput case: a *lower* process median is the slower one
    faster.update(id=case["id"] + "-throughput", metric="throughput", unit="samples/s", better="higher",
                  runs=[_run(0, 100.0, calm), _run(1, 100.0, calm), _run(2, 50.0, high)], median=100.0,
                  processes=3)
    few = copy.deepcopy(case)      # fewer than 3 processes: left out
    few.update(id=case["id"] + "-few", params={**case["params"], "batch_size": 999}, runs=[_run(0, 99.0, high), _run(1, 1.0, high)], processes=2)
    doc["cases"] = [case, faster, few]
    dump(doc, tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    assert not problems.errors

    rows = {row["low"]: row for row in helpers.steal_effect()}
    assert set(rows) == {calm, mid, high}
    assert rows[calm]["runs"] == 5 and rows[calm]["high"] == mid
    assert rows[calm]["slow_share"] == pytest.approx(1 / 5)          # only the 12.0 run
    assert rows[mid]["runs"] == 1 and rows[mid]["slow_share"] == 0.0  # 5% slower: within tolerance
    assert rows[high]["high"] is None and rows[high]["runs"] == 3
    assert rows[high]["median_slowdown"] == pytest.approx(1.5)       # 15/10, 10/10 and 100/50
    assert rows[high]["slow_share"] == pytest.approx(2 / 3)
    assert all(row["tolerance"] == REPEAT_TOLERANCE for row in rows.values())


def test_steal_effect_is_empty_without_load_records(tmp_path):
    doc = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    for case in doc["cases"]:
        for run in case.get("runs") or []:
            run.pop("load", None)
    dump(doc, tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    assert helpers.steal_effect() == [] and not problems.errors


def _stability_doc(blocks: dict[str, list[list[float]]]) -> dict:
    """The committed host_stability file's shape with the given block medians per process."""
    source = next((REPO / "results").glob("*/host_stability.json"))
    doc = json.loads(source.read_text())
    for case in doc["cases"]:
        per_process = blocks[case["model"]]
        if case["metric"] == "block_time":
            case["runs"] = [_run(i, sorted(b)[len(b) // 2], 0.01 * i, b) for i, b in enumerate(per_process)]
        else:
            case["runs"] = [_run(i, max(b) / min(b), 0.01 * i) for i, b in enumerate(per_process)]
        case["processes"] = len(per_process)
    return doc


def test_host_stability_reports_spread_extremes_and_steal(tmp_path):
    blocks = {"python_loop": [[1000.0, 1900.0, 1800.0], [950.0, 1000.0, 1700.0], [1800.0, 1850.0, 1820.0]],
              "mlp": [[60.0, 120.0, 110.0], [65.0, 64.0, 130.0], [100.0, 101.0, 99.0]],
              "fma_loop": [[10.0, 10.1, 10.2], [10.0, 10.0, 12.0], [10.1, 10.0, 10.0]]}
    dump(_stability_doc(blocks), tmp_path / "results" / "host" / "host_stability.json")
    helpers, problems = _helpers(tmp_path)
    got = helpers.host_stability()
    assert not problems.errors
    assert set(got) == {"python_loop", "mlp", "fma_loop"}
    loop = got["python_loop"]
    assert loop["fastest"] == 950.0 and loop["slowest"] == 1900.0
    assert loop["processes"] == 3 and loop["max_steal"] == pytest.approx(0.02)
    assert loop["spread"].metric == "block_spread" and loop["spread"].model == "python_loop"
    assert loop["blocks"] == loop["spread"].params["blocks"] and loop["threads"] == loop["spread"].params["threads"]
    # within 10% of their own process's fastest: 1000; 950 and 1000; all three of the steady third process
    assert loop["fast_share"] == pytest.approx(6 / 9)
    assert got["fma_loop"]["fast_share"] == pytest.approx(8 / 9)
    assert "host_stability" in helpers.state.used_experiments


def test_host_stability_is_optional(tmp_path):
    dump(json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text()),
         tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    assert helpers.host_stability() == {}
    assert not problems.errors and "host_stability" not in helpers.state.used_experiments


def _pooled_doc(cases: list[dict], per_run: tuple[int, int] = (3, 3)) -> dict:
    """The fixture's latency file as if pooled from two runs of ``per_run`` processes each."""
    doc = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    env = doc["environment"]
    doc["parameters"] = {"processes": sum(per_run), "pooled_from": [
        {"git_commit": env["git_commit"], "git_dirty": False, "started_at": env["started_at"],
         "finished_at": env["finished_at"], "processes": n} for n in per_run]}
    doc["cases"] = cases
    return doc


def _session_case(base: dict, key: str, first: list[float], second: list[float], **changes) -> dict:
    case = copy.deepcopy(base)
    runs = [_run(i, m, 0.0) for i, m in enumerate(first + second)]
    case.update(id=f"{base['id']}-{key}", params={**base["params"], "variant": key},
                runs=runs, processes=len(runs), median=sorted(first + second)[len(runs) // 2], **changes)
    return case


def test_session_agreement_compares_the_two_runs_of_each_pooled_case(tmp_path):
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    assert base["better"] == "lower"
    cases = [
        _session_case(base, "same", [10.0, 11.0, 9.0], [10.5, 10.0, 9.5]),      # medians 10 and 10
        _session_case(base, "slow", [10.0, 10.0, 10.0], [12.0, 13.0, 12.0]),    # 20% slower: outside 10%
        # a rate: the second run's *lower* median is the slower one (cost 100/80 = 1.25)
        _session_case(base, "rate", [100.0, 100.0, 100.0], [80.0, 80.0, 80.0],
                      metric="throughput", unit="samples/s", better="higher"),
        # a process of the second run failed: its runs cannot be split by run, so it is left out
        _session_case(base, "gap", [10.0, 10.0, 10.0], [10.0, 10.0]),
        # deterministic sizes are measured once and never compared
        _session_case(base, "size", [5.0, 5.0, 5.0], [9.0, 9.0, 9.0], deterministic=True, ci95=None,
                      metric="artifact_size", unit="KiB", better="lower"),
    ]
    dump(_pooled_doc(cases), tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    assert not problems.errors
    got = helpers.session_agreement()
    assert got["cases"] == 3 and got["within"] == 1 and got["share"] == pytest.approx(1 / 3)
    assert got["processes"] == 3 and got["experiments"] == ["latency"]
    logs = [math.log(1.0), math.log(1.2), math.log(1.25)]
    assert got["shift"] == pytest.approx(math.exp(statistics.fmean(logs)))
    assert got["shifts"] == {"latency": pytest.approx(got["shift"])}
    assert got["spread"] == pytest.approx(statistics.stdev(logs))
    # 95% within 10% needs a log-ratio sd of log(1.1)/1.96; the process count scales with its square
    target = math.log(1.1) / 1.96
    assert got["needed"] == math.ceil(3 * (statistics.stdev(logs) / target) ** 2)
    # A/A test of the comparison rule, each run's processes alone: the steady case shows no
    # direction, the two that moved by 20% and 25% with tight processes do
    assert got["aa_cases"] == 3 and got["aa_directions"] == 2 and got["aa_by_experiment"] == {"latency": 2}
    assert got["aa_cases_by_experiment"] == {"latency": 3}


def test_session_agreement_of_another_host_and_the_gap_between_its_runs(tmp_path):
    """``session_agreement(host)`` reads that host's files, not the primary host's, and says how
    long after the first run the second began (back-to-back runs against separate sessions)."""
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    dump(json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text()),
         tmp_path / "results" / "primary" / "latency.json")
    doc = _pooled_doc([_session_case(base, "same", [10.0, 11.0, 9.0], [10.5, 10.0, 9.5]),
                       _session_case(base, "slow", [10.0, 10.0, 10.0], [12.0, 13.0, 12.0])])
    first, second = doc["parameters"]["pooled_from"]
    first.update(started_at="2026-01-01T10:00:00Z", finished_at="2026-01-01T10:30:00Z")
    second.update(started_at="2026-01-01T10:31:30Z", finished_at="2026-01-01T11:00:00Z")
    dump(doc, tmp_path / "results" / "other" / "latency.json")
    helpers, problems = _helpers(tmp_path, primary="primary")
    assert not problems.errors
    assert helpers.session_agreement() == {}  # the primary host pools no runs
    got = helpers.session_agreement("other")
    assert got["cases"] == 2 and got["within"] == 1 and got["gap_s"] == 90.0 and got["back_to_back"]
    assert got["single_run"] == []
    assert helpers.session_agreement("other") is got  # computed once per host


def test_session_agreement_is_empty_without_pooled_runs(tmp_path):
    dump(json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text()),
         tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    assert helpers.session_agreement() == {} and not problems.errors


def test_run_loads_skips_runs_without_a_record():
    from results_contract.model import Case

    case = Case.from_dict("x", Path("x.json"), {
        "id": "a", "framework": "pytorch", "mode": "eager", "model": "mlp", "metric": "latency", "unit": "ms",
        "better": "lower", "params": {}, "median": 1.0, "ci95": None, "status": "ok",
        "runs": [{"samples": [1.0], "median": 1.0, "n": 1, "load": {"other_cpu_cores": 0.1, "steal_cores": 0.0}},
                 {"samples": [1.0], "median": 1.0, "n": 1}]})
    assert case.run_loads() == [{"other_cpu_cores": 0.1, "steal_cores": 0.0}]


def _latency_case(base: dict, framework: str, mode: str, median: float, ci: tuple[float, float],
                  extra: dict | None = None) -> dict:
    case = copy.deepcopy(base)
    case.update(framework=framework, mode=mode, median=median, ci95=list(ci),
                id=f"{framework}/{mode}/mlp/latency/batch_size=1")
    if extra is not None:
        case["extra"] = extra
    return case


def _mode_spread(tmp_path: Path, cases: list[dict]) -> dict:
    doc = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    doc["cases"] = cases
    dump(doc, tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    got = helpers.mode_spread("latency", "latency")
    assert not problems.errors
    return got


def test_mode_spread_counts_only_mode_differences_the_rule_establishes(tmp_path):
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    # TensorFlow's XLA beats its default tf.function by 2.7x with separate intervals; PyTorch's compiled
    # mode is 1.5x slower than its default, inside overlapping intervals. TensorFlow eager is 30x slower
    # than XLA, but nobody picks it: a spread counts only from the default mode to the fastest one.
    cases = [_latency_case(base, "pytorch", "eager", 1.0, (0.5, 2.0)),
             _latency_case(base, "pytorch", "compile", 1.5, (0.6, 2.5)),
             _latency_case(base, "tensorflow", "eager", 30.0, (29.0, 31.0)),
             _latency_case(base, "tensorflow", "graph", 3.0, (2.8, 3.2)),
             _latency_case(base, "tensorflow", "xla", 1.1, (1.0, 1.2))]
    got = _mode_spread(tmp_path, cases)
    assert got["mode_matters"] == ["mlp"]
    assert got["by_framework"] == {"pytorch": [], "tensorflow": ["mlp"]}
    assert got["ratios"]["mlp"][0] == pytest.approx(3.0 / 1.1)
    # Without XLA, TensorFlow's fastest mode is its default: eager's slowness alone does not count.
    assert _mode_spread(tmp_path / "no-xla", cases[:4])["mode_matters"] == []


def test_mode_spread_ignores_a_compiled_mode_that_captured_no_graph(tmp_path):
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    cases = [_latency_case(base, "pytorch", "eager", 1.0, (0.95, 1.05)),
             _latency_case(base, "pytorch", "compile", 0.3, (0.29, 0.31), extra={"dynamo_graphs": 0}),
             _latency_case(base, "tensorflow", "graph", 0.5, (0.48, 0.52))]
    got = _mode_spread(tmp_path, cases)
    assert got["mode_matters"] == [] and got["by_framework"]["pytorch"] == []
    # The same gain from a compile that did capture a graph counts.
    cases[1]["extra"] = {"dynamo_graphs": 1}
    assert _mode_spread(tmp_path / "again", cases)["by_framework"]["pytorch"] == ["mlp"]


def test_a_load_record_above_the_machines_core_count_is_left_out(tmp_path):
    """Only a task shorter than one 10-ms accounting tick can record more busy cores than exist."""
    doc = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    cores = doc["environment"]["cpu_cores_logical"]
    case = copy.deepcopy(doc["cases"][0])
    case["runs"] = [_run(0, 1.0, 0.0), _run(1, 1.0, 0.0), _run(2, 1.0, 0.0)]
    case["runs"][2]["load"]["other_cpu_cores"] = cores * 5.0
    case["runs"][1]["load"]["other_cpu_cores"] = 0.1
    doc["cases"] = [case]
    dump(doc, tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    got = helpers.machine_load()
    assert got["runs"] == 2 and got["max_other"] == 0.1 and got["busy"] == 0
    assert sum(row["runs"] for row in helpers.steal_effect()) == 2


def _verdict_case(base: dict, framework: str, mode: str, model: str, first: list[float], second: list[float]) -> dict:
    """A latency case pooled from two runs; each process's samples are tight (±0.5%) around its median."""
    case = copy.deepcopy(base)
    medians = first + second
    runs = [_run(i, m, 0.0, [m * 0.995, m, m * 1.005]) for i, m in enumerate(medians)]
    case.update(id=f"{framework}/{mode}/{model}/latency/batch_size=1", framework=framework, mode=mode, model=model,
                runs=runs, processes=len(runs), median=statistics.median(medians),
                ci95=list(hierarchical_ci([run["samples"] for run in runs])))
    return case


def test_session_verdicts_repeat_each_comparison_on_each_run_alone(tmp_path):
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    assert base["better"] == "lower" and DEFAULT_MODES["tensorflow"] != "eager"
    cases = [
        # cnn: PyTorch twice as fast in both runs
        _verdict_case(base, "pytorch", "eager", "cnn", [10.0] * 3, [10.0] * 3),
        _verdict_case(base, "tensorflow", "graph", "cnn", [20.0] * 3, [20.0] * 3),
        # lstm: PyTorch twice as fast in the first run, TensorFlow in the second
        _verdict_case(base, "pytorch", "eager", "lstm", [10.0] * 3, [20.0] * 3),
        _verdict_case(base, "tensorflow", "graph", "lstm", [20.0] * 3, [10.0] * 3),
        # mlp: PyTorch faster in the first run; the second run's TensorFlow catches up to within noise
        _verdict_case(base, "pytorch", "eager", "mlp", [10.0] * 3, [10.0, 10.2, 9.8]),
        _verdict_case(base, "tensorflow", "graph", "mlp", [20.0] * 3, [10.1, 9.9, 10.0]),
        # transformer: PyTorch's compiled mode is its fastest only in the second run
        _verdict_case(base, "pytorch", "eager", "transformer", [10.0] * 3, [10.0] * 3),
        _verdict_case(base, "pytorch", "compile", "transformer", [12.0] * 3, [8.0] * 3),
        _verdict_case(base, "tensorflow", "graph", "transformer", [30.0] * 3, [30.0] * 3),
    ]
    dump(_pooled_doc(cases), tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    assert not problems.errors

    got = helpers.session_verdicts("latency", "latency")
    assert got["values"] == ["cnn", "lstm", "mlp", "transformer"] and got["processes"] == [3, 3]
    assert [run["cnn"] for run in got["runs"]] == ["pytorch", "pytorch"] and got["pooled"]["cnn"] == "pytorch"
    assert [run["lstm"] for run in got["runs"]] == ["pytorch", "tensorflow"]
    assert got["runs"][0]["mlp"] == "pytorch" and got["runs"][1]["mlp"] in ("unclear", "within")
    assert got["same"] == ["cnn", "transformer"] and got["reversed"] == ["lstm"]
    assert got["repicked"] == ["transformer"]
    # the defaults pairing never re-picks: PyTorch eager against tf.function in every run
    default = helpers.session_verdicts("latency", "latency", rule="default")
    assert default["repicked"] == [] and default["runs"][1]["transformer"] == "pytorch"
    # the pooled verdict is the one headline() gives
    assert helpers.headline("latency", "latency", model="cnn").fastest.verdict == "better"


def _firm_weaker_and_none() -> list[dict]:
    """Pooled latency cases: a firm PyTorch verdict (cnn), one that only the first run reaches
    (mlp, weaker) and no pooled direction at all (lstm)."""
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    return [
        # cnn: PyTorch twice as fast in both runs: a firm verdict
        _verdict_case(base, "pytorch", "eager", "cnn", [10.0] * 3, [10.0] * 3),
        _verdict_case(base, "tensorflow", "graph", "cnn", [20.0] * 3, [20.0] * 3),
        # mlp: PyTorch faster when pooled and in the first run, not in the second: weaker
        _verdict_case(base, "pytorch", "eager", "mlp", [10.0] * 3, [9.8, 10.0, 10.5]),
        _verdict_case(base, "tensorflow", "graph", "mlp", [20.0] * 3, [10.3, 15.0, 10.4]),
        # lstm: no direction when pooled: nothing to call weaker
        _verdict_case(base, "pytorch", "eager", "lstm", [10.0] * 3, [10.0] * 3),
        _verdict_case(base, "tensorflow", "graph", "lstm", [10.1] * 3, [9.9] * 3),
    ]


def test_weaker_names_the_pooled_directions_one_session_alone_does_not_reach(tmp_path):
    dump(_pooled_doc(_firm_weaker_and_none()), tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    sv = helpers.session_verdicts("latency", "latency")
    assert sv["pooled"]["mlp"] == "pytorch" and "mlp" not in sv["same"] and sv["pooled"]["lstm"] in ("within", "unclear")
    assert helpers.weaker("latency", "latency") == ["mlp"] and not problems.errors


def test_weaker_is_empty_without_pooled_runs(tmp_path):
    dump(json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text()),
         tmp_path / "results" / "host" / "latency.json")
    helpers, _ = _helpers(tmp_path)
    assert helpers.weaker("latency", "latency") == []


def test_hosts_record_how_each_machine_was_measured(tmp_path):
    """The paper names a second host's configuration differences (allocator, timing, tree) from these."""
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    pinned = copy.deepcopy(base)
    pinned["environment"]["threads"] = {**(pinned["environment"].get("threads") or {}),
                                        "MALLOC_MMAP_THRESHOLD_": "33554432"}
    pinned.setdefault("parameters", {})["timing"] = {"max_time_s": 0.4}
    old = copy.deepcopy(base)
    old["environment"]["git_dirty"] = True
    old.setdefault("parameters", {})["timing"] = {"max_time_s": 1.0}
    dump(pinned, tmp_path / "results" / "main" / "latency.json")
    dump(old, tmp_path / "results" / "old" / "latency.json")
    helpers, problems = _helpers(tmp_path, primary="main")
    main, other = helpers.hosts()
    assert main["label"] == "main" and main["allocator_pinned"] and main["timing"]["max_time_s"] == 0.4
    assert not other["allocator_pinned"] and other["timing"]["max_time_s"] == 1.0
    assert other["dirty"] == other["files"] == 1 and main["dirty"] == 0


def test_session_verdicts_are_empty_without_pooled_runs(tmp_path):
    dump(json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text()),
         tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    assert helpers.session_verdicts("latency", "latency") == {} and not problems.errors


def _cnn_hosts(root: Path, medians: dict[str, tuple[float, float]]) -> tuple[Helpers, Problems]:
    """One host folder per entry of ``medians`` ({host: (PyTorch, TensorFlow) median}), each with
    the CNN's latency in both frameworks from three tight processes; "main" is the primary host."""
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    for host, (pt, tf) in medians.items():
        doc = copy.deepcopy(base)
        doc["cases"] = [_verdict_case(base["cases"][0], "pytorch", "eager", "cnn", [pt] * 3, []),
                        _verdict_case(base["cases"][0], "tensorflow", "graph", "cnn", [tf] * 3, [])]
        dump(doc, root / "results" / host / "latency.json")
    return _helpers(root, primary="main")


def test_across_hosts_counts_only_the_other_machines(tmp_path):
    """The primary host defines a finding, so it never counts as confirming it."""
    helpers, problems = _cnn_hosts(tmp_path, {"main": (10.0, 20.0), "agrees": (11.0, 23.0), "reverses": (30.0, 12.0)})
    got = helpers.across_hosts("latency", "latency", model="cnn")
    assert not problems.errors and got["primary"].verdict == "better"
    assert [e["status"] for e in got["hosts"]] == ["holds", "holds", "reverses"]  # main first
    assert got["summary"] == "holds on 1 of 2 other machines with intervals; reverses on reverses"

    # host_case: one case of a named host, None where that host lacks it, an error when ambiguous
    assert helpers.host_case("reverses", "latency", framework="tensorflow", model="cnn").median == 12.0
    assert helpers.host_case("reverses", "latency", framework="jax") is None and not problems.errors
    assert helpers.host_case("reverses", "latency", model="cnn") is None
    assert len(problems.errors) == 1 and "host 'reverses'" in problems.errors[0]

    alone = tmp_path / "alone"
    dump(json.loads((tmp_path / "results" / "main" / "latency.json").read_text()), alone / "results" / "main" / "latency.json")
    problems = Problems()
    helpers = Helpers(Sources(alone, load_results(alone / "results", problems, alone), bib=None), problems, DocumentState())
    assert helpers.across_hosts("latency", "latency", model="cnn")["summary"] == "no other machine with intervals"


def test_reversals_name_the_primary_hosts_verdicts_another_host_reverses(tmp_path):
    """Both directions are reported apart; a model without a direction on the primary host (lstm
    here) is not a reversal, whatever the other host says."""
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    medians = {"main": {"cnn": (10.0, 20.0), "mlp": (30.0, 12.0), "lstm": (10.0, 10.1)},
               "other": {"cnn": (30.0, 12.0), "mlp": (10.0, 20.0), "lstm": (30.0, 12.0)}}
    for host, by_model in medians.items():
        doc = copy.deepcopy(base)
        doc["cases"] = [_verdict_case(base["cases"][0], fw, mode, model, [value] * 3, [])
                        for model, pair in by_model.items()
                        for (fw, mode), value in zip((("pytorch", "eager"), ("tensorflow", "graph")), pair)]
        dump(doc, tmp_path / "results" / host / "latency.json")
    helpers, problems = _helpers(tmp_path, primary="main")
    got = helpers.reversals("latency", "latency", "other")
    assert not problems.errors
    assert got == {"tensorflow": ["cnn"], "pytorch": ["mlp"], "all": ["cnn", "mlp"], "weaker": []}
    assert helpers.reversals("latency", "latency", "main") == {"tensorflow": [], "pytorch": [], "all": [],
                                                               "weaker": []}


def test_reversals_mark_those_one_run_of_the_other_host_does_not_reach(tmp_path):
    """The second host's verdicts face the same session test as the primary host's: a reversal
    that one of its two pooled runs alone does not reach is listed as weaker."""
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    main = copy.deepcopy(json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text()))
    main["cases"] = [_verdict_case(base, fw, mode, model, [value] * 3, [])
                     for model in ("cnn", "mlp")
                     for (fw, mode), value in zip((("pytorch", "eager"), ("tensorflow", "graph")), (10.0, 20.0))]
    dump(main, tmp_path / "results" / "main" / "latency.json")
    other = [
        # cnn: TensorFlow twice as fast in both runs: a firm reversal
        _verdict_case(base, "pytorch", "eager", "cnn", [20.0] * 3, [20.0] * 3),
        _verdict_case(base, "tensorflow", "graph", "cnn", [10.0] * 3, [10.0] * 3),
        # mlp: TensorFlow faster when pooled and in the first run, not in the second: a weaker reversal
        _verdict_case(base, "pytorch", "eager", "mlp", [20.0] * 3, [10.3, 15.0, 10.4]),
        _verdict_case(base, "tensorflow", "graph", "mlp", [10.0] * 3, [9.8, 10.0, 10.5]),
    ]
    dump(_pooled_doc(other), tmp_path / "results" / "other" / "latency.json")
    helpers, problems = _helpers(tmp_path, primary="main")
    assert helpers.weaker("latency", "latency") == []  # the primary host pools no runs
    assert helpers.weaker("latency", "latency", host="other") == ["mlp"]
    got = helpers.reversals("latency", "latency", "other")
    assert got == {"tensorflow": ["cnn", "mlp"], "pytorch": [], "all": ["cnn", "mlp"], "weaker": ["mlp"]}
    # Table 14 marks the weaker one too
    statuses = {m: [e["status"] for e in helpers.across_hosts("latency", "latency", model=m)["hosts"]]
                for m in ("cnn", "mlp")}
    assert statuses == {"cnn": ["holds", "reverses"], "mlp": ["holds", "reverses (weaker)"]}
    assert not problems.errors


def test_across_hosts_names_the_faster_framework_where_the_primary_host_has_no_direction(tmp_path):
    """A host with a direction where the primary host has none gets the framework, not a verdict code."""
    helpers, problems = _cnn_hosts(tmp_path, {"main": (10.0, 10.1), "other": (30.0, 12.0)})
    got = helpers.across_hosts("latency", "latency", model="cnn")
    assert not problems.errors and got["summary"] == "no direction on the primary host"
    assert [e["status"] for e in got["hosts"]] == ["no clear difference", "TensorFlow faster"]
    assert helpers.across_hosts("latency", "latency", model="lstm")["hosts"][1]["status"] == "not measured"


def test_across_hosts_marks_hosts_without_intervals_as_point_estimates(tmp_path):
    """A version-1 host (pooled samples, no process-level CI) is judged by its medians and the
    threshold, in the same words as a host with intervals, marked as a point estimate; a finding
    it did not measure is "not measured", not "within the threshold"."""
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
    main = copy.deepcopy(base)
    main["cases"] = [_verdict_case(base["cases"][0], "pytorch", "eager", "cnn", [10.0] * 3, []),
                     _verdict_case(base["cases"][0], "tensorflow", "graph", "cnn", [20.0] * 3, [])]
    dump(main, tmp_path / "results" / "main" / "latency.json")
    v1_cases = []  # the first harness's format: pooled samples, no runs
    for c in main["cases"]:
        m = 30.0 if c["framework"] == "pytorch" else 12.0
        v1_cases.append({k: c[k] for k in ("id", "framework", "mode", "model", "metric", "unit", "better", "params")}
                        | {"status": "ok", "error": None, "samples": [m] * 4, "n": 4, "median": m, "ci95": [m, m],
                           "p90": m, "p99": m, "mean": m, "stdev": 0.0, "noisy": False})
    old = {"schema_version": 1, "experiment": main["experiment"], "title": main["title"], "module": main["module"],
           "quick": False, "parameters": {}, "environment": main["environment"] | {"host": "old"}, "cases": v1_cases}
    (tmp_path / "results" / "old").mkdir(parents=True)
    (tmp_path / "results" / "old" / "latency.json").write_text(json.dumps(old))
    helpers, problems = _helpers(tmp_path, primary="main")
    got = helpers.across_hosts("latency", "latency", model="cnn")
    assert not problems.errors, problems.errors
    assert [e["status"] for e in got["hosts"]] == ["holds", "reverses (point estimate)"]
    assert got["reversed_by_point"] == ["old"]


def test_session_agreement_splits_cases_that_start_several_processes_per_round(tmp_path):
    """Cold start starts its own processes, 6 per run here, while each run records 5 rounds: the
    12 processes split 6 | 6, not 5 | 5."""
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    cases = [_session_case(base, "cold", [10.0] * 6, [20.0] * 6), _session_case(base, "warm", [5.0] * 6, [10.0] * 6)]
    dump(_pooled_doc(cases, per_run=(5, 5)), tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    got = helpers.session_agreement()
    assert not problems.errors and got["cases"] == 2 and got["processes"] == 6
    assert got["shift"] == pytest.approx(2.0)  # a 5 | 5 split would mix the runs (run medians 10 and 20 -> 15)


def test_weaker_pair_marks_a_chosen_pair_one_run_alone_does_not_separate(tmp_path):
    """``weaker_pair(a, b)``: the same per-run check as ``weaker``, for two cases a template picked
    itself (one framework with two processes against one, say)."""
    cases = _firm_weaker_and_none()
    dump(_pooled_doc(cases), tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    pick = {(c.framework, c.model): c for c in helpers.cases("latency")}
    assert helpers.weaker_pair(pick["pytorch", "cnn"], pick["tensorflow", "cnn"]) is False
    assert helpers.weaker_pair(pick["pytorch", "mlp"], pick["tensorflow", "mlp"]) is True
    assert helpers.weaker_pair(pick["pytorch", "lstm"], pick["tensorflow", "lstm"]) is False
    assert helpers.weaker_pair(None, pick["tensorflow", "lstm"]) is False and not problems.errors
    # the same pair from a file of one run: nothing to compare, so never weaker
    single = _pooled_doc(cases)
    single["parameters"].pop("pooled_from")
    dump(single, tmp_path / "single" / "results" / "host" / "latency.json")
    helpers, _ = _helpers(tmp_path / "single")
    pick = {(c.framework, c.model): c for c in helpers.cases("latency")}
    assert helpers.weaker_pair(pick["pytorch", "mlp"], pick["tensorflow", "mlp"]) is False


def test_same_runs_tells_experiments_measured_side_by_side_from_separate_runs(tmp_path):
    base = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())["cases"][0]
    doc = _pooled_doc([_verdict_case(base, "pytorch", "eager", "cnn", [10.0] * 3, [10.0] * 3)])
    dump(doc, tmp_path / "results" / "host" / "latency.json")
    twin = copy.deepcopy(doc)
    twin["experiment"] = "twin"
    dump(twin, tmp_path / "results" / "host" / "twin.json")
    later = copy.deepcopy(doc)
    later["experiment"] = "later"
    later["parameters"]["pooled_from"][1]["started_at"] = "2030-01-01T00:00:00Z"
    dump(later, tmp_path / "results" / "host" / "later.json")
    helpers, problems = _helpers(tmp_path)
    assert not problems.errors and {"latency", "twin", "later"} <= set(helpers.results.files)
    assert helpers.same_runs("latency", "twin") is True
    assert helpers.same_runs("latency", "later") is False
    assert helpers.same_runs("latency", "absent") is False


def test_same_medians_asks_the_rule_of_each_side_of_two_pairings(tmp_path):
    from report.helpers import Pairing

    dump(_pooled_doc(_firm_weaker_and_none()), tmp_path / "results" / "host" / "latency.json")
    helpers, problems = _helpers(tmp_path)
    pick = {(c.framework, c.model): c for c in helpers.cases("latency")}

    def pairing(a, b):
        return Pairing("default", a, b, "", "")

    cnn = pairing(pick["pytorch", "cnn"], pick["tensorflow", "cnn"])         # medians 10 and 20
    lstm = pairing(pick["pytorch", "lstm"], pick["tensorflow", "lstm"])      # medians 10 and 10
    mixed = pairing(pick["pytorch", "lstm"], pick["tensorflow", "cnn"])      # medians 10 and 20
    assert helpers.same_medians(cnn, mixed) is True
    assert helpers.same_medians(cnn, lstm) is False
    assert helpers.same_medians(cnn, pairing(None, pick["tensorflow", "cnn"])) is False
    assert not problems.errors


def test_investigation_host_is_named_only_when_it_is_not_the_primary(tmp_path):
    from dataclasses import replace

    from report.config import load_config

    dump(_pooled_doc(_firm_weaker_and_none()), tmp_path / "results" / "host" / "latency.json")
    helpers, _ = _helpers(tmp_path)
    assert helpers.results.primary == "host"
    base = load_config(REPO)
    for configured, named in ((None, None), ("host", None), ("elsewhere", "elsewhere")):
        helpers.sources = replace(helpers.sources, config=replace(base, investigation_host=configured))
        assert helpers.investigation_host() == named


def test_recheck_host_is_named_only_while_it_is_the_primary(tmp_path):
    from dataclasses import replace

    from report.config import load_config

    dump(_pooled_doc(_firm_weaker_and_none()), tmp_path / "results" / "host" / "latency.json")
    helpers, _ = _helpers(tmp_path)
    base = load_config(REPO)
    for configured, named in ((None, None), ("host", "host"), ("elsewhere", None)):
        helpers.sources = replace(helpers.sources, config=replace(base, recheck_host=configured))
        assert helpers.recheck_host() == named
