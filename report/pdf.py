"""HTML -> PDF with WeasyPrint, from the very HTML the browser gets, with the print stylesheet.

Metadata (title, authors, subject, keywords) comes from the page's <title> and <meta> tags;
``SOURCE_DATE_EPOCH`` fixes the creation date, so one commit always gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import logging
import math
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True)
class PdfAttachment:
    name: str
    data: bytes
    description: str


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a build's work (assembling the page, then
    laying out and writing the PDF).

    Both allocate millions of short-lived objects (template output, layout boxes), and each
    generation-2 collection walks the whole heap, which includes every parsed results file;
    pausing it saves about 0.3 s of a 5 s warm build here, for some 50 MB more peak memory.
    Reference counting still frees what is released. No collection is forced afterwards: a full
    one walked the whole heap again for about 0.7 s, and the collector, once back on, reclaims
    the few cycles left on its own schedule."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def _source_date_epoch(epoch: int) -> Iterator[None]:
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


DEFLATE_LEVEL = 6  # zlib's default; pydyf asks for 9


class _DeflateAtLevel:
    """The ``zlib`` module as pydyf sees it, with every compressor at ``DEFLATE_LEVEL``."""

    def __init__(self, zlib_module, level: int):
        self._zlib, self._level = zlib_module, level

    def __getattr__(self, name: str):
        return getattr(self._zlib, name)

    def compressobj(self, *args, **kwargs):
        kwargs["level"] = self._level
        return _CachedDeflate(self._zlib, args[1:], kwargs)

    def compress(self, data, *args, **kwargs):
        return self._zlib.compress(data, self._level)


CACHED_STREAM_BYTES = 256 * 1024  # streams at least this long (the attached results files)


class _CachedDeflate:
    """A ``zlib`` compressor for pydyf's one ``compress(data)`` + ``flush()`` per stream.

    Short streams (page contents, fonts) are compressed as usual. A long one, in practice an
    attached results file, is looked up in the ``deflate`` cache by a hash of its bytes, the
    level and the zlib version, since the results change far less often than the text: deflating
    the 13 MB of attachments took about 0.6 s of every build. zlib is deterministic, so a cached
    stream is the very bytes ``compress`` would give, and the PDF does not change."""

    def __init__(self, zlib_module, args, kwargs):
        self._zlib, self._args, self._kwargs = zlib_module, args, kwargs
        self._chunks: list[bytes] = []

    def compress(self, data) -> bytes:
        self._chunks.append(bytes(data))
        return b""

    def flush(self, *args) -> bytes:
        data = b"".join(self._chunks)
        self._chunks = []

        def deflate() -> bytes:
            compressor = self._zlib.compressobj(*self._args, **self._kwargs)
            return compressor.compress(data) + compressor.flush()

        if len(data) < CACHED_STREAM_BYTES:
            return deflate()
        from report.cache import cached_bytes, fingerprint

        key = fingerprint("deflate", self._args, self._kwargs, self._zlib.ZLIB_RUNTIME_VERSION, data)
        stream = cached_bytes("deflate", key, deflate, suffix=".zz")
        # A zlib stream ends with the Adler-32 of what it holds: a damaged or foreign entry is
        # recomputed rather than written into the PDF.
        if stream[-4:] != self._zlib.adler32(data).to_bytes(4, "big"):
            stream = deflate()
        return stream


@contextmanager
def _deflate_level(level: int) -> Iterator[None]:
    """Compress the PDF's streams at ``level`` instead of pydyf's fixed 9. Level 9 spent about a
    second more on this paper's 8 MB of attached results for 1.4% smaller output; the
    decompressed bytes, and so the PDF's content, are the same at any level."""
    import pydyf

    original = getattr(pydyf, "zlib", None)
    if original is None:  # a pydyf that no longer imports zlib at module level: leave it be
        yield
        return
    pydyf.zlib = _DeflateAtLevel(original, level)
    try:
        yield
    finally:
        pydyf.zlib = original


def _fits_without_trailing_spaces(text: str, style, context, max_width: float,
                                  justification_spacing: float) -> bool:
    from weasyprint.text.line_break import create_layout, line_size

    layout = create_layout(text.rstrip(" "), style, context, None, justification_spacing)
    first_line, resume_index = layout.get_first_line()
    return resume_index is None and line_size(first_line, style)[0] <= max_width


@contextmanager
def _trailing_spaces_hang() -> Iterator[None]:
    """Let a text run whose only overflow is its trailing space stay on its line.

    WeasyPrint 70's ``split_first_line`` measures a run with its trailing space: when the rest
    of the line's text fits and only that space overflows (the run ends just before an inline
    element such as a link), it treats the run as unbreakable and keeps only its first word,
    leaving one word alone on a line ("The scale is / logarithmic / because the models ...").
    CSS lets trailing spaces hang past the line's end, and WeasyPrint's line layout already
    allows for it; so when the run without its trailing spaces fits, it is laid out whole and
    the line decides where the next element goes. Other runs are laid out as before.
    """
    import weasyprint.layout.inline as inline

    original = getattr(inline, "split_first_line", None)
    if original is None:  # a WeasyPrint that no longer imports it there: leave it be
        yield
        return

    def split_first_line(text, style, context, max_width, justification_spacing,
                         is_line_start=True, minimum=False):
        result = original(text, style, context, max_width, justification_spacing, is_line_start, minimum)
        if (result[2] is not None and not minimum and text.endswith(" ") and text.strip(" ")
                and style["white_space"] in ("normal", "nowrap")
                and max_width is not None and max_width != math.inf
                and _fits_without_trailing_spaces(text, style, context, max_width, justification_spacing)):
            return original(text, style, context, math.inf, justification_spacing, is_line_start, minimum)
        return result

    inline.split_first_line = split_first_line
    try:
        yield
    finally:
        inline.split_first_line = original


_INLINE_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_SVG_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def _svg_as_image(m: re.Match) -> str:
    svg = m.group(0)
    title = _SVG_TITLE.search(svg)
    alt = title.group(1) if title else ""  # already escaped in the SVG
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img class="chart-image" alt="{alt}" src="data:image/svg+xml;base64,{data}">'


def charts_as_images(page_html: str) -> str:
    """The page with every inline chart SVG turned into an ``<img>`` of the same SVG.

    WeasyPrint draws both with the same SVG renderer, so the PDF looks the same; but an inline
    SVG's thousands of elements also go through the HTML parser and the CSS cascade, which took
    about 1.5 s of a 43-page build, while an image's SVG is parsed by ElementTree and styled by
    the SVG renderer alone. The chart's ``<title>`` becomes the image's alt text, which the
    tagged PDF carries as the figure's /Alt, as it did for the inline SVG.
    """
    return _INLINE_SVG.sub(_svg_as_image, page_html)


def render_pdf(page_html: str, base_url: Path, epoch: int, attachments: list[PdfAttachment] = (),
               pdf_variant: str | None = None, timings: dict[str, float] | None = None) -> bytes:
    """Render the PDF bytes; nothing is written here. ``timings`` receives the seconds spent
    laying out the pages ("layout") and writing the PDF ("pdf")."""
    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    # Attachments default to "now" as their creation and modification dates; pin them to the
    # build's epoch so one commit always gives the same PDF bytes.
    stamp = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(tzinfo=None)
    files = [weasyprint.Attachment(string=a.data, name=a.name, description=a.description,
                                   base_url=str(base_url), created=stamp, modified=stamp)
             for a in attachments]
    with _source_date_epoch(epoch), no_cyclic_gc():
        # No base URL: the page is self-contained, and relative links (a figure's results file
        # and experiment module) stay relative in the PDF instead of becoming file:// URLs
        # that would leak the builder's directory and change the bytes from one checkout to
        # the next.
        start = time.perf_counter()
        # HTML.write_pdf in two steps (render, then write), so each can be timed.
        options = {**weasyprint.DEFAULT_OPTIONS, "attachments": files or None, "custom_metadata": True}
        if pdf_variant:
            options["pdf_variant"] = pdf_variant
        with _trailing_spaces_hang():
            document = weasyprint.HTML(string=charts_as_images(page_html), base_url=None).render(**options)
        laid_out = time.perf_counter()
        with _deflate_level(DEFLATE_LEVEL):
            data = document.write_pdf(None, 1, None, **{k: options[k] for k in weasyprint.DEFAULT_OPTIONS})
        if timings is not None:
            timings["layout"] = laid_out - start
            timings["pdf"] = time.perf_counter() - laid_out
        return data
