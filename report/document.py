"""The document being built: what the helpers learn while templates render (``DocumentState``),
the markers they leave, and the finishing pass that numbers sections, builds the table of
contents, places figures and the bibliography and resolves every cross-reference.

Finishing runs after the templates render, once every label in the document is known, so a
reference may point forwards. An unknown label is a build error naming where it was used.
Markers are delimited by NUL, which no input can carry (``results_contract.files`` and the
loaders refuse it), so data can never produce one.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup

from report.charts import ChartSpec
from report.errors import Problems

TOC_MARK = "\x00toc\x00"
BIB_MARK = "\x00bibliography\x00"
REF_MARK = "\x00ref:{}\x00"
FIGURE_MARK = "\x00figure:{}\x00"
KINDS = {"fig": "Figure", "tab": "Table", "lst": "Listing"}


@dataclass
class Figure:
    label: str
    number: int
    caption: str
    spec: ChartSpec
    experiment: str
    source: Path
    module: str
    svg: str = ""
    where: str = ""  # the template line that asked for it
    alt: str = ""    # what the chart shows, in words, for screen readers and the tagged PDF
    # Further (results file, experiment module) pairs a chart draws from, beyond source/module.
    more_sources: tuple[tuple[Path, str], ...] = ()


@dataclass
class DocumentState:
    """Everything the helpers learn while the templates render."""

    citations: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # label -> "Figure 3"
    counters: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    figures: list[Figure] = field(default_factory=list)
    refs: list[tuple[str, str]] = field(default_factory=list)  # (label, where)
    used_experiments: set[str] = field(default_factory=set)
_HEADING = re.compile(r'<h([23])(?P<attrs>[^>]*)>(?P<text>.*?)</h\1>', re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_FIGURE = re.compile("\x00figure:(\\d+)\x00")
_REF = re.compile("\x00ref:([^\x00]*)\x00")


@dataclass
class Heading:
    level: int
    number: str
    anchor: str
    text: str


def number_headings(page: str, state: DocumentState) -> tuple[str, list[Heading]]:
    """Number h2/h3 (skipping class="unnumbered"), give each an id, register sec: labels."""
    counters = [0, 0]
    headings: list[Heading] = []

    def repl(m: re.Match) -> str:
        level, attrs, text = int(m.group(1)), m.group("attrs"), m.group("text")
        idm = _ID.search(attrs)
        anchor = idm.group(1) if idm else f"s{len(headings) + 1}"
        if not idm:
            attrs += f' id="{anchor}"'
        if "unnumbered" in attrs:
            headings.append(Heading(level, "", anchor, text))
            return f"<h{level}{attrs}>{text}</h{level}>"
        if level == 2:
            counters[0] += 1
            counters[1] = 0
            number = str(counters[0])
        else:
            counters[1] += 1
            number = f"{counters[0]}.{counters[1]}"
        headings.append(Heading(level, number, anchor, text))
        if anchor.startswith("sec:"):
            state.labels[anchor] = f"Section {number}"
        return f'<h{level}{attrs}><span class="secnum">{number}</span> {text}</h{level}>'

    return _HEADING.sub(repl, page), headings


def toc_html(headings: list[Heading]) -> str:
    items = []
    for h in headings:
        number = f'<span class="secnum">{h.number}</span> ' if h.number else ""
        items.append(f'<li class="toc-l{h.level}"><a href="#{html.escape(h.anchor)}">{number}{h.text}</a></li>')
    return '<nav class="toc" aria-label="Contents"><h2 class="unnumbered toc-title">Contents</h2><ul>' \
        + "".join(items) + "</ul></nav>"


def prefix_svg_ids(svg: str, prefix: str) -> str:
    """Make matplotlib's ids unique per figure, so several SVGs can live in one page."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)


def titled_svg(svg: str, title: str) -> str:
    """``svg`` with ``<title>`` as its first child: the text screen readers announce and that
    WeasyPrint writes as the tagged PDF's /Alt for the figure."""
    end = svg.index(">", svg.index("<svg")) + 1
    return f"{svg[:end]}<title>{html.escape(title)}</title>{svg[end:]}"


def figure_html(fig: Figure, provenance: str) -> str:
    svg = (titled_svg(prefix_svg_ids(fig.svg, f"f{fig.number}-"), fig.alt or fig.caption) if fig.svg
           else '<div class="svg-missing"></div>')
    return (f'<figure class="chart" id="{html.escape(fig.label)}"><div class="svg" role="img" '
            f'aria-label="{html.escape(fig.alt or fig.caption)}">{svg}</div>'
            f'<figcaption><span class="label">Figure {fig.number}.</span> {html.escape(fig.caption)} '
            f'<span class="provenance">{provenance}</span></figcaption></figure>')


def bibliography_html(formatted: dict[str, str], order: list[str]) -> str:
    items = "".join(
        f'<li id="ref-{html.escape(key)}"><span class="refnum">[{i}]</span> {formatted.get(key, "")}</li>'
        for i, key in enumerate(order, 1))
    return f'<ol class="references">{items}</ol>'


def finish(page: str, state: DocumentState, problems: Problems, formatted_refs: dict[str, str],
           provenance_for: dict[int, str]) -> tuple[str, list[Heading]]:
    """Replace every placeholder; unresolved references are recorded as errors."""
    page, headings = number_headings(page, state)
    page = page.replace(TOC_MARK, toc_html(headings))
    page = page.replace(BIB_MARK, bibliography_html(formatted_refs, state.citations))
    def place_figure(m: re.Match) -> str:
        index = int(m.group(1))
        if index >= len(state.figures):  # cannot come from data (NUL is refused on input)
            raise AssertionError(f"figure marker {index} without a figure")
        return figure_html(state.figures[index], provenance_for.get(index, ""))

    page = _FIGURE.sub(place_figure, page)
    known = state.labels
    for label, where in state.refs:
        if label not in known:
            problems.error(f"{where}: unknown reference '{label}'; define a figure, table, listing or "
                           "heading with that label")

    def resolve(m: re.Match) -> str:
        label = html.unescape(m.group(1))
        if label not in known:
            return '<span class="unresolved">[??]</span>'
        return f'<a class="xref" href="#{html.escape(label)}">{known[label]}</a>'

    return _REF.sub(resolve, page), headings


def toc() -> Markup:
    """The table of contents, built from the numbered headings when the page is finished."""
    return Markup(TOC_MARK)


def bibliography() -> Markup:
    """The list of references, in order of first citation, placed when the page is finished."""
    return Markup(BIB_MARK)
