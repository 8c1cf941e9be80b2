"""Every failure the build checks: exit status 1, one line naming the file and where, and the
previous dist/ left byte-for-byte as it was."""

from __future__ import annotations

import json
import re

import pytest

from support import run_build, snapshot

TEMPLATE = "templates/paper.html.j2"


@pytest.fixture
def built(project):
    result = run_build(project)
    assert result.returncode == 0, result.stderr
    return project


def edit(root, rel, old, new):
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(root, rel, needle):
    for i, line in enumerate((root / rel).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def fails_cleanly(root, *args):
    before = snapshot(root / "dist")
    result = run_build(root, "--force", *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(root / "dist") == before, "dist/ changed after a failed build"
    return [l for l in result.stderr.splitlines() if l.startswith("error: ")]


def test_unknown_citation_key(built):
    edit(built, TEMPLATE, 'cite("hoefler2015scientific")', 'cite("hoefler2051typo")')
    errors = fails_cleanly(built)
    line = line_of(built, TEMPLATE, "hoefler2051typo")
    assert errors == [f"error: {TEMPLATE}:{line}: unknown citation key 'hoefler2051typo'; "
                      "add it to references.bib or fix the key"]


def test_unknown_cross_reference(built):
    edit(built, TEMPLATE, 'ref("tab:summary")', 'ref("tab:nothing")')
    errors = fails_cleanly(built)
    line = line_of(built, TEMPLATE, "tab:nothing")
    assert len(errors) == 1 and errors[0].startswith(f"error: {TEMPLATE}:{line}: unknown reference 'tab:nothing'")


def test_unknown_results_value(built):
    edit(built, TEMPLATE, 'value("latency", framework="pytorch"', 'value("latency", framework="jax"')
    errors = fails_cleanly(built)
    line = line_of(built, TEMPLATE, 'framework="jax"')
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {TEMPLATE}:{line}: no case in 'latency' matches framework=jax")


def test_unknown_experiment_in_figure(built):
    edit(built, TEMPLATE, 'experiment="latency", metric="latency") }}', 'experiment="latncy", metric="latency") }}')
    errors = fails_cleanly(built)
    line = line_of(built, TEMPLATE, 'experiment="latncy"')
    assert errors[0].startswith(f"error: {TEMPLATE}:{line}: no results for experiment 'latncy'")


def test_ambiguous_value_lookup(built):
    edit(built, TEMPLATE, 'value("latency", framework="pytorch", mode="eager", model="mlp", metric="latency")',
         'value("latency", metric="latency")')
    errors = fails_cleanly(built)
    assert "2 cases in 'latency' match metric=latency" in errors[0]


def test_unknown_listing_function(built):
    edit(built, TEMPLATE, 'listing("experiments.fake_latency", "run"', 'listing("experiments.fake_latency", "walk"')
    errors = fails_cleanly(built)
    line = line_of(built, TEMPLATE, '"walk"')
    assert errors[0] == (f"error: {TEMPLATE}:{line}: listing: experiments/fake_latency.py: "
                         "no function or class 'walk' to list; check the name")


def test_template_syntax_error(built):
    edit(built, TEMPLATE, "<h2 id=\"sec:method\">Method</h2>", "<h2 id=\"sec:method\">Method {{ oops( </h2>")
    errors = fails_cleanly(built)
    line = line_of(built, TEMPLATE, "oops(")
    assert len(errors) == 1 and re.match(rf"error: .*paper\.html\.j2:{line}: template syntax error", errors[0])


def test_truncated_results_file(built):
    path = built / "results" / "fixture-host" / "latency.json"
    path.write_text(path.read_text()[:200])
    errors = fails_cleanly(built)
    assert len(errors) == 1
    assert re.match(r"error: results/fixture-host/latency\.json:\d+:\d+: not valid JSON", errors[0])


def test_schema_violation_names_json_path(built):
    path = built / "results" / "fixture-host" / "latency.json"
    data = json.loads(path.read_text())
    data["cases"][1]["median"] = -3
    path.write_text(json.dumps(data))
    errors = fails_cleanly(built)
    assert errors == ["error: results/fixture-host/latency.json: $.cases[1].median: -3 is less than the minimum of 0"]


def test_unused_reference_warns_and_strict_fails(built):
    edit(built, TEMPLATE, ' Keras publishes its own numbers {{ cite("keras3benchmarks") }}.', "")
    result = run_build(built, "--force")
    assert result.returncode == 0
    line = line_of(built, "references.bib", "@misc{keras3benchmarks")
    assert f"warning: references.bib:{line}: entry 'keras3benchmarks' is never cited" in result.stderr
    errors = fails_cleanly(built, "--strict")
    assert errors == [f"error: references.bib:{line}: entry 'keras3benchmarks' is never cited; cite it or "
                      "remove it (warning, fatal with --strict)"]


def test_all_problems_reported_at_once(built):
    edit(built, TEMPLATE, 'cite("hoefler2015scientific")', 'cite("nope1")')
    edit(built, TEMPLATE, 'cite("keras3benchmarks")', 'cite("nope2")')
    edit(built, TEMPLATE, 'ref("tab:summary")', 'ref("tab:nope3")')
    errors = fails_cleanly(built)
    assert len(errors) == 3 and all(any(n in e for e in errors) for n in ("nope1", "nope2", "nope3"))
