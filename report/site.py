"""``build.py site``: the documentation site, built with MkDocs (material theme).

The site holds no second copy of the paper's text: the built ``dist/`` HTML and PDF are copied
byte for byte into ``paper/``, with ``results/`` (JSON and CSV) and the experiment modules next
to it, so the relative provenance links under each figure work on the site as in a checkout.

Sources: ``docs/`` (hand-written pages, where ``{{ version }}``, ``{{ stem }}``, ``{{ title }}``, ``{{ primary_host }}``,
``{{ date }}`` and ``{{ commit }}`` are replaced) plus pages generated here (the paper, the
results, how to cite, the changelog), staged together into ``build/site-src/``, which
``mkdocs.yml`` names as its ``docs_dir``. Then ``mkdocs build --strict`` writes ``site/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from report.config import PaperConfig, load_config
from report.errors import Problems
from report.results import load_results
from report.supplementary import CSV_DOC, cases_csv
from report.errors import UserError
from report.provenance import Provenance, read_provenance

STAGE = Path("build") / "site-src"


# --- generated pages ---------------------------------------------------------------------------

def _bib_escape(text: str) -> str:
    return re.sub(r"([&%$#_])", r"\\\1", text)


def bibtex_entry(config: PaperConfig, prov: Provenance, url: str | None = None) -> str:
    key = re.sub(r"[^A-Za-z0-9:._-]", "-", f"{config.slug}-v{config.version}")
    authors = " and ".join("{" + _bib_escape(a) + "}" if " " in a and a.lower().startswith("the ")
                           else _bib_escape(a) for a in config.authors)
    fields = [
        ("title", "{" + _bib_escape(config.title) + "}"),
        ("author", authors),
        ("year", str(prov.date.year)),
        ("month", str(prov.date.month)),
        ("version", config.version),
        ("type", "Reproducible survey"),
        ("note", f"Version {config.version}, commit {prov.short_commit}"),
    ]
    if url:
        fields.append(("url", url))
    if config.keywords:
        fields.append(("keywords", _bib_escape(", ".join(config.keywords))))
    body = ",\n".join(f"  {name:<8} = {{{value}}}" for name, value in fields)
    return f"@techreport{{{key},\n{body}\n}}\n"


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MiB"


def paper_page(config: PaperConfig, prov: Provenance, html_name: str, pdf_name: str, pdf_size: int) -> str:
    dirty = " (from a modified working tree)" if prov.dirty else ""
    return f"""# The paper

**{config.title}**
Version {config.version}, built {prov.date.isoformat()} from commit `{prov.short_commit}`{dirty}.

[Download the PDF ({_size(pdf_size)})](paper/{pdf_name}){{ .md-button .md-button--primary }}
[Open the paper on its own page](paper/{html_name}){{ .md-button }}

The PDF is a PDF/A-3b file rendered from the very HTML shown below. It embeds the raw results
(`results/*.json`) and the environment each experiment ran in as attachments: open your PDF
reader's attachments pane, or run `pdfdetach -list {pdf_name}`.

<iframe class="paper-frame" src="paper/{html_name}" title="{config.title}"
        style="width: 100%; height: 85vh; border: 1px solid #d1d5db; background: #fff;"></iframe>
"""


def results_page(entries: list[dict[str, Any]]) -> str:
    lines = ["# Results data", "",
             "Every number in the paper comes from these files, written by the experiments in "
             "`experiments/`, one folder per machine (host). Each JSON file is the experiment's "
             "complete record (every sample, grouped by the process that measured it, the "
             "statistics and the environment); the CSV has one row per case with the summary "
             "statistics, for spreadsheets. The PDF carries the same files as attachments.", "",
             "| Host | Experiment | Title | Cases | Code | JSON | CSV |",
             "|---|---|---|---:|---|---|---|"]
    for e in entries:
        code = f"[`{e['module']}`]({e['module']})" if e["module_copied"] else f"`{e['module']}`"
        lines.append(f"| `{e['host']}` | `{e['experiment']}` | {e['title']} | {e['ok']} ok / {e['cases']} | "
                     f"{code} | [{e['json']}](results/{e['json']}) | [{e['csv']}](results/{e['csv']}) |")
    if not entries:
        lines.append("| (none yet) | run `make experiments` | | 0 | | | |")
    lines += ["", "All cases of all experiments and hosts in one file: "
              "[all-cases.csv](results/all-cases.csv).", "", "## CSV columns", "", CSV_DOC, "",
              "Raw samples and the environment are only in the JSON.", ""]
    return "\n".join(lines)


def cite_page(config: PaperConfig, prov: Provenance, bibtex: str, cite_as: str, cff: str | None) -> str:
    page = ["# Cite this", "",
            f"Please cite the versioned PDF, giving the version you read (here **{config.version}**): "
            "every version is a fixed, reproducible build of one commit.", "",
            "## Text", "", f"> {cite_as}", "",
            "## BibTeX", "", "```bibtex", bibtex.rstrip(), "```", "",
            "Download: [paper.bib](paper.bib)", ""]
    if cff is not None:
        page += ["## CITATION.cff", "",
                 "The repository's `CITATION.cff` ([Citation File Format](https://citation-file-format.github.io/)) "
                 "carries the same information for GitHub's \"Cite this repository\" button and reference managers:",
                 "", "```yaml", cff.rstrip(), "```", ""]
    return "\n".join(page)


# --- staging and building ----------------------------------------------------------------------

@dataclass
class SiteInputs:
    config: PaperConfig
    prov: Provenance
    html: Path
    pdf: Path


def _primary_host(config) -> str:
    """The host the paper reports: ``[tool.paper] primary_host``, else the only host folder."""
    from results_contract.hosts import host_folders

    if config.primary_host:
        return config.primary_host
    folders = host_folders(config.results_dir) if config.results_dir.is_dir() else []
    return folders[0].name if len(folders) == 1 else "<our host>"


def _substitute(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = re.sub(r"\{\{\s*" + key + r"\s*\}\}", lambda _m, v=value: v, text)
    return text


def stage(inputs: SiteInputs, stage_dir: Path) -> Path:
    """Write the complete MkDocs ``docs_dir`` into ``stage_dir`` (replacing it)."""
    config, prov, root = inputs.config, inputs.prov, inputs.config.root
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    docs = root / "docs"
    if docs.is_dir():
        shutil.copytree(docs, stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)
    values = {"version": config.version, "stem": config.artifact_stem, "title": config.title,
              "date": prov.date.isoformat(), "commit": prov.short_commit,
              "primary_host": _primary_host(config)}
    for page in stage_dir.rglob("*.md"):
        page.write_text(_substitute(page.read_text(encoding="utf-8"), values), encoding="utf-8")

    paper_dir = stage_dir / "paper"
    paper_dir.mkdir(exist_ok=True)
    shutil.copyfile(inputs.html, paper_dir / inputs.html.name)
    shutil.copyfile(inputs.pdf, paper_dir / inputs.pdf.name)
    (stage_dir / "paper.md").write_text(
        paper_page(config, prov, inputs.html.name, inputs.pdf.name, inputs.pdf.stat().st_size), encoding="utf-8")

    results_out = stage_dir / "results"
    results_out.mkdir(exist_ok=True)
    problems = Problems()
    results = load_results(config.results_dir, problems, root, config.max_input_bytes, primary=config.primary_host)
    problems.raise_if_errors()
    entries, rows = [], []
    for host, rf in sorted(results.all_files(), key=lambda item: (item[0], item[1].experiment)):
        (results_out / host).mkdir(exist_ok=True)
        shutil.copyfile(rf.path, results_out / host / rf.path.name)
        csv_name = f"{host}/{rf.path.stem}.csv"
        (results_out / csv_name).write_text(cases_csv((host, c) for c in rf.cases), encoding="utf-8")
        rows += [(host, c) for c in rf.cases]
        module_path = rf.module if rf.module.endswith(".py") else rf.module.replace(".", "/") + ".py"
        copied = bool(rf.module) and (root / module_path).is_file()
        if copied:  # the figure captions link to ../<module>; publish the code they point at
            (stage_dir / module_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / module_path, stage_dir / module_path)
        entries.append({"host": host, "experiment": rf.experiment, "title": rf.title,
                        "module": module_path if rf.module else "", "module_copied": copied,
                        "cases": len(rf.cases), "ok": sum(c.ok for c in rf.cases),
                        "json": f"{host}/{rf.path.name}", "csv": csv_name})
    (results_out / "all-cases.csv").write_text(cases_csv(rows), encoding="utf-8")
    (stage_dir / "results.md").write_text(results_page(entries), encoding="utf-8")

    from report.context import cite_as

    bibtex = bibtex_entry(config, prov, config.repository_url)
    (stage_dir / "paper.bib").write_text(bibtex, encoding="utf-8")
    cff = root / "CITATION.cff"
    (stage_dir / "cite.md").write_text(cite_page(config, prov, bibtex, cite_as(config, prov),
                                                 cff.read_text(encoding="utf-8") if cff.is_file() else None),
                                       encoding="utf-8")
    changelog = root / "CHANGELOG.md"
    (stage_dir / "changelog.md").write_text(
        changelog.read_text(encoding="utf-8") if changelog.is_file() else "# Changelog\n\nNo entries yet.\n",
        encoding="utf-8")
    return stage_dir


def build_site(root: Path, site_dir: Path | None = None, dist_dir: Path | None = None, *,
               build_paper: bool = True, log: Callable[[str], None] = print) -> Path:
    """Build the paper if needed, stage the sources and run ``mkdocs build --strict``."""
    root = root.resolve()
    config = load_config(root)
    dist_dir = (dist_dir or root / "dist").resolve()
    site_dir = (site_dir or root / "site").resolve()
    mkdocs_yml = root / "mkdocs.yml"
    if not mkdocs_yml.is_file():
        raise UserError(f"{mkdocs_yml}: not found; the site needs it")
    if build_paper:
        from report.pipeline import build

        outcome = build(root, dist_dir, log=log)
        for warning in outcome.warnings:
            log(f"warning: {warning}")
    html = dist_dir / f"{config.artifact_stem}.html"
    pdf = dist_dir / f"{config.artifact_stem}.pdf"
    for path in (html, pdf):
        if not path.is_file():
            raise UserError(f"{path}: not found; build the paper first (`python build.py`)")
    prov = read_provenance(root)
    stage_dir = stage(SiteInputs(config, prov, html, pdf), root / STAGE)
    log(f"staged site sources in {stage_dir.relative_to(root)}")
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(prov.epoch)}  # sitemap dates: the commit's
    # Build next to the target and swap it in only on success: a failed build leaves the
    # previous site/ as it was (mkdocs --strict writes pages before it aborts).
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}.", suffix=".tmp", dir=site_dir.parent))
    try:
        proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                               "-f", str(mkdocs_yml), "-d", str(tmp)],
                              cwd=root, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            out = (proc.stdout + proc.stderr).splitlines()
            lines = [l for l in out if "WARNING" in l or "ERROR" in l]
            raise UserError("mkdocs build --strict failed:\n" + "\n".join(lines or out[-20:]))
        _prune(tmp)
        old = site_dir.with_name(f".{site_dir.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if site_dir.exists():
            site_dir.rename(old)
        tmp.rename(site_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return site_dir


def _prune(site: Path) -> None:
    """Drop theme files nothing loads: the search worker and its lunr languages (there is no
    search plugin) and source maps. About 2.2 MiB of the 2.7 MiB material would ship."""
    for sub in ("assets/javascripts/lunr", "assets/javascripts/workers"):
        shutil.rmtree(site / sub, ignore_errors=True)
    for path in (site / "assets").rglob("*.map"):
        path.unlink()
    for page in site.rglob("*.html"):
        if page.parent.name != "paper":  # the paper is a byte-for-byte copy of dist/
            text = page.read_text(encoding="utf-8")
            fixed = _CHECKBOX_AUTOCOMPLETE.sub(lambda m: m.group(0).replace(' autocomplete="off"', ""), text)
            if fixed != text:
                page.write_text(fixed, encoding="utf-8")


# The material theme puts autocomplete="off" on its checkbox toggles, which HTML does not
# allow there (the Nu validator's one complaint about the site); browsers ignore it anyway.
_CHECKBOX_AUTOCOMPLETE = re.compile(r'<input\b[^>]*type="checkbox"[^>]*>')


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def site_size(path: Path) -> str:
    """The built site's size, for the command's last line."""
    return _size(tree_size(path))
