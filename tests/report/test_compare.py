"""`build.py compare A B`: ratios with process-level CIs, the paper's rule, summaries, outputs,
one-sided cases, environment warnings and --fail-on-regression; GPU results handled too."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from report.compare import compare, resolve
from results_contract import dump
from results_contract.stats import summarize
from support import FIXTURE, REPO, run_build

BASE = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())


def write_host(root: Path, label: str, scale: dict[str, float], spread: float = 0.001, extra_case: bool = False,
               device: str = "cpu", packages: dict | None = None) -> Path:
    """A host folder whose cases are the fixture's, with each framework's medians scaled."""
    doc = copy.deepcopy(BASE)
    doc["environment"].update(host=label, device=device)
    if packages:
        doc["environment"]["packages"].update(packages)
    for case in doc["cases"]:
        centre = case["median"] * scale.get(case["framework"], 1.0)
        runs = [[centre * (1 + spread * k) for k in (-1, 0, 1)] for _ in range(5)]
        case.update(summarize(runs))
    if extra_case:
        new = copy.deepcopy(doc["cases"][0])
        new.update(id="pytorch/eager/cnn/latency/batch_size=1", model="cnn")
        doc["cases"].append(new)
    folder = root / "results" / label
    dump(doc, folder / "latency.json")
    return folder


def test_ratios_verdicts_and_summary(tmp_path):
    write_host(tmp_path, "host-a", {})
    write_host(tmp_path, "host-b", {"pytorch": 1.5, "tensorflow": 1.02}, extra_case=True)
    a = resolve("host-a", tmp_path / "results", tmp_path)
    b = resolve("host-b", tmp_path / "results", tmp_path)
    c = compare(a, b, 0.05)
    rows = {r.case_id.split("/")[0]: r for r in c.rows}
    assert rows["pytorch"].ratio == pytest.approx(1.5) and rows["pytorch"].verdict == "worse"
    lo, hi = rows["pytorch"].ratio_ci
    assert lo < 1.5 < hi and lo > 1.4
    assert rows["pytorch"].change == "50% slower"
    assert rows["tensorflow"].verdict == "within"  # 2%: non-overlapping CIs, but under 5%
    assert c.only_b == ["latency:pytorch/eager/cnn/latency/batch_size=1"] and c.only_a == []
    assert c.counts() == {"worse": 1, "within": 1}
    assert c.geometric_means()["latency"] == pytest.approx((1.5 * 1.02) ** 0.5, rel=1e-6)
    assert c.agreement() == (1, 2)
    assert [r.experiment for r in c.regressions(10)] == ["latency"] and c.regressions(60) == []


def test_cli_plain_json_html_and_fail_on_regression(tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(FIXTURE, root)
    shutil.rmtree(root / "results")
    write_host(root, "host-a", {})
    write_host(root, "host-b", {"pytorch": 1.5}, packages={"torch": "2.99.0"})
    out = subprocess.run([sys.executable, str(REPO / "build.py"), "compare", "host-a", "host-b", "--root", str(root),
                          "--json", str(tmp_path / "c.json"), "--html", str(tmp_path / "c.html"),
                          "--fail-on-regression", "20"], capture_output=True, text=True, cwd=root)
    assert out.returncode == 1 and "regressed by more than 20%" in out.stderr
    assert "B/A [95% CI]" in out.stdout and "50% slower" in out.stdout and "\x1b[" not in out.stdout  # plain in a pipe
    assert "package versions differ (torch 2.13.0 vs 2.99.0)" in out.stdout
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["counts"] == {"worse": 1, "within": 1} or data["counts"].get("worse") == 1
    assert "<table>" in (tmp_path / "c.html").read_text()
    ok = subprocess.run([sys.executable, str(REPO / "build.py"), "compare", "host-a", "host-b", "--root", str(root),
                         "--fail-on-regression", "60"], capture_output=True, text=True, cwd=root)
    assert ok.returncode == 0, ok.stderr


def test_unknown_side_is_one_line(tmp_path):
    write_host(tmp_path, "host-a", {})
    result = subprocess.run([sys.executable, str(REPO / "build.py"), "compare", "fixture-host", "nope", "--root",
                             str(FIXTURE.parent / "project")], capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr.count("\n") <= 2 and "nope" in result.stderr


def test_gpu_results_are_loaded_drawn_and_compared(project, tmp_path):
    """A CUDA host's results (device recorded) go through the loader, the charts and compare;
    no GPU is needed to test this, and no GPU number is claimed from it."""
    shutil.rmtree(project / "results")
    write_host(project, "fixture-host", {})
    write_host(project, "gpu-host", {"pytorch": 0.1, "tensorflow": 0.2}, device="NVIDIA H100 80GB HBM3")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('slug = "fixture-paper"',
                                                       'slug = "fixture-paper"\nprimary_host = "gpu-host"'))
    result = run_build(project, "--no-pdf")
    assert result.returncode == 0, result.stderr
    page = next((project / "dist").glob("*.html")).read_text()
    assert "<svg" in page
    c = compare(resolve("fixture-host", project / "results", project), resolve("gpu-host", project / "results", project))
    assert {r.verdict for r in c.rows} == {"better"}
    assert any("devices differ" in w for w in c.warnings)
