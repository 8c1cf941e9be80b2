"""Charts drawn with matplotlib from results cases, as deterministic, self-contained SVG.

One SVG serves both outputs: inlined in the HTML, and drawn as vector graphics by WeasyPrint
in the PDF. The figure size and font are fixed, text stays text (``svg.fonttype = none``), ids
are salted with a constant and no date is written, so the same data gives the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from report.cache import source_of

from results_contract import Case

FIGSIZE = (6.4, 2.75)  # inches; the HTML and the PDF both scale it to the column width
RATIO_ROW_INCHES = 0.22  # a ratio chart grows with its rows, so two series' markers never overlap
RATIO_BASE_INCHES = 0.9  # its legend and axis label
FONT = "DejaVu Sans"

# One colour per framework, far apart in luminance so they survive greyscale printing;
# modes of one framework are told apart by hatching.
FRAMEWORK_COLOURS = {
    "pytorch": "#c2410c",      # dark orange
    "tensorflow": "#fdba74",   # light orange
    "keras": "#1d4ed8",        # dark blue
    "onnxruntime": "#93c5fd",  # light blue
    "litert": "#4b5563",       # grey
}
# For series that are not frameworks: alternating dark and light, so neighbours differ in greyscale.
SERIES_COLOURS = ["#c2410c", "#93c5fd", "#1d4ed8", "#fdba74", "#4b5563", "#d1d5db"]
# Line hatches only: a dot or circle hatch ("..", "oo") becomes thousands of Bezier circles
# per pattern tile (67 kB of path per pattern), which made drawing the PDF several seconds slower.
HATCHES = ["", "//", "\\\\", "xx", "--", "||", "++", "/"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


@dataclass(frozen=True)
class Point:
    """One dot of a ratio chart: a row label, the ratio, its CI (or None) and its series."""

    label: str
    value: float
    low: float | None
    high: float | None
    series: str


@dataclass
class ChartSpec:
    """What to plot: cases of one metric, x positions by one field, one series per key; or, for
    ``kind="ratio"``, ready-made points (a dot plot of ratios on a linear scale, a line at 1)."""

    kind: str
    cases: list[Case]
    x: str
    series: Sequence[str]
    ylabel: str
    log: bool = False
    xlabel: str | None = None
    x_order: Sequence[Any] | None = None
    series_labels: dict[str, str] = field(default_factory=dict)
    x_labels: dict[Any, str] = field(default_factory=dict)
    hline: float | None = None          # a reference line (e.g. the measured peak)
    hline_label: str | None = None
    points: Sequence[Point] = ()
    band: float | None = None           # ratio charts: shade 1/(1+band) .. 1+band ("within")


def field_value(case: Case, name: str) -> Any:
    """A case's identifying field, or else one of its parameters (e.g. ``n`` is the matrix size
    parameter, not the sample count)."""
    return case.field(name)


def series_key(case: Case, fields: Sequence[str]) -> str:
    return " ".join(str(field_value(case, f)) for f in fields)


def _series_label(spec: ChartSpec, key: str, by_series: dict[str, list[Case]]) -> str:
    """The legend text: an explicit label, else "PyTorch eager"-style names for framework+mode."""
    if key in spec.series_labels:
        return spec.series_labels[key]
    if tuple(spec.series) == ("framework", "mode"):
        from report.formatting import case_label

        return case_label(by_series[key][0])
    return display_label(by_series[key][0], spec.series)


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def log_tick(value: float) -> str:
    """A log-axis tick as a reader writes it: "0.01", "1", "1,000", "100,000", and "10⁶" beyond
    that (plain text: the charts keep mathtext off, so "$10^3$" would print literally). Throughput
    axes reach 10⁵; printing it in digits keeps one notation on an axis that also shows 10,000."""
    if value <= 0:
        return ""
    exponent = round(math.log10(value))
    if abs(value - 10 ** exponent) > 1e-9 * value:
        return ""
    if -3 <= exponent <= 5:
        return f"{value:,.{max(0, -exponent)}f}"
    return "10" + str(exponent).translate(SUPERSCRIPT)


def plain_tick(value: float) -> str:
    """A tick between powers of ten, in plain digits ("0.2", "5", "2,000")."""
    if value <= 0:
        return ""
    digits = max(0, -math.floor(math.log10(value)))
    return f"{value:,.{digits}f}"


def _sentence_case(text: str | None) -> str | None:
    """Axis labels start with a capital ("Latency per call (ms)"); the rest is left as written."""
    return text[:1].upper() + text[1:] if text else text


def display_label(case: Case, fields: Sequence[str]) -> str:
    """A reader's name for a series: ids through the vocabulary's display names, capitalised
    ("PyTorch", "CNN", "Threads 2"), never a raw lower-case id."""
    from results_contract.vocabulary import FRAMEWORK_NAMES, MODE_NAMES, MODEL_NAMES

    names = {"framework": FRAMEWORK_NAMES, "mode": MODE_NAMES, "model": MODEL_NAMES}
    parts = []
    for f in fields:
        value = str(field_value(case, f))
        parts.append(names[f].get(value, value.replace("_", " ")) if f in names else f"{f.replace('_', ' ')} {value}")
    text = " ".join(parts)
    return text[:1].upper() + text[1:]


def _style(series: list[str], cases_by_series: dict[str, list[Case]]) -> dict[str, dict[str, Any]]:
    styles, per_framework = {}, {}
    if any(len({c.framework for c in cases_by_series[key]}) > 1 for key in series):
        # Series that are not frameworks (the deployment chart's models span every runtime): one
        # colour and one hatch per series, so they differ in print and in greyscale alike.
        return {key: {"color": SERIES_COLOURS[i % len(SERIES_COLOURS)], "hatch": HATCHES[i % len(HATCHES)],
                      "marker": MARKERS[i % len(MARKERS)]} for i, key in enumerate(series)}
    for key in series:
        fw = cases_by_series[key][0].framework
        n = per_framework.get(fw, 0)
        per_framework[fw] = n + 1
        styles[key] = {"color": FRAMEWORK_COLOURS.get(fw, "#6b7280"), "hatch": HATCHES[n % len(HATCHES)],
                       "marker": MARKERS[len(styles) % len(MARKERS)]}
    return styles


def render_svg(spec: ChartSpec) -> str:
    """Draw ``spec`` and return the SVG text (no XML prolog, ready to inline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rc = {"svg.fonttype": "none", "svg.hashsalt": "pt-vs-tf-survey", "font.family": FONT,
          "font.size": 8.5, "axes.spines.top": False, "axes.spines.right": False,
          "hatch.linewidth": 0.6, "path.simplify": False,
          # Labels come from data (mode and model names): "$" is a dollar sign, not mathtext.
          "text.parse_math": False}
    with matplotlib.rc_context(rc):
        fig, ax = plt.subplots(figsize=figure_size(spec))
        try:
            {"bar": _draw_bars, "line": _draw_lines, "ratio": _draw_ratios}[spec.kind](ax, spec)
            if spec.kind != "ratio":
                ax.set_ylabel(_sentence_case(spec.ylabel))
            if spec.xlabel:
                ax.set_xlabel(_sentence_case(spec.xlabel))
            if spec.log:
                from matplotlib.ticker import FuncFormatter, LogLocator

                ax.set_yscale("log")
                ax.yaxis.set_major_locator(LogLocator(base=10))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: log_tick(v)))
                lo, hi = ax.get_ylim()
                if lo > 0:  # down to the decade below the data, so every value sits above a labelled tick
                    lo = 10 ** math.floor(math.log10(lo))
                    ax.set_ylim(bottom=lo)
                narrow = lo > 0 and math.log10(hi / lo) < 1.5  # few decades: label 2×, 5× too
                ax.yaxis.set_minor_formatter(FuncFormatter(
                    lambda v, _pos: plain_tick(v) if narrow and str(plain_tick(v))[:1] in "25" else ""))
            if spec.hline is not None:
                ax.axhline(spec.hline, color="#111827", linewidth=0.9, linestyle=(0, (4, 2)),
                           label=spec.hline_label)
            ax.grid(axis="x" if spec.kind == "ratio" else "y", linewidth=0.4, alpha=0.5)
            ax.set_axisbelow(True)
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                # Above the axes, so it never covers a bar or a line.
                ax.legend(handles, labels, fontsize=7.5, frameon=False, ncol=min(3, len(labels)),
                          loc="lower center", bbox_to_anchor=(0.5, 1.0), borderaxespad=0.3)
            fig.tight_layout()
            buf = io.StringIO()
            # bbox_inches="tight": the legend sits above the axes, outside what tight_layout
            # fits, and a long legend was cut at the figure's edge.
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None},
                        bbox_inches="tight", pad_inches=0.03)
        finally:
            plt.close(fig)
    svg = buf.getvalue()
    # The RDF <metadata> block is not valid in HTML (the Nu validator rejects it) and says nothing.
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    return flatten_svg(svg[svg.index("<svg"):])


_SVG_NS, _XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
_NO_ROTATION = re.compile(r"rotate\(-?0 [-+0-9.e]+ [-+0-9.e]+\)")


def flatten_svg(svg: str) -> str:
    """matplotlib's SVG with the same drawing and less structure.

    matplotlib wraps every artist in a ``<g id="...">`` that carries nothing else (a tick is
    three nested groups), ids nothing refers to, and a ``rotate(0 x y)`` on every unrotated
    label. WeasyPrint walks each node in Python, so this structure cost about a third of the
    time spent drawing the charts into the PDF. Removed here: groups whose only attribute is
    an unreferenced id (their children take their place, in order), unreferenced ids, zero
    rotations and the whitespace between elements; path data is put on one line. Groups that
    carry a style, clip path or transform stay, so the rendering is the same."""
    import xml.etree.ElementTree as ET

    ET.register_namespace("", _SVG_NS)
    ET.register_namespace("xlink", _XLINK_NS)
    root = ET.fromstring(svg)
    referenced = set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg))
    group, text = f"{{{_SVG_NS}}}g", f"{{{_SVG_NS}}}text"

    def is_bare_group(el) -> bool:
        return el.tag == group and set(el.attrib) <= {"id"} and el.get("id") not in referenced

    def flatten(parent) -> None:
        children = []
        for child in parent:
            flatten(child)
            children.extend(list(child) if is_bare_group(child) else [child])
        parent[:] = children
        for child in children:
            if child.get("id") is not None and child.get("id") not in referenced:
                del child.attrib["id"]
            if parent.tag != text:  # inside a label, text between spans is the label's
                child.tail = None
            if child.get("d") is not None:
                child.set("d", " ".join(child.get("d").split()))
            if _NO_ROTATION.fullmatch(child.get("transform", "")):
                del child.attrib["transform"]
        if parent.tag != text and parent.text is not None and not parent.text.strip():
            parent.text = None

    flatten(root)
    for el in root.iter():  # one element per line, except inside a label
        if len(el) and el.tag != text:
            el.text = "\n"
            for child in el:
                child.tail = "\n"
    return ET.tostring(root, encoding="unicode")


@functools.lru_cache(maxsize=1)
def _matplotlib_version() -> str:
    from importlib.metadata import version

    return version("matplotlib")


def spec_fingerprint(spec: ChartSpec) -> str:
    """sha256 of everything that decides the drawing: the spec, the cases' plotted values, this
    module's source and matplotlib's version. Equal fingerprints draw identical SVG. The
    version is read from the installed package's metadata, so a build whose charts are all
    cached never imports matplotlib."""
    cases = [[c.framework, c.mode, c.model, c.metric, c.unit, dict(c.params), c.status, c.median,
              list(c.ci95) if c.ci95 else None] for c in spec.cases]
    payload = {"kind": spec.kind, "x": spec.x, "series": list(spec.series), "ylabel": spec.ylabel,
               "hline": spec.hline, "hline_label": spec.hline_label, "band": spec.band,
               "points": [[p.label, p.value, p.low, p.high, p.series] for p in spec.points],
               "log": spec.log, "xlabel": spec.xlabel, "x_order": list(spec.x_order or []),
               "series_labels": spec.series_labels, "x_labels": {str(k): v for k, v in spec.x_labels.items()},
               "cases": cases, "matplotlib": _matplotlib_version()}
    h = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    h.update(source_of(__file__))
    return h.hexdigest()


def cached_svg(spec: ChartSpec) -> str:
    """``render_svg(spec)``, reusing a drawing from the ``charts`` cache when its fingerprint
    matches (``report.cache``)."""
    from report.cache import cached_text

    return cached_text("charts", spec_fingerprint(spec), lambda: render_svg(spec), suffix=".svg")


def _x_values(spec: ChartSpec) -> list[Any]:
    seen = []
    for case in spec.cases:
        v = field_value(case, spec.x)
        if v not in seen:
            seen.append(v)
    if spec.x_order:
        return [v for v in spec.x_order if v in seen] + [v for v in seen if v not in spec.x_order]
    return seen


def _group(spec: ChartSpec) -> tuple[list[str], dict[str, list[Case]]]:
    by_series: dict[str, list[Case]] = {}
    for case in spec.cases:
        by_series.setdefault(series_key(case, spec.series), []).append(case)
    return list(by_series), by_series


def _err(case: Case) -> tuple[float, float]:
    lo, hi = case.ci95 or (case.median, case.median)
    return max(0.0, case.median - lo), max(0.0, hi - case.median)


def _draw_bars(ax, spec: ChartSpec) -> None:
    xs = _x_values(spec)
    series, by_series = _group(spec)
    styles = _style(series, by_series)
    width = 0.8 / max(1, len(series))
    ok_values = [c.median for c in spec.cases if c.ok and c.median]
    floor = min(ok_values) if ok_values else 1.0
    for i, key in enumerate(series):
        index = {field_value(c, spec.x): c for c in by_series[key]}
        pos, heights, errs, failed = [], [], ([], []), []
        for j, xv in enumerate(xs):
            case = index.get(xv)
            p = j - 0.4 + width * (i + 0.5)
            if case is None:
                continue
            if not case.ok:
                failed.append(p)
                continue
            pos.append(p)
            heights.append(case.median)
            lo, hi = _err(case)
            errs[0].append(lo)
            errs[1].append(hi)
        st = styles[key]
        ax.bar(pos, heights, width * 0.92, yerr=errs if pos else None, capsize=1.5,
               color=st["color"], hatch=st["hatch"], edgecolor="#1f2937", linewidth=0.5,
               error_kw={"elinewidth": 0.7, "ecolor": "#111827"}, label=_series_label(spec, key, by_series))
        for p in failed:
            ax.text(p, floor if spec.log else 0, "n/a", rotation=90, ha="center", va="bottom",
                    fontsize=6.5, color="#991b1b")
    labels = [spec.x_labels.get(x, str(x)) for x in xs]
    # Many or long category names collide at the chart's width: slant them instead.
    slant = len(xs) > 5 and max((len(t) for t in labels), default=0) > 8
    ax.set_xticks(range(len(xs)), labels, rotation=25 if slant else 0, ha="right" if slant else "center",
                  rotation_mode="anchor" if slant else "default")


def _draw_lines(ax, spec: ChartSpec) -> None:
    series, by_series = _group(spec)
    styles = _style(series, by_series)
    for key in series:
        cases = sorted((c for c in by_series[key] if c.ok), key=lambda c: field_value(c, spec.x))
        if not cases:
            continue
        xs = [field_value(c, spec.x) for c in cases]
        ys = [c.median for c in cases]
        errs = list(zip(*(_err(c) for c in cases)))
        st = styles[key]
        ax.errorbar(xs, ys, yerr=errs, color=st["color"], marker=st["marker"], markersize=4,
                    markeredgecolor="#1f2937", markeredgewidth=0.5, linewidth=1.2, capsize=2,
                    linestyle="-" if st["hatch"] == "" else "--", label=_series_label(spec, key, by_series))
    numeric = [field_value(c, spec.x) for c in spec.cases if isinstance(field_value(c, spec.x), (int, float))]
    if numeric and max(numeric) / max(min(numeric), 1e-12) >= 16:
        ax.set_xscale("log", base=2)
        ticks = sorted(set(numeric))
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
    elif numeric:
        ax.set_xticks(sorted(set(numeric)))
    if spec.log and not math.isfinite(ax.get_ylim()[0]):
        ax.set_ylim(bottom=None)


RATIO_COLOURS = ["#c2410c", "#1d4ed8", "#4b5563", "#15803d"]


def figure_size(spec: ChartSpec) -> tuple[float, float]:
    """Inches: ``FIGSIZE``, or for a ratio chart with many rows, taller by ``RATIO_ROW_INCHES`` a row."""
    if spec.kind != "ratio":
        return FIGSIZE
    rows = len(dict.fromkeys(p.label for p in spec.points))
    return FIGSIZE[0], max(FIGSIZE[1], RATIO_BASE_INCHES + RATIO_ROW_INCHES * rows)


def _draw_ratios(ax, spec: ChartSpec) -> None:
    """A dot plot: one row per label, one marker per series, 95% CI as whiskers, linear scale,
    a line at 1 (equal) and, if given, the band of differences below the paper's threshold."""
    labels = list(dict.fromkeys(p.label for p in spec.points))
    series = list(dict.fromkeys(p.series for p in spec.points))
    offsets = {s: (i - (len(series) - 1) / 2) * 0.22 for i, s in enumerate(series)}
    if spec.band:
        ax.axvspan(1 / (1 + spec.band), 1 + spec.band, color="#e5e7eb", zorder=0, label=spec.series_labels.get(
            "band", f"Within {spec.band:.0%}"))
    ax.axvline(1.0, color="#111827", linewidth=0.8)
    for i, name in enumerate(series):
        pts = [p for p in spec.points if p.series == name]
        ys = [labels.index(p.label) + offsets[name] for p in pts]
        xs = [p.value for p in pts]
        lo = [p.value - p.low if p.low is not None else 0 for p in pts]
        hi = [p.high - p.value if p.high is not None else 0 for p in pts]
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt=MARKERS[i % len(MARKERS)], color=RATIO_COLOURS[i % len(RATIO_COLOURS)],
                    markersize=4.5, capsize=2, elinewidth=0.9, linestyle="none",
                    label=spec.series_labels.get(name, name))
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel(_sentence_case(spec.ylabel))
