"""A citable, archival PDF: CITATION.cff is valid and current; the PDF is PDF/A-3a (tagged, alt
text on figures) with full metadata, embeds the results and environment, and page 1 renders with content."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import tomllib

from support import REPO
from report.cff import cff_problems, load_cff

STEM = "fixture-paper-v1.2.3"
needs_poppler = pytest.mark.skipif(shutil.which("pdfinfo") is None or shutil.which("pdftoppm") is None,
                                   reason="needs poppler-utils (installed by .ci/run)")


def pdf_of(root: Path) -> Path:
    return root / "dist" / f"{STEM}.pdf"


# --- CITATION.cff ------------------------------------------------------------------------------

def test_citation_cff_is_valid_and_matches_pyproject_version():
    assert cff_problems(REPO / "CITATION.cff", REPO / "pyproject.toml") == []
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    cff = load_cff(REPO / "CITATION.cff")
    assert str(cff["version"]) == version
    assert str(cff["preferred-citation"]["version"]) == version


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("title:", "titel:", 1), "'title' is a required property"),
    (lambda t: t.replace('  - name: "The pt-vs-tf survey contributors"\n', "", 1), "authors"),
    (lambda t: t + "date-released: 2026-13-45\n", "is not a 'date'"),
    (lambda t: t + "doi: not-a-doi\n", "doi"),
    (lambda t: t + "repository-code: github.com/no-scheme\n", "repository-code"),
    (lambda t: t.replace("version: 0.1.0", "version: 9.9.9", 1), "version is '9.9.9' but pyproject.toml"),
    (lambda t: t.replace("cff-version: 1.2.0", "cff-version: 1.1.0"), "cff-version must be 1.2.0"),
])
def test_invalid_citation_cff_is_rejected(tmp_path, edit, expected):
    text = (REPO / "CITATION.cff").read_text()
    bad = tmp_path / "CITATION.cff"
    bad.write_text(edit(text))
    assert bad.read_text() != text
    problems = cff_problems(bad, REPO / "pyproject.toml")
    assert problems and any(expected in p for p in problems), problems


# --- PDF ---------------------------------------------------------------------------------------

def test_pdf_metadata_and_pdfa_identification(built_fixture):
    import pypdf

    reader = pypdf.PdfReader(pdf_of(built_fixture))
    info = reader.metadata
    assert info["/Title"] == "A Fixture Paper: Testing the Generator"
    assert info["/Author"] == "Ada Tester, Bob Fixture"
    assert info["/Subject"].startswith("A small project that exercises every part of the build")
    assert "version 1.2.3" in info["/Subject"]
    assert info["/Keywords"] == "fixture, test"
    assert info["/version"] == "1.2.3"
    assert info["/CreationDate"].startswith("D:20260102")
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="A"' in xmp  # PDF/A-3a: tagged
    assert "<rdf:li>Ada Tester</rdf:li>" in xmp
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    # PDF/A-3 associated files: each attachment is declared in /AF (WeasyPrint 70 lists each twice).
    assert len({ref.idnum for ref in root["/AF"]}) == 4


def test_pdf_is_tagged_with_alt_text_for_every_figure(built_fixture):
    import pypdf

    root = pypdf.PdfReader(pdf_of(built_fixture)).trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"]
    tree = root["/StructTreeRoot"].get_object()
    figures, seen = [], set()

    def walk(node):
        node = node.get_object() if hasattr(node, "get_object") else node
        if id(node) in seen or not isinstance(node, dict):
            return
        seen.add(id(node))
        if node.get("/S") == "/Figure":
            figures.append(node)
        kids = node.get("/K")
        for kid in (kids if isinstance(kids, list) else [kids] if kids is not None else []):
            walk(kid)

    walk(tree)
    assert figures, "no /Figure structure element"
    assert all(str(f.get("/Alt", "")).strip() for f in figures), [f.get("/Alt") for f in figures]


def test_pdf_embeds_results_and_environment(built_fixture):
    import json

    import pypdf

    files = pypdf.PdfReader(pdf_of(built_fixture)).attachments
    assert sorted(files) == ["all-cases.csv", "environment.json", "results/fixture-host/deploy.json",
                            "results/fixture-host/latency.json"]
    assert files["results/fixture-host/latency.json"][0] == \
        (built_fixture / "results" / "fixture-host" / "latency.json").read_bytes()
    env = json.loads(files["environment.json"][0])
    assert env["fixture-host"]["latency"]["cpu_model"] == "Fixture CPU"


@needs_poppler
def test_pdfinfo_and_pdfdetach_see_metadata_and_attachments(built_fixture):
    info = subprocess.run(["pdfinfo", str(pdf_of(built_fixture))], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"^Title:\s+A Fixture Paper: Testing the Generator$", info, re.M)
    assert re.search(r"^Author:\s+Ada Tester, Bob Fixture$", info, re.M)
    assert re.search(r"^Keywords:\s+fixture, test$", info, re.M)
    assert re.search(r"^Subject:.*version 1\.2\.3", info, re.M)
    listing = subprocess.run(["pdfdetach", "-list", str(pdf_of(built_fixture))], capture_output=True,
                             text=True, check=True).stdout
    assert "4 embedded files" in listing
    for name in ("all-cases.csv", "environment.json", "results/fixture-host/deploy.json",
                 "results/fixture-host/latency.json"):
        assert name in listing


@needs_poppler
def test_first_page_renders_with_content(built_fixture, tmp_path):
    out = tmp_path / "page1"
    subprocess.run(["pdftoppm", "-gray", "-r", "40", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf_of(built_fixture)), str(out)], check=True, capture_output=True)
    data = (tmp_path / "page1.pgm").read_bytes()
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert m, data[:20]
    width, height = int(m.group(1)), int(m.group(2))
    pixels = data[m.end():]
    assert len(pixels) == width * height and width > 200 and height > 300  # A4 at 40 dpi
    inked = sum(1 for p in pixels if p < 200)  # anti-aliased text at 40 dpi is mostly grey
    assert inked / len(pixels) > 0.005, f"page 1 is (nearly) blank: {inked} inked pixels"
    # Ink in the upper third (the title block), not only a footer.
    assert sum(1 for p in pixels[: len(pixels) // 3] if p < 200) > 300


# --- charts reach WeasyPrint as images of the same SVG ------------------------------------------

def test_charts_as_images_keeps_each_svg_whole_with_its_title_as_alt_text():
    import base64

    from report.pdf import charts_as_images

    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="10pt" height="5pt"><title>Bars &amp; '
           '&quot;whiskers&quot;</title><path d="M0 0L1 1"/></svg>')
    page = f'<p>before</p><div class="svg" role="img">{svg}</div><p>between</p><div class="svg">{svg}</div>'
    out = charts_as_images(page)
    assert "<svg" not in out and out.count('<img class="chart-image"') == 2
    assert out.startswith("<p>before</p>") and "<p>between</p>" in out
    assert 'alt="Bars &amp; &quot;whiskers&quot;"' in out  # the title's escaping is kept, not doubled
    data = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', out).group(1)
    assert base64.b64decode(data).decode() == svg
    assert charts_as_images("<p>no charts</p>") == "<p>no charts</p>"
