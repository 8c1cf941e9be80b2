"""A chart drawn from several results files names every one of them in its caption."""

from __future__ import annotations

import json
import re

from support import run_build

from results_contract import dump


def test_ratio_figure_caption_lists_every_results_file_it_draws_from(project):
    results = project / "results" / "fixture-host"
    second = json.loads((results / "latency.json").read_text())
    second["experiment"] = "latency_again"
    for case in second["cases"]:
        case["median"] *= 2
    dump(second, results / "latency_again.json")
    template = project / "templates" / "paper.html.j2"
    text = template.read_text()
    chart = ('{{ ratio_figure("fig:both", "Both runs.", [{"label": "first", "pairing": headline("latency", "latency").fastest},'
             ' {"label": "second", "pairing": headline("latency_again", "latency").fastest}], "ratio") }}\n'
             '<p>{{ ref("fig:both") }}.</p>\n')
    template.write_text(text.replace('<h2 id="sec:method">', chart + '<h2 id="sec:method">'))

    built = run_build(project, "--no-pdf")
    assert built.returncode == 0, built.stderr
    html = next((project / "dist").glob("*.html")).read_text()
    caption = re.search(r"Both runs\..*?Data: (.*?); code:", html, re.S)
    assert caption, "the figure's provenance line is missing"
    files = list(dict.fromkeys(re.findall(r"results/fixture-host/[a-z_]+\.json", caption.group(1))))  # href and text
    assert files == ["results/fixture-host/latency.json", "results/fixture-host/latency_again.json"]
