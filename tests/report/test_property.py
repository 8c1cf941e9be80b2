"""Property-based tests: the LaTeX converter and entry formatter never crash and never emit
unescaped HTML; the results loader accepts or records its own one-line error, never a traceback."""

from __future__ import annotations

import copy
import json
import re

from hypothesis import HealthCheck, given, settings, strategies as st

from support import FIXTURE
from report.bibliography import Entry, format_entries, latex_to_text, parse_bibliography
from report.errors import Problems, UserError
from support import parse_results_text

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKENS = list("ab Z<>&\"'\\{}$~-_%^#@=,\n") + ["\\'", '\\"', "\\emph", "\\foo", "\\&", "<script>", "é", "{\\bf x}",
                                               "\\href{", "https://x.org/a?b=<c>", "--"]
LATEXY = st.lists(st.sampled_from(TOKENS), max_size=12).map("".join) | st.text(max_size=40)
ALLOWED_TAG = re.compile(r'</?(i|b|span|div)( class="[\w-]*")?>|<a href="[^"<>]*">|</a>')
GOOD = json.loads((FIXTURE / "results" / "fixture-host" / "latency.json").read_text())


@SETTINGS
@given(st.lists(LATEXY, max_size=8).map("".join))
def test_latex_to_text_never_crashes(value):
    out = latex_to_text(value)
    assert isinstance(out, str) and "\n" not in out


@SETTINGS
@given(title=LATEXY, author=LATEXY, venue=LATEXY)
def test_formatted_entry_never_contains_raw_html(title, author, venue):
    entry = Entry("k", "article", 1, {"title": latex_to_text(title) or "t", "journal": latex_to_text(venue) or "j",
                                      "year": "2020"}, [{"literal": latex_to_text(author) or "a"}])
    out = format_entries({"k": entry}, ["k"], "ieee")["k"]
    # only markup the formatter itself produces may appear; everything else is escaped
    assert "<" not in ALLOWED_TAG.sub("", out), out


@SETTINGS
@given(LATEXY)
def test_bibliography_parser_never_crashes(field):
    problems = Problems()
    text = "@misc{k, title = {" + field + "}, year = {2020}}\n@article{j, author = {" + field + "}, year = 2020}"
    entries = parse_bibliography(text, "refs.bib", problems).entries
    assert all(isinstance(e, Entry) for e in entries.values())
    assert all("\n" not in m for m in problems.errors + problems.warnings)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


def loads_cleanly(text):
    problems = Problems()
    try:
        data = parse_results_text(text, "results/x.json", problems)
    except UserError as exc:
        assert str(exc)
        return
    if data is None:
        assert problems.errors and all(e.startswith("results/x.json") and "\n" not in e for e in problems.errors)
    else:
        assert problems.errors == []


@SETTINGS
@given(JSON)
def test_loader_on_random_json(value):
    loads_cleanly(json.dumps(value))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(GOOD) if p]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["delete", "replace"]), JSON), min_size=1, max_size=4))
def test_loader_on_mutated_valid_document(mutations):
    doc = copy.deepcopy(GOOD)
    for path, op, value in mutations:
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            if op == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    loads_cleanly(json.dumps(doc))


@SETTINGS
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_loader_on_random_text(raw):
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    loads_cleanly(text)
