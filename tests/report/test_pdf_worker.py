"""The PDF worker (report.pdf_worker): a fresh build renders its PDF in a second process, which
must give the very bytes that rendering in process gives, report its failures, and never
outlive the build."""

from __future__ import annotations

import sys

import pytest

from report import pdf_worker
from report.assemble import PDF_VARIANT
from report.pdf import PdfAttachment, render_pdf

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Worker</title></head>
<body><h1>Worker</h1><p>Same bytes from <code>render_pdf</code> in either process.</p>
<figure class="chart"><div class="svg"><svg xmlns="http://www.w3.org/2000/svg" width="40pt" height="20pt"
viewBox="0 0 40 20"><title>A bar</title><path d="M 0 0 L 40 0 L 40 20 z" style="fill: #1f77b4"/></svg></div></figure>
</body></html>"""
ATTACHMENT = PdfAttachment("results/x.json", b'{"cases": []}\n', "raw results")


def test_worker_gives_the_bytes_rendering_in_process_gives(tmp_path):
    timings: dict[str, float] = {}
    with pdf_worker.PdfWorker() as worker:
        from_worker = worker.render(PAGE, tmp_path, 1_700_000_000, [ATTACHMENT], pdf_variant=PDF_VARIANT,
                                    timings=timings)
    in_process = render_pdf(PAGE, tmp_path, 1_700_000_000, [ATTACHMENT], pdf_variant=PDF_VARIANT)
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


def test_the_worker_is_used_only_by_a_process_without_weasyprint(monkeypatch):
    """A fresh build.py gains from it; a process that already imported WeasyPrint (the tests, the
    build benchmark) does not, and PAPER_PDF_WORKER=0 turns it off."""
    monkeypatch.delenv("PAPER_PDF_WORKER", raising=False)
    modules = {k: v for k, v in sys.modules.items() if k != "weasyprint"}
    monkeypatch.setattr(sys, "modules", modules)
    assert pdf_worker.wanted()
    monkeypatch.setenv("PAPER_PDF_WORKER", "0")
    assert not pdf_worker.wanted()
    monkeypatch.delenv("PAPER_PDF_WORKER")
    modules["weasyprint"] = object()
    assert not pdf_worker.wanted()
