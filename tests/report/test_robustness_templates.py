"""Template mistakes not covered by test_report_failures.py, through `build.py check` (fast),
plus autoescaping of context strings."""

from __future__ import annotations

import re

import jinja2
from markupsafe import Markup

from support import run_build
from report.templates import make_environment

TEMPLATE = "templates/paper.html.j2"


def edit(root, old, new):
    path = root / TEMPLATE
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(root, needle):
    for i, line in enumerate((root / TEMPLATE).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def check_errors(root, *args):
    result = run_build(root, "check", *args)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stdout + result.stderr
    assert not (root / "dist").exists(), "check must not write anything"
    return [l for l in result.stderr.splitlines() if l.startswith("error: ")]


def test_unknown_figure_label(project):
    edit(project, 'ref("fig:latency")', 'ref("fig:latncy")')
    errors = check_errors(project)
    line = line_of(project, "fig:latncy")
    assert len(errors) == 1 and errors[0].startswith(f"error: {TEMPLATE}:{line}: unknown reference 'fig:latncy'")


def test_duplicate_label(project):
    edit(project, '{{ listing("experiments.fake_latency", "run", label="lst:run") }}',
         '{{ listing("experiments.fake_latency", "run", label="lst:run") }}\n'
         '{{ listing("experiments.fake_latency", "run", label="lst:run") }}')
    errors = check_errors(project)
    line = line_of(project, 'label="lst:run") }}') + 1
    assert errors == [f"error: {TEMPLATE}:{line}: label 'lst:run' is defined twice; labels must be unique"]


def test_listing_of_missing_module(project):
    edit(project, 'listing("experiments.fake_latency", "run"', 'listing("experiments.no_such_module", "run"')
    errors = check_errors(project)
    line = line_of(project, "no_such_module")
    assert len(errors) == 1 and errors[0].startswith(f"error: {TEMPLATE}:{line}: listing: ")


def test_undefined_variable_names_line(project):
    edit(project, "<h2 id=\"sec:method\">Method</h2>", "<h2 id=\"sec:method\">Method {{ no_such_thing }}</h2>")
    errors = check_errors(project)
    line = line_of(project, "no_such_thing")
    assert len(errors) == 1 and errors[0].startswith(f"error: {TEMPLATE}:{line}: 'no_such_thing' is undefined")


def test_syntax_error_reported_with_bibliography_error_in_one_run(project):
    edit(project, "<h2 id=\"sec:method\">Method</h2>", "<h2 id=\"sec:method\">Method {% if %}</h2>")
    bib = project / "references.bib"
    bib.write_text(bib.read_text().replace("  year = {2015},\n", ""))
    errors = check_errors(project)
    line = line_of(project, "{% if %}")
    assert any("hoefler2015scientific: missing year" in e for e in errors), errors
    assert any(re.match(rf"error: .*paper\.html\.j2:{line}: template syntax error", e) for e in errors), errors
    assert len(errors) == 2


def test_failed_value_lookup_does_not_crash_formatting_helpers(project):
    # case() finds nothing -> None; fmt_case(None) must not abort the render with an AttributeError
    edit(project, 'fmt_case(case("latency", framework="pytorch", metric="latency"))',
         'fmt_case(case("latency", framework="jax", metric="latency"))')
    edit(project, 'cite("keras3benchmarks")', 'cite("nope2")')
    errors = check_errors(project)
    assert len(errors) == 2, errors
    assert "unknown citation key 'nope2'" in errors[0] and "no case in 'latency' matches framework=jax" in errors[1]


def test_context_strings_are_autoescaped(tmp_path):
    (tmp_path / "t.html.j2").write_text("<p>{{ s }}</p><p>{{ m }}</p><p title=\"{{ s }}\">x</p>")
    env = make_environment(tmp_path)
    out = env.get_template("t.html.j2").render(s='<script>alert("&")</script>\'', m=Markup("<b>ok</b>"))
    assert out == ("<p>&lt;script&gt;alert(&#34;&amp;&#34;)&lt;/script&gt;&#39;</p><p><b>ok</b></p>"
                   "<p title=\"&lt;script&gt;alert(&#34;&amp;&#34;)&lt;/script&gt;&#39;\">x</p>")
    assert isinstance(env, jinja2.Environment) and env.autoescape is True
