"""The PDF worker (report.pdf_worker): a fresh build renders its PDF in a second process, which
must give the very bytes that rendering in process gives, report its failures, and never
outlive the build."""

from __future__ import annotations

import os
import sys

import pytest

from report import pdf_worker
from report.assemble import PDF_VARIANT
from report.pdf import CACHED_STREAM_BYTES, PdfAttachment, render_pdf
from support import run_build, snapshot

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Worker</title></head>
<body><h1>Worker</h1><p>Same bytes from <code>render_pdf</code> in either process.</p>
<figure class="chart"><div class="svg"><svg xmlns="http://www.w3.org/2000/svg" width="40pt" height="20pt"
viewBox="0 0 40 20"><title>A bar</title><path d="M 0 0 L 40 0 L 40 20 z" style="fill: #1f77b4"/></svg></div></figure>
</body></html>"""
SMALL = PdfAttachment("results/x.json", b'{"cases": []}\n', "raw results")
# Above the size from which report.pdf keeps compressed attachment streams in its cache.
LARGE = PdfAttachment("results/y.json", b"".join(b'{"sample": %d.25},\n' % i for i in range(30_000)), "raw results")


def test_worker_gives_the_bytes_rendering_in_process_gives(tmp_path):
    assert len(LARGE.data) > CACHED_STREAM_BYTES
    timings: dict[str, float] = {}
    with pdf_worker.PdfWorker() as worker:
        from_worker = worker.render(PAGE, tmp_path, 1_700_000_000, [SMALL, LARGE], pdf_variant=PDF_VARIANT,
                                    timings=timings)
    in_process = render_pdf(PAGE, tmp_path, 1_700_000_000, [SMALL, LARGE], pdf_variant=PDF_VARIANT)
    assert from_worker.startswith(b"%PDF") and from_worker == in_process
    assert set(timings) == {"layout", "pdf"} and all(t > 0 for t in timings.values())


def test_a_failure_in_the_worker_is_raised_with_its_traceback(tmp_path):
    with pdf_worker.PdfWorker() as worker, pytest.raises(pdf_worker.PdfWorkerError) as raised:
        worker.render(PAGE, tmp_path, 0, pdf_variant="pdf/not-a-variant")
    message = str(raised.value)
    assert message.startswith("the PDF worker failed:") and "Traceback" in message
    assert "not-a-variant" in message


def test_a_worker_left_without_a_request_is_stopped():
    """A build that fails before its PDF (or is interrupted) leaves no process behind."""
    worker = pdf_worker.PdfWorker()
    process = worker._process
    assert process.poll() is None
    worker.close()
    assert process.poll() is not None and process.stdin.closed and process.stdout.closed


def test_build_py_asks_for_the_worker_only_where_it_helps(monkeypatch):
    """A fresh process on a machine with a second core gains from it; a process that already
    imported WeasyPrint, or a one-core machine, does not; PAPER_PDF_WORKER=0 turns it off."""
    monkeypatch.delenv("PAPER_PDF_WORKER", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    modules = {k: v for k, v in sys.modules.items() if k != "weasyprint"}
    monkeypatch.setattr(sys, "modules", modules)
    assert pdf_worker.wanted()
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not pdf_worker.wanted()
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setenv("PAPER_PDF_WORKER", "0")
    assert not pdf_worker.wanted()
    monkeypatch.delenv("PAPER_PDF_WORKER")
    modules["weasyprint"] = object()
    assert not pdf_worker.wanted()


def test_a_build_through_the_worker_writes_the_bytes_an_in_process_build_writes(project, monkeypatch):
    """The real CLI on the fixture project, once through the worker and once with
    PAPER_PDF_WORKER=0: the same HTML and PDF bytes."""
    outputs = []
    for setting in ("1", "0"):
        monkeypatch.setenv("PAPER_PDF_WORKER", setting)
        result = run_build(project, "--force", "-q")
        assert result.returncode == 0, result.stderr
        outputs.append(snapshot(project / "dist"))
    assert any(name.endswith(".pdf") for name in outputs[0]) and outputs[0] == outputs[1]
