"""The PDF renderer in a process of its own, started as a build begins.

A cold ``build.py`` spends about 0.35 s importing WeasyPrint (its cffi bindings to Pango and
HarfBuzz) and then lays out and writes the PDF, all after the page has been assembled. Started
first, a worker imports WeasyPrint on the second core while this process loads the results and
renders the templates; it then lays the page out in a small heap of its own. It calls the same
``report.pdf.render_pdf`` with the same arguments, so the PDF bytes are the same either way (a
test compares them).

``build.py`` asks for the worker (``pipeline.build(pdf_worker=True)``) where it can help: a
fresh process that has not imported WeasyPrint, on a machine with a second core, unless
``PAPER_PDF_WORKER=0``. Builds called in process (the tests, ``scripts/bench_build.py``, the
site and the release) render in process.

Protocol: one pickled request on the worker's stdin, ``(page_html, base_url, epoch,
attachments, pdf_variant)``; one pickled reply on a copy of its original stdout, ``("ok",
pdf_bytes, timings)`` or ``("error", traceback_text)``. File descriptor 1 is pointed at stderr
before WeasyPrint is imported, so nothing the worker or a library prints can reach the reply. The
worker ignores Ctrl-C: the build that started it handles the interrupt and stops it.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from report.pdf import PdfAttachment, render_pdf

CODE_ROOT = Path(__file__).resolve().parents[1]  # where the ``report`` package lives


class PdfWorkerError(RuntimeError):
    """The worker failed; the message carries its traceback."""


def wanted() -> bool:
    """Whether a build in this process gains from a worker: WeasyPrint is not imported yet, the
    machine has a second core to import it on, and ``PAPER_PDF_WORKER`` is not ``0``."""
    return ("weasyprint" not in sys.modules and (os.cpu_count() or 1) > 1
            and os.environ.get("PAPER_PDF_WORKER", "") != "0")


class PdfWorker:
    """One worker process, for one PDF. Use as a context manager: leaving it stops the process
    if it is still running (a build that failed before its PDF, or an interrupt)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "report.pdf_worker"], cwd=CODE_ROOT,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def __enter__(self) -> PdfWorker:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def render(self, page_html: str, base_url: Path, epoch: int, attachments: list[PdfAttachment] = (),
               pdf_variant: str | None = None, timings: dict[str, float] | None = None) -> bytes:
        """``render_pdf``'s result, computed by the worker."""
        request = pickle.dumps((page_html, base_url, epoch, list(attachments), pdf_variant))
        try:
            reply_bytes, _ = self._process.communicate(request)
        except BrokenPipeError:
            reply_bytes = b""
        try:
            reply = pickle.loads(reply_bytes)
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise PdfWorkerError(f"the PDF worker exited with status {self._process.returncode} and no "
                                 f"result ({e}); its error is printed above") from None
        if reply[0] != "ok":
            raise PdfWorkerError(f"the PDF worker failed:\n{reply[1]}")
        if timings is not None:
            timings.update(reply[2])
        return reply[1]

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def _serve() -> None:
    import gc
    import signal
    import traceback

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the build handles Ctrl-C and stops the worker
    gc.disable()  # one PDF, then exit: as in a build (report.pdf.no_cyclic_gc)
    reply_to = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # nothing printed, by Python or by a C library, may corrupt the reply
    sys.stdout = sys.stderr
    try:
        import weasyprint

        weasyprint.HTML(string="<p>warm-up</p>").render()  # fonts, while the page is assembled
        page_html, base_url, epoch, attachments, pdf_variant = pickle.load(sys.stdin.buffer)
        timings: dict[str, float] = {}
        data = render_pdf(page_html, base_url, epoch, attachments, pdf_variant=pdf_variant, timings=timings)
        reply = ("ok", data, timings)
    except (Exception, KeyboardInterrupt):
        reply = ("error", traceback.format_exc())
    try:
        pickle.dump(reply, reply_to)
        reply_to.close()
    except BrokenPipeError:  # the build is gone (killed): nobody to answer
        pass
    sys.stderr.flush()
    # Exit without tearing down the heap object by object (about 0.3 s after a 46-page layout):
    # the reply is written, and nothing else is left to flush.
    os._exit(0)


if __name__ == "__main__":
    _serve()
