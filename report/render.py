"""Render the Jinja templates with the paper's helpers: cite, ref, value, compare, figure,
table and listing.

Helpers never raise on an author's mistake: they record one line naming the template file and
line (found from the Jinja frame that called them) and leave a visible ``[??]`` marker, so one
build reports every problem at once. Figures, tables and listings are numbered in the order
they appear; ``ref`` leaves a placeholder that ``report.document`` resolves once every label
is known.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from markupsafe import Markup

from report import formatting, listings
from report.bibliography import Bibliography
from report.charts import ChartSpec, field_value, series_key
from report.errors import Problems, UserError
from report.results import Case, ResultsSet
from report.templates import short_path

REF_MARK = "\x00ref:{}\x00"
KINDS = {"fig": "Figure", "tab": "Table", "lst": "Listing"}
SHORT_PARAM = 16   # longer string parameters are left out of appendix tables
SHORT_ERROR = 90   # error texts are cut to this many characters in tables
LONG_TABLE_ROWS = 25  # longer tables may break across pages; shorter ones are kept whole
UNRESOLVED = Markup('<span class="unresolved">[??]</span>')


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


@dataclass
class DocumentState:
    """Everything the helpers learn while the templates render."""

    citations: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # label -> "Figure 3"
    counters: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    figures: list[Figure] = field(default_factory=list)
    refs: list[tuple[str, str]] = field(default_factory=list)  # (label, where)
    used_experiments: set[str] = field(default_factory=set)


def template_location() -> str:
    """``templates/x.html.j2:12`` of the innermost template frame calling a helper."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            name = template.filename or template.name or "<template>"
            try:
                line = template.get_corresponding_lineno(frame.f_lineno)
            except Exception:  # pragma: no cover - jinja internals
                line = "?"
            return f"{short_path(name)}:{line}"
        frame = frame.f_back
    return "<template>"


class Helpers:
    """The functions templates call. Each returns Markup, or records a problem."""

    def __init__(self, root: Path, results: ResultsSet, bib: Bibliography, problems: Problems,
                 state: DocumentState):
        self.root, self.results, self.bib, self.problems, self.state = root, results, bib, problems, state

    # --- citations and cross-references -------------------------------------------------
    def cite(self, *keys: str) -> Markup:
        where = template_location()
        links = []
        for key in keys:
            if key not in self.bib.entries:
                if not self.bib.refused_key(key):  # a refused entry was reported where it is
                    self.problems.error(f"{where}: unknown citation key '{key}'; add it to references.bib "
                                        "or fix the key")
                links.append(UNRESOLVED)
                continue
            if key not in self.state.citations:
                self.state.citations.append(key)
            n = self.state.citations.index(key) + 1
            links.append(Markup('<a class="cite" href="#ref-{}">{}</a>').format(key, n))
        return Markup("[") + Markup(", ").join(links) + Markup("]")

    def ref(self, label: str) -> Markup:
        self.state.refs.append((label, template_location()))
        return Markup(REF_MARK.format(html.escape(label)))

    def _new_label(self, kind: str, label: str | None, where: str) -> tuple[int, str]:
        self.state.counters[kind] += 1
        number = self.state.counters[kind]
        if label:
            if not label.startswith(f"{kind}:"):
                self.problems.error(f"{where}: label '{label}' must start with '{kind}:'")
            elif label in self.state.labels:
                self.problems.error(f"{where}: label '{label}' is defined twice; labels must be unique")
            self.state.labels[label] = f"{KINDS[kind]} {number}"
        return number, label or f"{kind}:{number}"

    # --- results -----------------------------------------------------------------------
    def cases(self, experiment: str, **filters: Any) -> list[Case]:
        where = template_location()
        return self._cases(experiment, filters, where)

    def _cases(self, experiment: str, filters: dict[str, Any], where: str) -> list[Case]:
        if experiment in self.results.failed:  # refused at load time, and reported there
            return []
        if self.results.experiment(experiment) is None:
            self.problems.error(f"{where}: no results for experiment '{experiment}'; "
                                f"run `python build.py experiments {experiment}` or fix the name")
            return []
        self.state.used_experiments.add(experiment)
        return self.results.find(experiment, **filters)

    def _one(self, experiment: str, filters: dict[str, Any], where: str) -> Case | None:
        found = self._cases(experiment, filters, where)
        if len(found) == 1:
            return found[0]
        if self.results.experiment(experiment) is not None:
            what = formatting.describe_params(filters)
            if not found:
                self.problems.error(f"{where}: no case in '{experiment}' matches {what}; check the filters")
            else:
                ids = ", ".join(c.data["id"] for c in found[:4])
                self.problems.error(f"{where}: {len(found)} cases in '{experiment}' match {what} ({ids}, ...); "
                                    "add a filter so exactly one matches")
        return None

    def case(self, experiment: str, **filters: Any) -> Case | None:
        return self._one(experiment, filters, template_location())

    def value(self, experiment: str, stat: str = "median", ci: bool = True, **filters: Any) -> Markup:
        found = self._one(experiment, filters, template_location())
        if found is None:
            return UNRESOLVED
        return Markup('<span class="measured" title="{}">{}</span>').format(
            found.describe(), formatting.fmt_case(found, stat=stat, ci=ci))

    def compare(self, experiment: str, a: dict[str, Any], b: dict[str, Any], a_name: str | None = None,
                b_name: str | None = None, **common: Any) -> Markup:
        where = template_location()
        ca = self._one(experiment, {**common, **a}, where)
        cb = self._one(experiment, {**common, **b}, where)
        if ca is None or cb is None:
            return UNRESOLVED
        return Markup(html.escape(formatting.compare_sentence(ca, cb, a_name, b_name)))

    # --- figures, tables, listings -----------------------------------------------------
    def figure(self, label: str, caption: str, experiment: str, metric: str, x: str = "model",
               series: Iterable[str] = ("framework", "mode"), kind: str = "bar", log: bool = False,
               ylabel: str | None = None, xlabel: str | None = None, x_order: list | None = None,
               series_labels: dict[str, str] | None = None, cases: list[Case] | None = None,
               x_labels: dict[Any, str] | None = None,
               **where_filters: Any) -> Markup:
        """A chart of one metric. ``cases`` plots exactly those cases (built in the template,
        e.g. two modes concatenated) instead of the ``where_filters`` selection."""
        where = template_location()
        number, label = self._new_label("fig", label, where)
        if cases is not None:
            self._cases(experiment, {}, where)  # records the experiment as used, checks it exists
            found = [c for c in cases if c is not None and c.data["metric"] == metric]
        else:
            found = self._cases(experiment, {"metric": metric, **where_filters}, where)
        if self.results.experiment(experiment) is not None and not found:
            self.problems.error(f"{where}: figure '{label}': no '{metric}' cases in '{experiment}' match "
                                f"{formatting.describe_params(where_filters)}")
        if kind not in ("bar", "line"):
            self.problems.error(f"{where}: figure '{label}': kind must be 'bar' or 'line', not '{kind}'")
        if not found or kind not in ("bar", "line"):
            return UNRESOLVED
        unit = found[0].data["unit"]
        spec = ChartSpec(kind=kind, cases=found, x=x, series=tuple(series), log=log,
                         ylabel=ylabel or f"{metric.replace('_', ' ')} ({unit})", xlabel=xlabel,
                         x_order=x_order, series_labels=series_labels or {}, x_labels=x_labels or {})
        rf = self.results.experiment(experiment)
        fig = Figure(label, number, caption, spec, experiment, rf.path, rf.data["module"], where=where)
        self.state.figures.append(fig)
        return Markup("\x00figure:{}\x00").format(len(self.state.figures) - 1)

    def table(self, label: str, caption: str, columns: list[str], rows: list[list[Any]],
              numeric: Iterable[int] = (), css_class: str = "") -> Markup:
        where = template_location()
        number, label = self._new_label("tab", label, where)
        numeric = set(numeric)
        head = Markup("").join(Markup('<th class="num">{}</th>' if i in numeric else "<th>{}</th>").format(c)
                               for i, c in enumerate(columns))
        lines = []  # joined once: concatenating Markup row by row is quadratic in the row count
        for row in rows:
            if len(row) != len(columns):
                self.problems.error(f"{where}: table '{label}': a row has {len(row)} cells, expected {len(columns)}")
                continue
            cells = Markup("").join(
                Markup('<td class="num">{}</td>' if i in numeric else "<td>{}</td>").format(v)
                for i, v in enumerate(row))
            lines.append(Markup("<tr>{}</tr>\n").format(cells))
        body = Markup("").join(lines)
        return Markup('<div class="table-wrap{}"><table id="{}" class="{}"><caption><span class="label">Table {}.</span> {}'
                      '</caption>\n<thead><tr>{}</tr></thead>\n<tbody>{}</tbody></table></div>').format(
            " long" if len(rows) > LONG_TABLE_ROWS else "", label, css_class, number, caption, head, body)

    def listing(self, module: str, name: str, label: str | None = None, caption: str | None = None) -> Markup:
        where = template_location()
        number, label = self._new_label("lst", label, where)
        try:
            lst = listings.extract(self.root, module, name)
        except UserError as exc:
            self.problems.error(f"{where}: listing: {exc}")
            return UNRESOLVED
        rel = lst.path.relative_to(self.root)
        cap = caption or Markup("<code>{}</code>").format(name)
        return Markup('<figure class="listing" id="{}"><figcaption><span class="label">Listing {}.</span> {} '
                      '<span class="provenance">from {}, lines {}–{}</span></figcaption>{}</figure>').format(
            label, number, cap, rel, lst.first_line, lst.last_line,
            Markup(listings.highlight_html(lst.source, lst.first_line)))

    def params(self, experiment: str, name: str, **filters: Any) -> list[Any]:
        """Distinct values of a case field or parameter, sorted: lets prose loop over batch
        sizes or thread counts without typing them."""
        values = {field_value(c, name) for c in self._cases(experiment, filters, template_location())}
        return sorted((v for v in values if v is not None), key=lambda v: (str(type(v)), v))

    def best(self, experiment: str, **filters: Any) -> Case | None:
        """The ok case with the best median among those matching (None if none ran)."""
        return self._extreme(experiment, filters, want_best=True)

    def worst(self, experiment: str, **filters: Any) -> Case | None:
        """The ok case with the worst median among those matching (None if none ran)."""
        return self._extreme(experiment, filters, want_best=False)

    def _extreme(self, experiment: str, filters: dict[str, Any], want_best: bool) -> Case | None:
        ok = [c for c in self._cases(experiment, filters, template_location()) if c.ok]
        if not ok:
            return None
        higher_wins = (ok[0].data["better"] == "higher") == want_best
        return (max if higher_wins else min)(ok, key=lambda c: c.data["median"])

    def pivot_table(self, label: str, caption: str, experiment: str, metric: str, rows: str = "model",
                    cols: Iterable[str] = ("framework", "mode"), ci: bool = False, **filters: Any) -> Markup:
        """A table of medians: one row per value of ``rows``, one column per ``cols`` key."""
        found = self._cases(experiment, {"metric": metric, **filters}, template_location())
        cols = tuple(cols)
        col_keys: list[str] = []
        row_keys: list[Any] = []
        cells: dict[tuple[Any, str], Case] = {}
        for c in found:
            ck, rk = series_key(c, cols), field_value(c, rows)
            col_keys += [ck] if ck not in col_keys else []
            row_keys += [rk] if rk not in row_keys else []
            cells[(rk, ck)] = c
        names = {ck: formatting.case_label(cells[next(k for k in cells if k[1] == ck)])
                 if cols == ("framework", "mode") else ck for ck in col_keys}
        body = [[rk] + [formatting.fmt_case(cells[(rk, ck)], ci=ci) if (rk, ck) in cells else "—"
                        for ck in col_keys] for rk in row_keys]
        return self.table(label, caption, [rows.replace("_", " ")] + [names[c] for c in col_keys], body,
                          numeric=range(1, len(col_keys) + 1))

    def cases_table(self, label: str, caption: str, experiment: str, **filters: Any) -> Markup:
        """Every matching case: its short parameters, median, CI and sample count. Long string
        parameters (descriptions of the setup) and long error texts are shortened; the results
        file has them in full."""
        rows = []
        for c in self._cases(experiment, filters, template_location()):
            d = c.data
            params = ", ".join(f"{k}={v}" for k, v in sorted(d["params"].items())
                               if not (isinstance(v, str) and len(v) > SHORT_PARAM))
            if not c.ok:  # the reason goes in the wrapping column, not the narrow numeric one
                error = d.get("error") or "no reason recorded"
                params += f"; {d['status']}: " + (error if len(error) <= SHORT_ERROR else error[:SHORT_ERROR] + "…")
            rows.append([f"{d['framework']}/{d['mode']}/{d['model']}", d["metric"], params,
                         formatting.fmt_case(c, ci=False) if c.ok else f"n/a ({d['status']})",
                         formatting.fmt_range(*d["ci95"], d["unit"]) if c.ok and d.get("ci95") else "—",
                         str(d.get("n", len(d["samples"]))) + (" (noisy)" if d.get("noisy") else "")])
        return self.table(label, caption, ["case", "metric", "parameters", "median", "95% CI", "n"], rows,
                          numeric=(3, 4, 5), css_class="cases")

    def fmt(self, value: float, unit: str = "") -> str:
        return formatting.fmt_quantity(value, unit)

    def globals(self) -> dict[str, Any]:
        return {
            "cite": self.cite, "ref": self.ref, "value": self.value, "compare": self.compare,
            "case": self.case, "cases": self.cases, "figure": self.figure, "table": self.table,
            "listing": self.listing, "fmt": self.fmt, "fmt_case": formatting.fmt_case,
            "case_label": formatting.case_label, "ratio": formatting.ratio,
            "compare_cases": formatting.compare_sentence, "params": self.params, "best": self.best, "worst": self.worst,
            "pivot_table": self.pivot_table, "cases_table": self.cases_table,
            "fmt_number": formatting.fmt_number, "overlap": formatting.cis_overlap,
        }
