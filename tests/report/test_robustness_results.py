"""Bad results files: one line naming the file and where, exit 1, dist/ untouched, and the
templates still checked in the same run."""

from __future__ import annotations

import copy
import json
import re

import pytest

from support import FIXTURE, run_build
from report.errors import Problems
from report.results import load_results
from results_contract.upgrade import OLDEST_UPGRADABLE
from support import parse_results_text
from results_contract.schema import SCHEMA_VERSION

GOOD = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())
WHERE = "results/latency.json"


def parse(doc_or_text):
    text = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text)
    problems = Problems()
    data = parse_results_text(text, WHERE, problems)
    return data, problems


def mutated(fn):
    doc = copy.deepcopy(GOOD)
    fn(doc)
    return doc


def only_error(doc_or_text):
    data, problems = parse(doc_or_text)
    assert data is None
    assert len(problems.errors) == 1, problems.errors
    (error,) = problems.errors
    assert "\n" not in error and error.startswith(WHERE)
    return error


def test_good_fixture_parses():
    data, problems = parse(GOOD)
    assert data is not None and problems.errors == []


def test_not_json_at_all():
    error = only_error("this is a CSV, not JSON\n1,2,3\n")
    assert re.match(rf"{WHERE}:1:1: not valid JSON \(.*\); re-run the experiment or restore the file", error)


def test_binary_garbage_file_is_one_error(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "latency.json").write_bytes(b"\xff\xfe\x00garbage")
    problems = Problems()
    results = load_results(tmp_path / "results", problems, tmp_path)
    assert results.files == {} and results.failed == {"latency"}
    assert len(problems.errors) == 1 and problems.errors[0].startswith("results/latency.json:1: not valid UTF-8")


def test_truncated_names_line_and_column():
    text = json.dumps(GOOD, indent=1)
    error = only_error(text[: len(text) // 2])
    assert re.match(rf"{WHERE}:\d+:\d+: not valid JSON", error)


def test_valid_json_wrong_shape():
    assert only_error("[1, 2, 3]") == f"{WHERE}: $: expected a JSON object, got list"
    assert "schema_version: missing or not an integer" in only_error('{"hello": "world"}')


def test_wrong_schema_names_json_path():
    data, problems = parse(mutated(lambda d: d["cases"][0].update(framework="jax")))
    assert problems.errors == [f"{WHERE}: $.cases[0].framework: 'jax' is not one of "
                               "['pytorch', 'tensorflow', 'onnxruntime', 'litert', 'keras']"]
    data, problems = parse(mutated(lambda d: d.pop("environment")))
    assert problems.errors == [f"{WHERE}: $: 'environment' is a required property"]


def test_huge_schema_errors_stay_short():
    doc = mutated(lambda d: d.update(cases={"x" * 5000: 1}))
    error = only_error(doc)
    assert len(error) < 300 and error.startswith(f"{WHERE}: $.cases: ")


def test_newer_schema_version_is_refused_with_upgrade_hint():
    error = only_error(mutated(lambda d: d.update(schema_version=SCHEMA_VERSION + 1)))
    assert f"{SCHEMA_VERSION + 1} is newer than this code understands" in error
    assert "upgrade the project" in error


def test_older_schema_version_is_refused_with_hint():
    assert OLDEST_UPGRADABLE > 0
    error = only_error(mutated(lambda d: d.update(schema_version=0)))
    assert error == (f"{WHERE}: $.schema_version: 0 is too old to upgrade (oldest {OLDEST_UPGRADABLE}); "
                     "re-run the experiment to regenerate it")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_name_the_line(token):
    text = json.dumps(GOOD, indent=1).replace('"median": 0.11', f'"median": {token}', 1)
    assert token in text
    line = text[: text.index(token)].count("\n") + 1
    error = only_error(text)
    assert error == (f"{WHERE}:{line}: {token} is not allowed; record a failed case with its reason instead")


def test_overflowing_number_parses_to_inf_and_is_refused():
    text = json.dumps(GOOD).replace('"median": 0.11', '"median": 1e999', 1)
    assert "1e999" in text
    error = only_error(text)
    assert error == f"{WHERE}: $.cases[0].median: inf is not a finite number; re-run the experiment"


def test_negative_times():
    data, problems = parse(mutated(lambda d: d["cases"][0]["runs"][0]["samples"].__setitem__(0, -0.5)))
    assert problems.errors == [f"{WHERE}: $.cases[0].runs[0].samples[0]: -0.5 is less than the minimum of 0"]


def test_empty_samples_on_ok_case():
    data, problems = parse(mutated(lambda d: d["cases"][0]["runs"][0].update(samples=[])))
    assert problems.errors == [f"{WHERE}: $.cases[0].runs[0].samples: [] should be non-empty"]


def test_failed_case_needs_a_reason():
    def fail(d):
        d["cases"][0].update(status="failed", error="")
    data, problems = parse(mutated(fail))
    assert problems.errors and all(e.startswith(f"{WHERE}: $.cases[0].error") for e in problems.errors)


def test_duplicate_case():
    doc = mutated(lambda d: d["cases"].append(copy.deepcopy(d["cases"][0])))
    data, problems = parse(doc)
    last = len(doc["cases"]) - 1
    assert data is None
    assert f"{WHERE}: $.cases[{last}]: duplicate case (same id as $.cases[0]); remove one of them" in problems.errors


def test_deeply_nested_json_is_one_error():
    error = only_error("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in error or "not valid JSON" in error


def test_multiline_string_value_gives_one_line():
    error = only_error(mutated(lambda d: d["cases"][0].update(framework="py\ntorch\r\u2028x")))
    assert error.startswith(f"{WHERE}: $.cases[0].framework:")


# --- through the CLI on the fixture project --------------------------------------------

def check(root, *args):
    result = run_build(root, "check", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result, [l for l in result.stderr.splitlines() if l.startswith("error: ")]


def test_mixed_environments_warn_and_name_the_field(project):
    path = project / "results" / "fixture-host" / "latency.json"
    doc = json.loads(path.read_text())
    doc["environment"]["cpu_model"] = "Other CPU"
    path.write_text(json.dumps(doc))
    # the fixture template uses only 'latency'; make it compare with 'deploy' as well
    tpl = project / "templates" / "paper.html.j2"
    tpl.write_text(tpl.read_text().replace(
        "{% endblock %}", '<p>{{ fmt_case(case("deploy", mode="torchscript")) }}</p>\n{% endblock %}'))
    result, errors = check(project)
    assert result.returncode == 0 and errors == []
    warning = [l for l in result.stderr.splitlines() if "different environments" in l]
    assert warning == ["warning: results from different environments are compared in this paper: "
                       "cpu_model (deploy: Fixture CPU, latency: Other CPU)"]
    result, errors = check(project, "--strict")
    assert result.returncode == 1 and len(errors) == 1 and "cpu_model (deploy: Fixture CPU" in errors[0]


def test_bad_results_file_and_template_errors_in_one_run_without_cascades(project):
    (project / "results" / "fixture-host" / "latency.json").write_text("{ not json")
    tpl = project / "templates" / "paper.html.j2"
    tpl.write_text(tpl.read_text().replace('cite("hoefler2015scientific")', 'cite("nope1")'))
    result, errors = check(project)
    assert result.returncode == 1
    assert len(errors) == 2, errors
    assert errors[0].startswith("error: results/fixture-host/latency.json:1:3: not valid JSON")
    assert "unknown citation key 'nope1'" in errors[1]


def test_primary_host_without_a_folder_is_one_line(project):
    """``[tool.paper] primary_host`` naming a host with no results folder: one line, no traceback."""
    from support import run_build

    with (project / "pyproject.toml").open("a") as f:
        f.write('primary_host = "elsewhere"\n')
    result = run_build(project, "check")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: pyproject.toml: [tool.paper] primary_host 'elsewhere' has no folder in results; "
                      "hosts: fixture-host"]
