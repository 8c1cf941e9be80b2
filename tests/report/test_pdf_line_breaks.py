"""WeasyPrint 70 leaves one word alone on a line when a text run overflows only by its trailing
space before an inline element (a link); ``report.pdf._trailing_spaces_hang`` lets that space
hang as CSS allows. A link must not change where lines break."""

from __future__ import annotations

import weasyprint
from weasyprint.formatting_structure import boxes

import weasyprint.layout.inline as inline
from report.pdf import _trailing_spaces_hang

# The paragraph from the paper where the defect showed ("The scale is / logarithmic / because").
TEXT = (" shows training throughput, in samples per second, for one optimisation step (forward pass, loss, "
        "backward pass and Adam update) at a fixed batch size, in every execution mode. The scale is "
        "logarithmic because the models differ widely in cost; the comparisons that decide a claim are those of ")
PLAIN = "Figure 2" + TEXT + "Figure 1."
LINKED = '<a href="#a">Figure 2</a>' + TEXT + '<a href="#b">Figure 1</a>.'
WIDTHS_PT = [w / 2 for w in range(970, 1000)]  # 485-499.5 pt, around the paper's 493-pt column


def _lines(inner: str, width_pt: float) -> list[str]:
    page = weasyprint.HTML(string=f'<p style="width:{width_pt}pt;font-family:serif;font-size:9.5pt;margin:0">'
                                  f"{inner}</p>").render().pages[0]
    return [" ".join("".join(t.text for t in line.descendants() if isinstance(t, boxes.TextBox)).split())
            for line in page._page_box.descendants() if isinstance(line, boxes.LineBox)]


def test_links_do_not_move_line_breaks_with_trailing_spaces_hanging():
    with _trailing_spaces_hang():
        linked = {w: _lines(LINKED, w) for w in WIDTHS_PT}
    # The reference is WeasyPrint's own breaking of the same text without links.
    assert {w: lines for w, lines in linked.items() if lines != _lines(PLAIN, w)} == {}


def test_weasyprint_alone_still_strands_a_word():
    """If this fails, WeasyPrint fixed the defect: remove ``_trailing_spaces_hang`` from report/pdf.py."""
    stranded = [w for w in WIDTHS_PT if _lines(LINKED, w) != _lines(PLAIN, w)]
    assert stranded
    assert any(len(line.split()) == 1 for line in _lines(LINKED, stranded[0])[:-1])


def test_the_shim_restores_weasyprint_afterwards():
    original = inline.split_first_line
    with _trailing_spaces_hang():
        assert inline.split_first_line is not original
    assert inline.split_first_line is original

