"""Fuzz the input loaders, and the paths from them to HTML, for N seconds.

    python scripts/fuzz_loaders.py [seconds] [seed]

Every input must either load or be refused with the project's own one-line problems; any other
exception is a bug and is printed with the input that caused it (exit 1). Inputs that load are
also rendered: a bibliography through the CSL formatter, a results file through every template
helper and the page finisher. No ``<script``, ``on*=`` attribute or ``javascript:`` URL may
survive into that HTML.
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from report.bibliography import format_entries, parse_bibliography  # noqa: E402
from report.errors import Problems, UserError  # noqa: E402
from results_contract import ResultsError, parse  # noqa: E402


def parse_results_text(text: str, where: str, problems: Problems):
    try:
        return parse(text, where)
    except ResultsError as exc:
        for line in exc.problems:
            problems.error(line)
        return None
from report.safety import live_markup  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "project"
SEEDS = {
    "results": [p.read_text() for p in sorted((FIXTURE / "results").rglob("*.json"))],
    "bib": [(FIXTURE / "references.bib").read_text()],
}
SPLICE = ['NaN', '1e999', '-1', '""', '{', '}', '[', ']', ',', ':', '"\\u0000"', 'null', 'true', '0', '\\',
          '@misc{', '@string{x = "', '\\"o', '{\\foo', '$', '%', '<script>', '&', '\n', 'and others', '10.1/x',
          '<img src=x onerror=alert(1)>', 'javascript:alert(1)', '"><script>x</script>', "' onclick='x",
          '\u0000toc\u0000', '\\u0000figure:9\\u0000', 'url = {https://x.org/"><b>}', ' # ']


def mutate(text: str, rng: random.Random) -> str:
    data = list(text)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[pos % len(data): pos % len(data) + rng.randint(1, 20)]
        elif op == 1:
            data[pos:pos] = list(rng.choice(SPLICE))
        elif op == 2 and data:
            data[pos % len(data)] = chr(rng.randrange(0, 0x3000))
        elif op == 3 and data:  # duplicate a chunk
            start = rng.randrange(len(data))
            data[pos:pos] = data[start:start + rng.randint(1, 200)]
        else:
            data = data[:pos]  # truncate
    return "".join(data)


HOSTILE = ['<script>alert(1)</script>', '"><script>alert(2)</script>', 'javascript:alert(3)',
           '<img src=x onerror=alert(4)>', "' onmouseover='alert(5)", '</p><svg onload=alert(6)>',
           '&lt;script&gt;', '{{ 7*7 }}', '$\\frac{$', 'https://x.org/<b>', 'x" onclick="y']


def hostile_results(rng: random.Random) -> str:
    """A valid results file with hostile text in random string fields (structure kept, so it
    loads and reaches the renderer)."""
    import json

    doc = json.loads(rng.choice(SEEDS["results"]))

    def walk(obj):
        if isinstance(obj, dict):
            return {k: (walk(v) if k not in ("framework", "status", "better", "schema_version") else v)
                    for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        if isinstance(obj, str) and rng.random() < 0.4:
            return obj + " " + " ".join(rng.sample(HOSTILE, rng.randint(1, 3)))
        return obj

    return json.dumps(walk(doc))


def hostile_bib(rng: random.Random) -> str:
    fields = {"title": "T", "author": "A B", "journal": "J", "year": "2020", "url": "https://x.org/a",
              "note": "n", "publisher": "P", "howpublished": "H", "doi": "10.1234/abc", "eprint": "1912.01703"}
    for name in rng.sample(sorted(fields), rng.randint(1, 4)):
        fields[name] += rng.choice(HOSTILE)
    prefix = rng.choice(["arXiv", "other", "HAL"])
    body = ", ".join(f"{k} = {{{v}}}" for k, v in fields.items())
    return f"@article{{k, {body}, archivePrefix = {{{prefix}}}}}\n"


def check_results(text: str) -> None:
    problems = Problems()
    data = parse_results_text(text, "results/x.json", problems)
    if data is None:
        assert problems.errors and all("\n" not in e and e.startswith("results/x.json") for e in problems.errors)


def check_bib(text: str) -> None:
    problems = Problems()
    entries = parse_bibliography(text, "refs.bib", problems).entries
    assert all("\n" not in m for m in problems.errors + problems.warnings)
    if entries:
        for key, html in format_entries(entries, list(entries)[:5], "ieee").items():
            assert not live_markup(html), (key, live_markup(html))


CONTEXT_TEMPLATE = """{% for c in cases("x") %}
<p>{{ value("x", id=c.id) }} {{ fmt_case(c) }} {{ case_label(c) }} {{ c.notes or "" }}
{{ compare("x", {"id": c.id}, {"id": c.id}) }}</p>{% endfor %}
{{ cases_table("tab:all", "All.", "x") }}
{% set rows = [] %}{% for c in cases("x") %}{% do rows.append([c.id, c.error or ""]) %}{% endfor %}
{{ table("tab:t", "T.", ["a", "b"], rows) }}
{{ toc() }}{{ bibliography() }}"""


def check_context(text: str) -> None:
    """A results file that loads is rendered through the template helpers into a page."""
    from pathlib import Path as _Path

    import jinja2

    from report import document
    from report.bibliography import Bibliography
    from report.document import DocumentState
    from report.helpers import Helpers, Sources
    from report.results import ResultsSet
    from results_contract import ResultsFile

    problems = Problems()
    data = parse_results_text(text, "results/x.json", problems)
    if data is None:
        return
    data["experiment"] = "x"
    results = ResultsSet.single({"x": ResultsFile.from_document(_Path("results/x.json"), data)})
    state = DocumentState()
    env = jinja2.Environment(loader=jinja2.DictLoader({"t": CONTEXT_TEMPLATE}), autoescape=True,
                             extensions=["jinja2.ext.do"])
    env.globals.update(Helpers(Sources(ROOT, results, Bibliography()), problems, state).globals())
    page, _ = document.finish(env.get_template("t").render(), state, problems, {}, {})
    assert not live_markup(page), live_markup(page)


def main(seconds: float = 20.0, seed: int = 0) -> int:
    rng = random.Random(seed)
    counts = {"results": 0, "bib": 0, "context": 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind = rng.choice(["results", "results", "bib", "context"])
        if kind == "context" and rng.random() < 0.7:
            text = hostile_results(rng)
        elif kind == "bib" and rng.random() < 0.5:
            text = hostile_bib(rng)
        elif rng.random() < 0.1:
            text = bytes(rng.randrange(256) for _ in range(rng.randrange(200))).decode("utf-8", "replace")
        else:
            text = mutate(rng.choice(SEEDS["bib" if kind == "bib" else "results"]), rng)
        try:
            {"results": check_results, "bib": check_bib, "context": check_context}[kind](text)
        except UserError:
            pass
        except Exception:
            print(f"BUG on {kind} input {text[:500]!r}", file=sys.stderr)
            traceback.print_exc()
            return 1
        counts[kind] += 1
    print(f"fuzzed {sum(counts.values())} inputs in {seconds:.0f} s "
          f"({counts['results']} results, {counts['bib']} bibliography, {counts['context']} rendered), "
          "no crashes, no executable markup")
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0, int(sys.argv[2]) if len(sys.argv) > 2 else 0))
