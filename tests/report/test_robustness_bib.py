"""Bad references.bib input: one line naming the file and line; LaTeX that does not convert
is kept readable with a warning; hostile text is escaped in HTML and literal in the PDF."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from support import run_build
from report.bibliography import convert_latex, format_entries, parse_bibliography
from report.errors import Problems


def parse(text):
    problems = Problems()
    bib = parse_bibliography(text, "refs.bib", problems)
    return bib.entries, problems, bib.refused


def test_syntax_error_names_the_line_and_remembers_the_key():
    entries, problems, failed = parse("@misc{ok, title = {Fine}, year = {2020}}\n\n"
                                      "@misc{broken title = {T}, year = {2020}}\n")
    assert list(entries) == ["ok"] and failed == {"broken"}
    assert problems.errors == ["refs.bib:3: cannot parse '@misc{broken title ='; "
                               "check for unbalanced braces or a missing comma"]
    _, problems, failed = parse("@misc{fine, title = {Fine}, year = {2020}}\n@misc{open, title = {Open, year = {2020}}\n")
    assert failed == {"open"} and problems.errors[0].startswith("refs.bib:2: cannot parse")


def test_missing_title_author_year_each_named():
    _, problems, _ = parse("@article{t, author = {A, B}, journal = {J}, year = {2020}}\n"
                           "@article{a, title = {T}, journal = {J}, year = {2020}}\n"
                           "@article{y, author = {A, B}, title = {T}, journal = {J}}\n"
                           "@article{z, author = {A, B}, title = {T}, journal = {J}, year = {20x0}}\n")
    assert problems.errors == [
        "refs.bib:1: t: missing title; add it",
        "refs.bib:2: a: missing author (or editor); add it (use {Organisation Name} for a corporate author)",
        "refs.bib:3: y: missing year; add it",
        "refs.bib:4: z: year '20x0' is not a four-digit year (a letter suffix such as 2023a is allowed)",
    ]


@pytest.mark.parametrize("doi", ["https://example.org/10.1/x", "10.12/short-prefix", "10.1145/"])
def test_malformed_doi(doi):
    _, problems, _ = parse(f"@misc{{d, title = {{T}}, year = {{2020}}, doi = {{{doi}}}}}\n")
    assert problems.errors == [f"refs.bib:1: d: malformed DOI '{doi}'; expected the form 10.NNNN/suffix"]


def test_doi_url_form_is_accepted_and_normalised():
    entries, problems, _ = parse("@misc{d, title = {T}, year = {2020}, doi = {https://doi.org/10.1145/2807591.2807644}}")
    assert problems.errors == [] and entries["d"].fields["doi"] == "10.1145/2807591.2807644"


def test_unknown_macro_is_kept_readable_and_warns():
    entries, problems, _ = parse(r"@misc{m, title = {A \unknownmacro{fast} and \texttt{tf.function} study}, year = {2020}}")
    assert entries["m"].fields["title"] == "A fast and tf.function study"
    assert problems.errors == []
    assert problems.warnings == [
        r"refs.bib:1: m.title: LaTeX 'A \unknownmacro{fast} and \texttt{tf.function} study' (unknown \unknownmacro) "
        "did not convert cleanly; kept as 'A fast and tf.function study', write it in Unicode instead"]


def test_pylatexenc_failure_falls_back_to_readable_text_and_warns():
    text, issue = convert_latex(r"\href{https://a.example}{the site}")
    assert "\\" not in text and "the site" in text and issue.startswith("pylatexenc failed")


def test_known_latex_does_not_warn():
    _, problems, _ = parse(r"@misc{k, author = {K{\"o}pf, A.}, title = {{PyTorch} \& Mart{\'\i}n's \emph{Re}view--2}, year = {2020}}")
    assert problems.warnings == [] and problems.errors == []


def test_multiline_field_warning_is_one_line():
    _, problems, _ = parse("@misc{m, title = {First line\n  \\unknownmacro{x}\n  third}, year = {2020}}")
    assert len(problems.warnings) == 1 and "\n" not in problems.warnings[0]


def test_quotes_and_ampersand_escaped_in_formatted_html():
    entries, _, _ = parse(r"""@misc{q, author = {O'Brien, Pat}, title = {Tom \& Jerry's "<img src=x onerror=alert(1)>"}, year = {2020}}""")
    out = format_entries(entries, ["q"], "ieee")["q"]
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out and "Tom &amp; Jerry" in out


# --- through the CLI -------------------------------------------------------------------

def test_failed_entry_is_not_reported_again_as_unknown_citation(project):
    bib = project / "references.bib"
    bib.write_text(bib.read_text().replace("@inproceedings{hoefler2015scientific,",
                                           "@inproceedings{hoefler2015scientific"))
    result = run_build(project, "check")
    errors = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(errors) == 1 and errors[0].startswith("error: references.bib:") and "cannot parse" in errors[0]


def test_duplicate_key_through_cli(project):
    bib = project / "references.bib"
    bib.write_text(bib.read_text() + "\n@misc{keras3benchmarks, title = {Again}, year = {2024}}\n")
    line = bib.read_text().splitlines().index("@misc{keras3benchmarks, title = {Again}, year = {2024}}") + 1
    result = run_build(project, "check")
    assert result.returncode == 1
    assert f"error: references.bib:{line}: duplicate key 'keras3benchmarks'; rename or remove one entry" \
        in result.stderr.splitlines()


HOSTILE = '<script>alert("x")</script> & "quoted" \'single\''


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext not installed")
def test_hostile_text_escaped_in_html_and_literal_in_pdf(project):
    bib = project / "references.bib"
    bib.write_text(bib.read_text().replace("{Keras 3 benchmarks}", r"{Keras <script>alert(1)</script> \& ``Co''}"))
    path = project / "results" / "fixture-host" / "deploy.json"
    doc = json.loads(path.read_text())
    doc["cases"][0]["error"] = HOSTILE
    path.write_text(json.dumps(doc))
    tpl = project / "templates" / "paper.html.j2"
    tpl.write_text(tpl.read_text().replace(
        "{% endblock %}", '<p id="hostile">{{ fmt_case(case("deploy", mode="torchscript")) }}</p>\n{% endblock %}'))
    result = run_build(project, "--force")
    assert result.returncode == 0, result.stderr
    html = next((project / "dist").glob("*.html")).read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;quoted&#34; &#39;single&#39;" in html
    pdf = next((project / "dist").glob("*.pdf"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "<script>alert(1)</script>" in flat
    assert '<script>alert("x")</script> & "quoted" \'single\'' in flat
