"""``report.charts.flatten_svg``: matplotlib's SVG loses its empty structure (bare groups,
unreferenced ids, zero rotations) and keeps every drawing primitive, in order, with what it
refers to."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

from report.charts import flatten_svg

NS = "{http://www.w3.org/2000/svg}"
DRAWN = {f"{NS}{tag}" for tag in ("path", "use", "text", "rect", "tspan", "line", "circle")}


def _matplotlib_svg() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "test"}):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.bar(["a & b", "c"], [1, 2], hatch="//", label="bars")
        ax.set_xticks([0, 1], ["a & b", "slanted"], rotation=25)
        ax.set_yscale("log")
        ax.legend()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _primitives(root) -> list[tuple]:
    return [(el.tag, el.get("style"), el.get("x"), el.get("y"), (el.text or "").strip(),
             " ".join((el.get("d") or "").split()))
            for el in root.iter() if el.tag in DRAWN]


def test_flattening_keeps_every_primitive_and_reference():
    svg = _matplotlib_svg()
    flat = flatten_svg(svg)
    before, after = ET.fromstring(svg), ET.fromstring(flat)
    assert _primitives(after) == _primitives(before)
    assert len(list(after.iter())) < len(list(before.iter())) * 0.7  # the structure did shrink
    # No group is left that carries nothing; groups that clip or style stay.
    groups = [g for g in after.iter(f"{NS}g")]
    assert all(set(g.attrib) - {"id"} for g in groups)
    assert len([g for g in groups if "clip-path" in g.attrib]) == \
        len([g for g in before.iter(f"{NS}g") if "clip-path" in g.attrib])
    # Every id something refers to is still there, and no other id is.
    referenced = set(re.findall(r'(?:href="#|url\(#)([^")]+)', flat))
    ids = {el.get("id") for el in after.iter() if el.get("id")}
    assert referenced and referenced <= ids and ids <= referenced
    # Zero rotations go, real ones stay.
    assert "rotate(-0 " in svg and "rotate(-0 " not in flat
    assert "rotate(-25" in flat
    assert "a &amp; b" in flat


def test_text_between_spans_of_one_label_is_kept():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><g id="t"><text x="1" y="2">'
           '<tspan>a</tspan> and <tspan>b</tspan></text></g></svg>')
    root = ET.fromstring(flatten_svg(svg))
    text = root.find(f"{NS}text")
    assert "".join(text.itertext()) == "a and b" and root.find(f"{NS}g") is None
