"""Load every input, render the templates, draw the charts and produce the final HTML page.

Returns the page in memory; ``report.pipeline`` decides whether and where to write it.
"""

from __future__ import annotations

import html
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from report import document
from report.bibliography import format_entries, load_bibliography
from report.charts import cached_svg
from report.config import PaperConfig
from report.errors import Problems
from report.pdf import PdfAttachment
from report.provenance import Provenance
from report.context import build_context, relative
from report.document import DocumentState
from report.helpers import Helpers, Sources
from report.templates import make_environment, render_template
from report.results import load_results
from report.safety import live_markup
from report.supplementary import cases_csv
from results_contract.vocabulary import BUSY_OTHER_CORES

PDF_VARIANT = "pdf/a-3a"  # tagged (accessible) PDF/A-3; figures carry alt text


@dataclass
class AssembledPage:
    html: str
    warnings: list[str]
    notes: list[str] = field(default_factory=list)
    attachments: list[PdfAttachment] = field(default_factory=list)
    pdf_variant: str | None = PDF_VARIANT
    figures: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def _rel(config: PaperConfig, path: Path) -> str:
    return relative(config, path)


def _link(href: str | None, text: str) -> str:
    if not href:
        return f"<code>{html.escape(text)}</code>"
    return f'<a class="prov" href="{html.escape(href)}"><code>{html.escape(text)}</code></a>'


def figure_provenance(fig, config: PaperConfig, prov: Provenance) -> str:
    """'Data: results/x.json; code: experiments/x.py; commit abc.' with the files as links.

    The links are relative to the page, which lives one directory below the project root
    (``dist/`` in a checkout, ``paper/`` on the documentation site, which carries copies of
    ``results/`` and ``experiments/``), so they work in both places and leak no local path.
    """
    data_links, code_links = [], []
    for source, module in ((fig.source, fig.module), *fig.more_sources):
        data = _rel(config, source)
        code = module if module.endswith(".py") or "/" in module else module.replace(".", "/") + ".py"
        link = _link(f"../{data}" if (config.root / data).is_file() else None, data)
        if link not in data_links:
            data_links.append(link)
        link = _link(f"../{code}" if (config.root / code).is_file() else None, code)
        if module and link not in code_links:
            code_links.append(link)
    repo = config.repository_url
    commit = _link(f"{repo}/commit/{prov.commit}" if repo and prov.commit != "unknown" else None,
                   prov.short_commit)
    return (f"Data: {', '.join(data_links)}; code: {', '.join(code_links)}; commit {commit}"
            + (" (modified)" if prov.dirty else "") + ".")


class StageTimer:
    """Seconds spent per named stage of a build, for ``scripts/bench_build.py``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


def _render(config: PaperConfig, prov: Provenance, results, bib, problems: Problems) -> tuple[str | None, DocumentState]:
    """Render the templates with the helpers; the page still holds the finishing markers."""
    state = DocumentState()
    helpers = Helpers(Sources(config.root, results, bib, config), problems, state)
    env = make_environment(config.templates_dir, config.max_input_bytes)
    env.globals.update(helpers.globals())
    page = render_template(env, config.main_template, build_context(config, prov, results).as_dict(),
                           problems, config.templates_dir)
    return page, state


def _warn(config: PaperConfig, results, bib, state: DocumentState, problems: Problems) -> None:
    """Uncited references and results from different machines compared together (warnings); noisy
    cases (notes: the data are what the machine gave, and the paper reports their intervals)."""
    bib_where = _rel(config, config.bibliography)
    for key, entry in bib.entries.items():
        if key not in state.citations:
            problems.warn(f"{bib_where}:{entry.line}: entry '{key}' is never cited; cite it or remove it")
    diffs = results.environment_differences(state.used_experiments)
    if diffs:
        problems.warn("results from different environments are compared in this paper: " + "; ".join(diffs))
    for name in sorted(state.used_experiments):
        rf = results.experiment(name)
        noisy = [c for c in rf.cases if c.ok and c.noisy]
        if noisy:
            problems.note(f"{_rel(config, rf.path)}: {len(noisy)} of {len(rf.cases)} cases are noisy "
                          f"(CI half-width > 5% of the median), e.g. {noisy[0].short_id()}")
        disturbed = [(c, run) for c in rf.cases if not c.deterministic
                     for run in c.loaded_runs(rf.environment.get("cpu_cores_logical"))
                     if (run["load"].get("other_cpu_cores") or 0) > BUSY_OTHER_CORES]
        if disturbed:
            case, run = max(disturbed, key=lambda item: item[1]["load"]["other_cpu_cores"])
            problems.note(f"{_rel(config, rf.path)}: {len(disturbed)} process run(s) were measured while other "
                          f"processes kept more than {BUSY_OTHER_CORES:g} cores busy, e.g. {case.short_id()} "
                          f"process {run.get('process', '?')} ({run['load']['other_cpu_cores']:g} cores); "
                          "re-run that experiment on an idle machine")


def _draw(config: PaperConfig, state: DocumentState, problems: Problems, log: Callable[[str], None]) -> None:
    for i, fig in enumerate(state.figures, 1):
        log(f"  chart {i}/{len(state.figures)}: {fig.label}")
        try:
            fig.svg = cached_svg(fig.spec)
        except (ValueError, TypeError, RuntimeError) as exc:  # labels or data matplotlib refuses
            problems.error(f"{fig.where}: figure '{fig.label}' cannot be drawn "
                           f"({type(exc).__name__}: {str(exc)[:200]}); check its data and labels")


def _attachments(config: PaperConfig, results) -> list[PdfAttachment]:
    """The raw results and the environment record, embedded in the PDF."""
    out, envs = [], {}
    for host, rf in sorted(results.all_files(), key=lambda item: (item[0], item[1].experiment)):
        name = f"results/{host}/{rf.path.name}"
        out.append(PdfAttachment(name, rf.path.read_bytes(), f"Raw results of the '{rf.experiment}' "
                                 f"experiment on host {host}"))
        envs.setdefault(host, {})[rf.experiment] = rf.environment
    if envs:
        out.append(PdfAttachment("environment.json", json.dumps(envs, indent=1, sort_keys=True).encode(),
                                 "The environment each experiment ran in, per host"))
        rows = [(host, c) for host, rf in results.all_files() for c in rf.cases]
        out.append(PdfAttachment("all-cases.csv", cases_csv(rows).encode(),
                                 "Every case of every host, one row each (supplementary data)"))
    return out


def assemble_page(config: PaperConfig, prov: Provenance, *, strict: bool = False, draw: bool = True,
                  log: Callable[[str], None] = print) -> AssembledPage:
    """Load, render, check, draw and finish the page; raise UserError listing every problem.

    Templates render even when an input was refused, so template problems show up in the same
    run; refused inputs are simply absent (helpers skip them without a second error), and
    nothing is drawn or written while any error stands.
    """
    timer, problems = StageTimer(), Problems()
    with timer("load"):
        results = load_results(config.results_dir, problems, config.root, config.max_input_bytes,
                               primary=config.primary_host)
        bib = load_bibliography(config.bibliography, problems, _rel(config, config.bibliography),
                                config.max_input_bytes)
    if results.primary is not None and results.primary not in results.hosts:
        problems.raise_if_errors()  # the paper reports a host that has no results: nothing to render
    with timer("render"):
        page, state = _render(config, prov, results, bib, problems)
    if page is None:
        problems.raise_if_errors()
    _warn(config, results, bib, state, problems)
    with timer("references"):
        formatted = format_entries(bib.entries, state.citations, config.csl_style) if not problems.errors else {}
    if draw and not problems.errors:
        with timer("charts"):
            _draw(config, state, problems, log)
    with timer("finish"):
        prov_for = {i: figure_provenance(f, config, prov) for i, f in enumerate(state.figures)}
        final, _ = document.finish(page, state, problems, formatted, prov_for)
        if not problems.errors:
            for found in live_markup(final)[:3]:
                problems.error(f"{config.main_template}: the page would contain executable markup {found}; the "
                               "paper is script-free, so this is a generator bug: report it with the inputs")
    problems.raise_if_errors(strict)
    return AssembledPage(final, problems.warnings, problems.notes, _attachments(config, results), figures=len(state.figures),
                         timings=timer.seconds)
