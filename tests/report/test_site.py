"""The documentation site (`make site` = `python build.py site`), built from the fixture project
with this repository's mkdocs.yml, docs/, CHANGELOG.md and CITATION.cff."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from support import STEM, run_site


pytest.importorskip("mkdocs", reason="needs mkdocs (requirements/test.txt)")


def test_site_has_every_page(site_project):
    site = site_project / "site"
    for page in ("index", "paper", "results", "reproduce", "contributing", "helpers", "cite", "changelog"):
        assert (site / f"{page}.html").is_file(), page  # use_directory_urls: false
    assert not (site / "search").exists()  # no search plugin: nothing to fail under file://
    assert not (site / "assets" / "javascripts" / "lunr").exists()  # unused theme files pruned
    index = (site / "index.html").read_text()
    assert "fonts.googleapis.com" not in index  # works offline


def test_paper_is_the_built_dist_html_and_pdf(site_project):
    site, dist = site_project / "site", site_project / "dist"
    assert (site / "paper" / f"{STEM}.html").read_bytes() == (dist / f"{STEM}.html").read_bytes()
    assert (site / "paper" / f"{STEM}.pdf").read_bytes() == (dist / f"{STEM}.pdf").read_bytes()
    page = (site / "paper.html").read_text()
    assert f'href="paper/{STEM}.pdf"' in page and "Download the PDF" in page
    assert f'src="paper/{STEM}.html"' in page
    # The figure's provenance links point at files the site carries.
    paper = (site / "paper" / f"{STEM}.html").read_text()
    assert 'href="../results/fixture-host/latency.json"' in paper and 'href="../experiments/fake_latency.py"' in paper
    assert (site / "results" / "fixture-host" / "latency.json").is_file() and (site / "experiments" / "fake_latency.py").is_file()


def test_results_are_downloadable_as_json_and_csv(site_project):
    site = site_project / "site"
    original = json.loads((site_project / "results" / "fixture-host" / "latency.json").read_text())
    assert json.loads((site / "results" / "fixture-host" / "latency.json").read_text()) == original
    rows = list(csv.DictReader(io.StringIO((site / "results" / "fixture-host" / "latency.csv").read_text())))
    assert len(rows) == len(original["cases"])
    first = original["cases"][0]
    row = next(r for r in rows if r["id"] == first["id"])
    assert float(row["median"]) == first["median"] and float(row["ci95_low"]) == first["ci95"][0]
    assert row["param_batch_size"] == str(first["params"]["batch_size"]) and row["experiment"] == "latency"
    every = list(csv.DictReader(io.StringIO((site / "results" / "all-cases.csv").read_text())))
    assert {r["experiment"] for r in every} == {"latency", "deploy"}
    assert {r["host"] for r in every} == {"fixture-host"}
    page = (site / "results.html").read_text()
    assert 'href="results/fixture-host/latency.csv"' in page and 'href="results/fixture-host/latency.json"' in page


def text_of(path: Path) -> str:
    """The page's text, as a reader sees it (code blocks are split into highlighted spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_cite_page_has_bibtex_for_the_paper(site_project):
    page = text_of(site_project / "site" / "cite.html")
    assert "@techreport{fixture-paper-v1.2.3," in page
    assert "A Fixture Paper: Testing the Generator" in page and "1.2.3" in page
    bib = (site_project / "site" / "paper.bib").read_text()
    assert bib.startswith("@techreport{fixture-paper-v1.2.3,") and "author   = {Ada Tester and Bob Fixture}" in bib
    assert "cff-version" in page  # CITATION.cff shown too


def test_changelog_reproduce_and_contributing_pages(site_project):
    site = site_project / "site"
    assert "1.2.3" in text_of(site / "changelog.html")
    reproduce = text_of(site / "reproduce.html")
    assert "make experiments" in reproduce and "make verify" in reproduce
    assert "{{" not in reproduce and f"dist/{STEM}.pdf" in reproduce  # placeholders were filled
    # Reproduce on your machine, then compare it with ours (the primary host, filled in).
    assert "build.py compare fixture-host" in reproduce and "--fail-on-regression" in reproduce
    assert "experiments/<name>.py" in text_of(site / "contributing.html")


def test_strict_build_fails_on_a_broken_link(site_project, tmp_path):
    root = tmp_path / "paper"
    shutil.copytree(site_project, root, ignore=shutil.ignore_patterns("site", "build"))
    (root / "docs" / "reproduce.md").write_text("# Reproduce\n\nSee [nowhere](missing-page.md).\n")
    result = run_site(root, "--no-build")
    assert result.returncode == 1
    assert "missing-page.md" in result.stderr
    assert not (root / "site" / "index.html").exists()
