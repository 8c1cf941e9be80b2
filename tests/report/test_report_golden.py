"""Golden end-to-end build of the fixture project: HTML and PDF content as a reader sees it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from support import git, run_build

STEM = "fixture-paper-v1.2.3"


def html_of(root):
    return (root / "dist" / f"{STEM}.html").read_text(encoding="utf-8")


def test_outputs_are_versioned(built_fixture):
    assert (built_fixture / "dist" / f"{STEM}.html").is_file()
    assert (built_fixture / "dist" / f"{STEM}.pdf").read_bytes().startswith(b"%PDF-")


def test_html_is_self_contained(built_fixture):
    page = html_of(built_fixture)
    assert "<style>" in page and "<svg" in page
    assert not re.search(r'<link[^>]+stylesheet|<script[^>]+src=|<img[^>]+src="(?!data:)', page)


def test_citations_resolve_in_order_of_first_use(built_fixture):
    page = html_of(built_fixture)
    assert '<a class="cite" href="#ref-paszke2019pytorch">1</a>' in page
    assert '<a class="cite" href="#ref-abadi2016tensorflow">2</a>' in page
    assert '<a class="cite" href="#ref-hoefler2015scientific">3</a>' in page
    assert "[??]" not in page
    refs = page[page.index('class="references"'):]
    assert refs.index("ref-paszke2019pytorch") < refs.index("ref-abadi2016tensorflow") < refs.index("ref-keras3benchmarks")
    # LaTeX accents became Unicode, the corporate author stayed whole, DOIs and arXiv ids are links.
    assert "A. Paszke <i>et al.</i>" in refs and "Martín Abadi" not in refs and "M. Abadi" in refs
    assert "Keras Team" in refs
    assert 'href="https://doi.org/10.1145/2807591.2807644"' in refs
    assert 'href="https://arxiv.org/abs/1912.01703"' in refs


def test_figures_tables_listings_are_numbered_and_cross_referenced(built_fixture):
    page = html_of(built_fixture)
    assert '<figure class="chart" id="fig:latency">' in page
    assert '<span class="label">Figure 1.</span>' in page
    assert '<span class="label">Table 1.</span>' in page
    assert '<a class="xref" href="#fig:latency">Figure 1</a>' in page
    assert '<a class="xref" href="#tab:summary">Table 1</a>' in page
    assert '<a class="xref" href="#sec:method">Section 2</a>' in page
    assert '<a class="xref" href="#lst:run">Listing 1</a>' in page


def test_listing_is_highlighted_from_the_real_source(built_fixture):
    page = html_of(built_fixture)
    listing = page[page.index('id="lst:run"'):]
    assert '<div class="highlight">' in listing
    assert '<span class="k">def</span>' in listing and '<span class="nf">run</span>' in listing
    assert "experiments/fake_latency.py, lines 4–7" in listing


def test_values_and_comparison_sentence_come_from_results(built_fixture):
    page = html_of(built_fixture)
    assert "0.11 ms (95% CI 0.105–0.115 ms)" in page
    assert "PyTorch eager (0.11 ms) is 2.73× faster than TensorFlow eager (0.3 ms)" in page


def test_version_commit_and_date_are_stamped(built_fixture):
    page = html_of(built_fixture)
    commit = git(built_fixture, "rev-parse", "HEAD")
    assert '<span class="version">1.2.3</span>' in page
    assert f'<code class="commit">{commit[:10]}</code>' in page
    assert "2026-01-02" in page  # the commit's date: a clean tree builds reproducibly
    assert "modified" not in page


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (installed by .ci/run)")
def test_pdf_text(built_fixture):
    text = subprocess.run(["pdftotext", "-layout", str(built_fixture / "dist" / f"{STEM}.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    commit = git(built_fixture, "rev-parse", "HEAD")[:10]
    assert "A Fixture Paper: Testing the Generator" in text
    assert "Version 1.2.3" in text and commit in text
    assert "Figure 1." in text and "Table 1." in text and "Listing 1." in text
    assert "[1, 2]" in text and "P. Barham" in text
    assert re.search(r"page 1 of \d", text)


def test_dirty_tree_is_flagged(project):
    (project / "templates" / "paper.html.j2").write_text(
        (project / "templates" / "paper.html.j2").read_text() + "\n")
    result = run_build(project)
    assert result.returncode == 0, result.stderr
    assert "modified: the working tree differs from this commit" in html_of(project)


def test_second_build_does_no_work(project):
    first = run_build(project)
    assert first.returncode == 0, first.stderr
    before = (project / "dist" / f"{STEM}.pdf").stat().st_mtime_ns
    second = run_build(project)
    assert second.returncode == 0 and "up to date" in second.stdout
    assert (project / "dist" / f"{STEM}.pdf").stat().st_mtime_ns == before
    # A changed input is noticed.
    (project / "results" / "fixture-host" / "latency.json").write_text(
        (project / "results" / "fixture-host" / "latency.json").read_text().replace("0.3,", "0.32,"))
    third = run_build(project)
    assert third.returncode == 0 and "built" in third.stdout, third.stdout
