"""The build, in one direction: load and validate, build the context, render, then write.

Nothing is written until every input has validated and the HTML and PDF both exist in memory,
so a failed or interrupted build leaves the previous ``dist/`` files exactly as they were.
A content hash of every input lets an unchanged rebuild skip all rendering work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from report.config import PaperConfig, load_config
from report.errors import UserError
from report.provenance import Provenance, read_provenance
from results_contract.files import check_target, recover, replace_together

STAMP_NAME = ".build-stamp.json"
# Inputs whose change must rebuild the paper, relative to the project root.
INPUT_GLOBS = ("templates/**/*", "results/**/*.json", "report/**/*.py", "experiments/**/*.py", "pyproject.toml")


@dataclass
class BuildOutcome:
    html_path: Path | None = None
    pdf_path: Path | None = None
    skipped: bool = False
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    pages: int | None = None
    removed: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per build stage


def input_hash(config: PaperConfig, prov: Provenance, options: str) -> str:
    """sha256 over every input file's path and bytes, the provenance and the build options."""
    h = hashlib.sha256()
    paths = {config.bibliography, config.root / "pyproject.toml"}
    for pattern in INPUT_GLOBS:
        paths.update(p for p in config.root.glob(pattern) if p.is_file())
    paths.update(p for p in config.templates_dir.rglob("*") if p.is_file())
    paths.update(p for p in config.results_dir.rglob("*.json") if p.is_file())
    for path in sorted(paths):
        if "__pycache__" in path.parts or not path.exists():
            continue
        h.update(str(path.relative_to(config.root) if path.is_relative_to(config.root) else path).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    h.update(f"{prov.commit}|{prov.dirty}|{prov.epoch}|{options}".encode())
    return h.hexdigest()


def _up_to_date(out_dir: Path, digest: str, outputs: list[Path]) -> bool:
    try:
        stamp = json.loads((out_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("inputs") == digest and all(p.is_file() for p in outputs)


def _output_dir(root: Path, out_dir: Path | None) -> Path:
    """The output folder, checked before any work: it must be (or become) a writable folder."""
    out_dir = (out_dir or root / "dist").resolve()
    for parent in (out_dir, *out_dir.parents):
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{parent}: is a file, but the build needs a folder there for "
                                f"{out_dir}; move it away or pass another --out")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"{parent}: not writable, so {out_dir} cannot be written; "
                                "fix its permissions or pass another --out")
            break
    return out_dir


def _inside(path: Path, folder: Path) -> Path:
    """``path`` if it resolves inside ``folder``; the version and slug are validated so this
    holds by construction, and this check keeps it so."""
    resolved = path.resolve()
    if not resolved.is_relative_to(folder):
        raise UserError(f"{path}: would be written outside the output folder {folder}; "
                        "check [tool.paper] slug and [project] version")
    return resolved


def build(root: Path, out_dir: Path | None = None, *, strict: bool = False, force: bool = False,
          check_only: bool = False, results_dir: Path | None = None, pdf: bool = True,
          log: Callable[[str], None] = print, pdf_worker: bool = False) -> BuildOutcome:
    """Build ``dist/<slug>-v<version>.{html,pdf}``; raise UserError listing every problem.

    ``pdf_worker``: render the PDF in a worker process started as the build begins
    (``report.pdf_worker``; ``build.py`` asks for it when that helps). The bytes are the same."""
    started = time.perf_counter()
    root = root.resolve()
    config = load_config(root)
    if results_dir is not None:
        results_dir = results_dir.resolve()
        if not results_dir.is_dir():
            what = "is not a folder" if results_dir.exists() else "does not exist"
            raise UserError(f"{results_dir}: --results {what}; pass the folder a run wrote "
                            "(for example build/results-quick)")
        config = dataclasses.replace(config, results_dir=results_dir)
    out_dir = _output_dir(root, out_dir)
    html_path = _inside(out_dir / f"{config.artifact_stem}.html", out_dir)
    pdf_path = _inside(out_dir / f"{config.artifact_stem}.pdf", out_dir)
    stamp_path = _inside(out_dir / STAMP_NAME, out_dir)
    prov = read_provenance(root)
    if not check_only:
        recover(out_dir)
        for path in (html_path, pdf_path, stamp_path):
            check_target(path)
    digest = input_hash(config, prov, f"strict={strict},pdf={pdf}")
    outputs = [html_path, pdf_path] if pdf else [html_path]
    if not check_only and not force and _up_to_date(out_dir, digest, outputs) \
            and (pdf or not pdf_path.exists()):
        return BuildOutcome(html_path, pdf_path if pdf else None, skipped=True,
                            seconds=time.perf_counter() - started)

    from report.pdf import no_cyclic_gc, render_pdf  # heavy imports only when there is work to do
    from report.pdf_worker import PdfWorker

    # The PDF worker starts first, so WeasyPrint loads while the page is assembled.
    worker = PdfWorker() if pdf_worker and pdf and not check_only else None
    with no_cyclic_gc(), worker or contextlib.nullcontext():
        from report.assemble import assemble_page

        page = assemble_page(config, prov, strict=strict, draw=not check_only, log=log)
        outcome = BuildOutcome(warnings=page.warnings, notes=page.notes)
        if check_only:
            outcome.seconds = time.perf_counter() - started
            return outcome
        html_bytes = page.html.encode("utf-8")
        outcome.timings = dict(page.timings)
        render = worker.render if worker else render_pdf
        pdf_bytes = render(page.html, root, prov.epoch, page.attachments,
                           pdf_variant=page.pdf_variant, timings=outcome.timings) if pdf else None
    stamp = json.dumps({"inputs": digest, "html": html_path.name, "pdf": pdf_path.name if pdf else None},
                       sort_keys=True).encode()
    # PDF first: a reader's copy is never older than the HTML beside it. Without --pdf the
    # previous PDF is removed with the same change, so no stale PDF sits beside a new HTML.
    started_write = time.perf_counter()
    outcome.removed = replace_together({pdf_path: pdf_bytes, html_path: html_bytes, stamp_path: stamp})
    outcome.timings["write"] = time.perf_counter() - started_write
    outcome.html_path, outcome.pdf_path = html_path, pdf_path if pdf else None
    outcome.seconds = time.perf_counter() - started
    return outcome
