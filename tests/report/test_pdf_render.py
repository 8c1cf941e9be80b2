"""render_pdf's own measures around WeasyPrint: the cyclic garbage collector is paused during
layout (a build-speed measure) and always turned back on."""

from __future__ import annotations

import gc

import pytest
import weasyprint

from report.pdf import render_pdf


def test_cyclic_gc_is_paused_during_layout_and_restored(monkeypatch):
    """render_pdf pauses the cyclic collector for WeasyPrint (a build-speed measure) and turns
    it back on afterwards, also when layout raises."""
    seen = []
    real_render = weasyprint.HTML.render

    def spy(self, *args, **kwargs):
        seen.append(gc.isenabled())
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "render", spy)
    assert gc.isenabled()
    data = render_pdf("<p>gc</p>", base_url=None, epoch=0)
    assert data.startswith(b"%PDF") and seen == [False] and gc.isenabled()

    def boom(self, *args, **kwargs):
        raise RuntimeError("layout failed")

    monkeypatch.setattr(weasyprint.HTML, "render", boom)
    with pytest.raises(RuntimeError):
        render_pdf("<p>gc</p>", base_url=None, epoch=0)
    assert gc.isenabled()
