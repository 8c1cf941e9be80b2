"""LaTeX-to-Unicode conversion and entry formatting on real-world BibTeX."""

from __future__ import annotations

from report.bibliography import format_entries, latex_to_text, parse_bibliography, parse_name, split_top_level
from report.errors import Problems


def parse(text):
    problems = Problems()
    entries = parse_bibliography(text, "refs.bib", problems).entries
    return entries, problems


def test_accents_and_escapes_become_unicode():
    assert latex_to_text(r'K{\"o}pf') == "Köpf"
    assert latex_to_text(r"Mart{\'\i}n") == "Martín"
    assert latex_to_text(r"Valen{\c{c}}a") == "Valença"
    assert latex_to_text(r"Be{\'c}irovi{\'c}") == "Bećirović"
    assert latex_to_text(r"R{\'e}") == "Ré"
    assert latex_to_text(r"Vi{\'e}gas") == "Viégas"
    assert latex_to_text(r"Research \& Development") == "Research & Development"
    assert latex_to_text(r"tf.config.experimental.enable\_op\_determinism") == "tf.config.experimental.enable_op_determinism"
    assert latex_to_text("{PyTorch}: An {Imperative} Style") == "PyTorch: An Imperative Style"
    assert latex_to_text("pages 265--283") == "pages 265–283"


def test_names_split_only_at_brace_depth_zero():
    assert split_top_level("{Barnes and Noble} and Smith, John", "and") == ["{Barnes and Noble}", "Smith, John"]
    assert parse_name("{Keras Team}") == {"literal": "Keras Team"}
    assert parse_name("{{TensorFlow Authors}}") == {"literal": "TensorFlow Authors"}
    assert parse_name("Janapa Reddi, Vijay") == {"family": "Janapa Reddi", "given": "Vijay"}
    assert parse_name("Vijay {Janapa Reddi}") == {"family": "Janapa Reddi", "given": "Vijay"}
    assert parse_name(r"K{\"o}pf, Andreas") == {"family": "Köpf", "given": "Andreas"}


def test_string_macros_and_corporate_authors():
    entries, problems = parse(r"""
@string{osdi = "12th USENIX Symposium on Operating Systems Design and Implementation"}
@inproceedings{a, author = {Abadi, Mart{\'\i}n and others}, title = {{TensorFlow}}, booktitle = osdi, year = 2016}
@misc{k, author = {{Keras Team}}, title = {Keras 3 benchmarks}, year = {2024}, url = {https://keras.io/getting_started/benchmarks/}}
""")
    assert problems.errors == []
    assert entries["a"].fields["booktitle"].startswith("12th USENIX")
    assert entries["a"].authors[0] == {"family": "Abadi", "given": "Martín"}
    assert entries["k"].authors == [{"literal": "Keras Team"}]


def test_formatting_ieee_with_links_and_et_al():
    entries, _ = parse(r"""
@inproceedings{a, author = {Abadi, Mart{\'\i}n and Barham, Paul and others}, title = {{TensorFlow}: A System},
  booktitle = {OSDI}, year = {2016}, pages = {265--283}, doi = {10.5555/3026877.3026899}}
@misc{k, author = {{Keras Team}}, title = {Keras 3 benchmarks}, year = {2024}, url = {https://keras.io/x/}}
@misc{s, author = {Shi, Shaohuai and Chu, Xiaowen}, title = {Benchmarking Tools}, year = {2016}, eprint = {1608.07249},
  archivePrefix = {arXiv}}
@book{m, author = {Doe, Jane}, title = {Only Required Fields}, year = {2020}}
""")
    out = format_entries(entries, ["k", "a", "s", "m"], "ieee")
    assert list(out) == ["k", "a", "s", "m"]
    assert out["a"].startswith("M. Abadi <i>et al.</i>, “TensorFlow: A System”")
    assert "pp. 265–283" in out["a"]
    assert '<a href="https://doi.org/10.5555/3026877.3026899">10.5555/3026877.3026899</a>' in out["a"]
    assert out["k"].startswith("Keras Team, “Keras 3 benchmarks”")
    assert '<a href="https://keras.io/x/">https://keras.io/x/</a>' in out["k"]
    assert '<a href="https://arxiv.org/abs/1608.07249">arXiv:1608.07249</a>' in out["s"]
    assert out["m"].startswith("J. Doe, <i>Only Required Fields</i>") and "2020" in out["m"]


def test_entry_checks_name_the_line():
    _, problems = parse("""@misc{ok, title = {Fine}, year = {2020}}

@article{noauthor, title = {No Author}, journal = {J}, year = {2020}}
@article{nodate, author = {A, B}, title = {No Year}, journal = {J}}
@article{baddoi, author = {A, B}, title = {T}, journal = {J}, year = {2020}, doi = {doi.org/nonsense}}
@misc{ok, title = {Again}, year = {2021}}
""")
    assert sorted(problems.errors) == [
        "refs.bib:3: noauthor: missing author (or editor); add it (use {Organisation Name} for a corporate author)",
        "refs.bib:4: nodate: missing year; add it",
        "refs.bib:5: baddoi: malformed DOI 'doi.org/nonsense'; expected the form 10.NNNN/suffix",
        "refs.bib:6: duplicate key 'ok'; rename or remove one entry",
    ]


def test_unbalanced_braces_name_the_line():
    _, problems = parse("@misc{fine, title = {Fine}, year = {2020}}\n@misc{broken, title = {Open, year = {2020}}\n")
    assert len(problems.errors) == 1 and problems.errors[0].startswith("refs.bib:2: cannot parse")


def test_hostile_text_is_escaped_in_formatted_html():
    entries, _ = parse(r"""@misc{x, author = {{<script>alert(1)</script> Inc}}, title = {A "quoted" <b>title</b> \& more}, year = {2020}}""")
    out = format_entries(entries, ["x"], "ieee")["x"]
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&lt;b&gt;title&lt;/b&gt;" in out and "&amp; more" in out
