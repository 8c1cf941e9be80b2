"""``build.py compare A B``: every case two results folders (or hosts) have in common, side by side.

The project's ``pyperf compare_to`` / ``asv compare``. For each common case it gives the ratio of
medians B/A with a 95% CI from a hierarchical bootstrap over both sides' processes, and a verdict
by the paper's one comparison rule (``report.formatting.verdict``): B is faster or slower only
when the two cases' process-level CIs do not overlap *and* they differ by at least
``min_effect`` (5% by default); otherwise "within 5%" or "no clear difference". A summary counts
the verdicts and gives, per experiment, the geometric mean of the "B costs x times A" ratio
(times and sizes B/A, rates and scores A/B, so above 1 always means B is worse). Cases on one
side only are listed, and differing framework versions are warned about, as pyperf does.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from report import formatting
from report.cache import ValidatedResults
from results_contract import Case, ResultsFile, load_folder
from results_contract.errors import UserError
from results_contract.hosts import host_folders
from results_contract.stats import ratio_ci
from results_contract.vocabulary import REPEAT_TOLERANCE

VERDICT_TEXT = {formatting.BETTER: "faster", formatting.WORSE: "slower", formatting.WITHIN: "within",
                formatting.UNCLEAR: "no clear difference", formatting.NO_CI: "no CI (< 3 processes)",
                formatting.NOT_RANKED: "not ranked"}


@dataclass
class Side:
    """One side of a comparison: a label and its validated results files by experiment."""

    label: str
    folder: Path
    files: dict[str, ResultsFile]


@dataclass
class Row:
    experiment: str
    case_id: str
    metric: str
    unit: str
    a: Case
    b: Case
    ratio: float | None               # median(B) / median(A)
    ratio_ci: tuple[float, float] | None
    verdict: str                      # from B's side: "better" means B is faster/better
    cost: float | None                # >1: B is worse by this factor (direction-normalised)

    @property
    def change(self) -> str:
        """"12% slower", "2.1× faster" when the rule gives a direction, else why not."""
        if self.verdict not in (formatting.BETTER, formatting.WORSE) or not self.cost:
            return VERDICT_TEXT.get(self.verdict, self.verdict)
        return formatting.fmt_change(self.b.median, self.a.median, self.unit, self.a.better)


@dataclass
class Comparison:
    a: Side
    b: Side
    min_effect: float
    rows: list[Row] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row.verdict] = out.get(row.verdict, 0) + 1
        return out

    def geometric_means(self) -> dict[str, float]:
        """Per experiment, the geometric mean of each case's cost ratio (above 1: B worse)."""
        logs: dict[str, list[float]] = {}
        for row in self.rows:
            if row.cost and row.cost > 0:
                logs.setdefault(row.experiment, []).append(math.log(row.cost))
        return {exp: math.exp(sum(v) / len(v)) for exp, v in sorted(logs.items())}

    def agreement(self, tolerance: float = REPEAT_TOLERANCE) -> tuple[int, int]:
        """(cases whose medians differ by at most ``tolerance``, common cases): the
        repeatability figure of two runs on one machine."""
        close = sum(1 for r in self.rows if r.ratio is not None and abs(r.ratio - 1) <= tolerance)
        return close, len(self.rows)

    def regressions(self, pct: float) -> list[Row]:
        """Cases where B is worse (by the rule) by more than ``pct`` percent."""
        return [r for r in self.rows if r.verdict == formatting.WORSE and r.cost and r.cost > 1 + pct / 100]


def resolve(spec: str, results_root: Path, root: Path) -> Side:
    """``spec`` is a folder of results files, a folder holding one host folder, or a host
    label under ``results_root``."""
    path = Path(spec)
    candidates = [path, root / path, results_root / spec]
    folder = next((p for p in candidates if p.is_dir()), None)
    if folder is None:
        known = ", ".join(p.name for p in host_folders(results_root)) or "(none)"
        raise UserError(f"{spec}: not a results folder nor a host in {results_root}; hosts: {known}")
    if not any(folder.glob("*.json")):
        hosts = host_folders(folder)
        if len(hosts) != 1:
            raise UserError(f"{folder}: holds {len(hosts)} host folders; name one of them "
                            f"({', '.join(h.name for h in hosts) or 'none'})")
        folder = hosts[0]
    loaded = load_folder(folder, root, memo=ValidatedResults())
    if loaded.problems:
        raise UserError("\n".join(loaded.problems))
    if not loaded.files:
        raise UserError(f"{folder}: no results files to compare")
    return Side(folder.name if folder.parent == results_root else str(folder), folder, loaded.files)


def compare(a: Side, b: Side, min_effect: float = 0.05) -> Comparison:
    out = Comparison(a, b, min_effect)
    for name in sorted(set(a.files) | set(b.files)):
        fa, fb = a.files.get(name), b.files.get(name)
        if fa is None or fb is None:
            (out.only_b if fa is None else out.only_a).append(f"{name} (whole experiment)")
            continue
        out.warnings += _environment_warnings(name, fa, fb)
        ca = {c.id: c for c in fa.cases}
        cb = {c.id: c for c in fb.cases}
        out.only_a += [f"{name}:{i}" for i in sorted(set(ca) - set(cb))]
        out.only_b += [f"{name}:{i}" for i in sorted(set(cb) - set(ca))]
        for case_id in sorted(set(ca) & set(cb)):
            x, y = ca[case_id], cb[case_id]
            if not (x.ok and y.ok):
                continue
            ratio = y.median / x.median if x.median else None
            ci = ratio_ci(x.run_samples(), y.run_samples()) if not (x.deterministic and y.deterministic) else None
            verdict = formatting.verdict(y, x, min_effect)
            cost = formatting.ratio(x, y) if x.better != "none" else None
            out.rows.append(Row(name, case_id, x.metric, x.unit, x, y, ratio, ci, verdict, cost))
    return out


def _environment_warnings(name: str, a: ResultsFile, b: ResultsFile) -> list[str]:
    pa, pb = a.environment.get("packages", {}), b.environment.get("packages", {})
    diffs = [f"{pkg} {pa.get(pkg)} vs {pb.get(pkg)}" for pkg in sorted(set(pa) | set(pb))
             if pa.get(pkg) != pb.get(pkg)]
    out = [f"{name}: package versions differ ({'; '.join(diffs)}): differences may come from the "
           "software, not the machine"] if diffs else []
    if a.environment.get("device") != b.environment.get("device"):
        out.append(f"{name}: devices differ ({a.environment.get('device')} vs {b.environment.get('device')})")
    return out


# --- output --------------------------------------------------------------------------------

def _fmt_ratio(row: Row) -> str:
    if row.ratio is None:
        return "—"
    text = formatting.fmt_number(row.ratio)
    if row.ratio_ci:
        text += f" [{formatting.fmt_number(row.ratio_ci[0])}–{formatting.fmt_number(row.ratio_ci[1])}]"
    return text


def table_rows(c: Comparison) -> list[list[str]]:
    return [[r.experiment, r.case_id, formatting.fmt_quantity(r.a.median, r.unit),
             formatting.fmt_quantity(r.b.median, r.unit), _fmt_ratio(r), r.change] for r in c.rows]


HEADERS = ["experiment", "case", "A", "B", "B/A [95% CI]", "verdict (B vs A)"]


def summary_lines(c: Comparison) -> list[str]:
    counts = c.counts()
    lines = [f"A = {c.a.label} ({c.a.folder}), B = {c.b.label} ({c.b.folder}); {len(c.rows)} common cases, "
             f"rule: non-overlapping process-level 95% CIs and a gap of at least {c.min_effect:.0%}"]
    lines.append("verdicts: " + ", ".join(f"{VERDICT_TEXT.get(k, k)} {v}" for k, v in sorted(counts.items())))
    close, total = c.agreement()
    if total:
        lines.append(f"medians within {REPEAT_TOLERANCE:.0%} of each other: {close} of {total} ({close / total:.1%})")
    for exp, g in c.geometric_means().items():
        lines.append(f"{exp}: geometric mean cost B/A {g:.3f} ({'B worse' if g > 1 else 'B better' if g < 1 else 'equal'})")
    if c.only_a or c.only_b:
        lines.append(f"only in A: {len(c.only_a)} case(s); only in B: {len(c.only_b)} case(s)")
    return lines


def plain_text(c: Comparison) -> str:
    rows = table_rows(c)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    out = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths))]
    out += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    out += [""] + summary_lines(c)
    out += [f"only in A: {x}" for x in c.only_a[:50]] + [f"only in B: {x}" for x in c.only_b[:50]]
    out += [f"warning: {w}" for w in c.warnings]
    return "\n".join(out) + "\n"


def print_rich(c: Comparison) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*HEADERS, title=f"{c.b.label} (B) against {c.a.label} (A)")
    styles = {formatting.BETTER: "green", formatting.WORSE: "red"}
    for row, cells in zip(c.rows, table_rows(c)):
        table.add_row(*cells, style=styles.get(row.verdict))
    console = Console()
    console.print(table)
    for line in summary_lines(c) + [f"warning: {w}" for w in c.warnings]:
        console.print(line, markup=False, highlight=False)


def as_json(c: Comparison) -> dict[str, Any]:
    return {"a": {"label": c.a.label, "folder": str(c.a.folder)}, "b": {"label": c.b.label, "folder": str(c.b.folder)},
            "min_effect": c.min_effect, "counts": c.counts(), "geometric_mean_cost": c.geometric_means(),
            "only_a": c.only_a, "only_b": c.only_b, "warnings": c.warnings,
            "cases": [{"experiment": r.experiment, "id": r.case_id, "metric": r.metric, "unit": r.unit,
                       "a_median": r.a.median, "b_median": r.b.median, "ratio_b_over_a": r.ratio,
                       "ratio_ci95": list(r.ratio_ci) if r.ratio_ci else None, "verdict": r.verdict,
                       "cost_b_over_a": r.cost} for r in c.rows]}


def as_html(c: Comparison) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in HEADERS)
    body = "".join("<tr class=\"{}\">{}</tr>\n".format(esc(r.verdict), "".join(f"<td>{esc(x)}</td>" for x in cells))
                   for r, cells in zip(c.rows, table_rows(c)))
    summary = "".join(f"<li>{esc(line)}</li>" for line in summary_lines(c) + c.warnings)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
            f"{esc(c.b.label)} against {esc(c.a.label)}</title><style>"
            "body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}.better{color:#166534}"
            ".worse{color:#991b1b}</style></head><body>"
            f"<h1>{esc(c.b.label)} (B) against {esc(c.a.label)} (A)</h1><ul>{summary}</ul>"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table></body></html>\n")
