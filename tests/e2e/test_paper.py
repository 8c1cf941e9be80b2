"""The real paper: built from the committed results, with every section, figure, table, listing and
reference in place, and no measured number typed into the templates."""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

pytestmark = pytest.mark.slow

SECTIONS = ["sec:intro", "sec:background", "sec:programming", "sec:methodology", "sec:performance",
            "sec:distributed", "sec:quantisation", "sec:deployment", "sec:keras-backends", "sec:ecosystem",
            "sec:applications", "sec:machines", "sec:discussion", "sec:threats", "sec:future", "sec:conclusion",
            "sec:reproducibility"]
# Sections whose prose may not contain a literal number (every number comes from results/).
NO_LITERALS = ["thread_dependence.html.j2", "performance.html.j2", "performance_resources.html.j2", "deployment.html.j2",
               "distributed_measured.html.j2", "quantisation_measured.html.j2", "keras_backends_measured.html.j2",
               "machines.html.j2", "discussion.html.j2", "conclusion.html.j2", "abstract.html.j2"]
# Generator artefacts a reader must never see (issue 13): each pattern names one class.
ARTEFACTS = {
    "a fraction printed where a label agreement is meant": r"label agreement is 1(?![\d.,%])",
    "missing space after a sentence": r"[a-z0-9\)][.;:][A-Z][a-z]",
    "a ratio under 2 written with ×": r"(?<![\d.])1\.\d+× (?:smaller|larger|faster|slower|higher|lower)",
    "thread(s)": r"\(s\)",
    "a small time in seconds with a power of ten": r"×10[⁻-][\d⁰¹²³⁴⁵⁶⁷⁸⁹]+ s\b",
    "an internal id in prose": r"\b(?:pytorch|tensorflow|litert|onnxruntime|keras)/[a-z_]+",
    "a raw mode id in prose": r"\b(?:eager_cl|compile_model|matmul_graph|int8_dynamic|fresh_process)\b",
    "n/a without a reason": r"(?<![\"“])n/a(?! \()(?![\"”])",
    "an HTML entity escaped twice (a Markup joined to a plain string, then escaped)":
        r"&(?:#\d+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);",
    "two parenthetical remarks in a row (a generated value, then a reference or caveat)": r"\w\) \([A-Za-z]",
}
# Names that contain digits but are not numbers.
ALLOWED_TOKENS = re.compile(r"(?<!\w)(AVX2|AVX-512|FP32|float32|float16|bfloat16|int8|p90|p99|95%|TF\s?2|Keras\s3|PyTorch\s2)(?!\w)")


def _primary_host() -> str:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["paper"]["primary_host"]


def build_paper(root: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build.py"), "--root", str(root), "--out", str(out),
                           "--force", *extra], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def paper(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("paper")
    result = build_paper(REPO, out)
    assert result.returncode == 0, result.stderr
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    return {"html": html, "pdf": next(out.glob("*.pdf")), "stderr": result.stderr}


def test_every_section_is_present_in_order(paper):
    positions = [paper["html"].find(f'id="{s}"') for s in SECTIONS]
    assert all(p > 0 for p in positions), [s for s, p in zip(SECTIONS, positions) if p < 0]
    assert positions == sorted(positions)
    assert '<nav class="toc"' in paper["html"] and 'id="abstract"' in paper["html"]


def test_enough_figures_tables_listings_and_references(paper):
    html = paper["html"]
    assert len(re.findall(r'<figure class="chart"', html)) >= 8
    assert len(re.findall(r'<span class="label">Table \d+\.', html)) >= 3
    assert len(re.findall(r'<figure class="listing"', html)) >= 4
    assert len(re.findall(r'<li id="ref-', html)) >= 30


def test_every_figure_and_table_is_referenced(paper):
    html = paper["html"]
    labels = re.findall(r'<(?:figure|table) [^>]*id="((?:fig|tab|lst):[^"]+)"', html)
    assert labels
    unreferenced = [l for l in labels if f'class="xref" href="#{l}"' not in html]
    assert unreferenced == []


def test_every_bibliography_entry_is_cited(paper):
    keys = re.findall(r"^@\w+\{([^,]+),", (REPO / "references.bib").read_text(encoding="utf-8"), re.M)
    missing = [k for k in keys if f'id="ref-{k}"' not in paper["html"]]
    assert len(keys) >= 30 and missing == []
    assert "never cited" not in paper["stderr"]


def test_no_unresolved_markers(paper):
    assert "[??]" not in paper["html"] and "\x00" not in paper["html"]


def _pdf_text(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("needs poppler-utils (installed by .ci/run)")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_main_text_is_25_to_35_pages_and_the_appendix_at_most_4(paper):
    pages = _pdf_text(paper["pdf"]).split("\f")
    pages = [p for p in pages if p.strip()]
    # The last page naming the appendix is where it starts (the contents on page two name it too).
    first_appendix = max(i for i, p in enumerate(pages) if "Appendix: reproducibility" in p)
    references = next(i for i, p in enumerate(pages) if re.search(r"^\s*References\s*$", p, re.M))
    assert 25 <= references <= 35, f"main text is {references} pages"
    assert len(pages) - first_appendix <= 4, f"appendix is {len(pages) - first_appendix} pages"


def _visible_text(html: str) -> str:
    """The prose a reader sees: without code, charts and the bibliography (titles and URLs are
    quoted as their sources write them)."""
    html = re.sub(r"<(script|style|svg|pre|code)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<ol class="references".*?</ol>', " ", html, flags=re.S)
    html = re.sub(r'<span class="label">.*?</span>', " ", html)
    # Block boundaries separate text; inline tags (code, a, strong) do not.
    html = re.sub(r"</?(p|li|ul|ol|td|th|tr|h[1-6]|div|figcaption|caption|section|br|table|figure|nav|main)\b[^>]*>", "\n", html)
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", html))
    return re.sub(r"[ \t]+", " ", text)


@pytest.mark.parametrize("what", sorted(ARTEFACTS))
def test_no_generator_artefacts_in_the_rendered_paper(paper, what):
    text = _visible_text(paper["html"])
    hits = [text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
            for m in re.finditer(ARTEFACTS[what], text)]
    assert hits == [], f"{what}: {hits[:3]}"


def test_chart_text_is_plain_text(paper):
    """Charts keep mathtext off, so TeX markup in tick labels would print literally."""
    svgs = re.findall(r"<svg\b.*?</svg>", paper["html"], flags=re.S)
    assert svgs and not any("mathdefault" in svg or "$10^" in svg for svg in svgs)


def test_no_hyphenated_words_in_table_headers_or_lower_case_legends(paper):
    for header in re.findall(r"<th[^>]*>(.*?)</th>", paper["html"], flags=re.S):
        assert "&shy;" not in header and "\u00ad" not in header, header
    # Chart text (legends, axis labels, ticks) starts with a capital; host names and "n/a" excepted.
    texts = [t.strip() for svg in re.findall(r"<svg\b.*?</svg>", paper["html"], flags=re.S)
             for t in re.findall(r"<text\b[^>]*>([^<]+)</text>", svg)]
    assert texts
    lower = [t for t in texts if t[:1].isalpha() and t[:1].islower() and t != "n/a"
             and not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", t) and not t.startswith(("torch.", "tf."))]
    assert lower == []


def _prose(text: str) -> str:
    """Template text with Jinja comments, tags and expressions removed: what a reader sees verbatim."""
    text = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    return re.sub(r"<[^>]+>", " ", text)


@pytest.mark.parametrize("name", NO_LITERALS)
def test_no_number_is_typed_into_results_sections(name):
    text = (REPO / "templates" / "sections" / name).read_text(encoding="utf-8")
    # Not in the prose a reader sees ...
    prose = ALLOWED_TOKENS.sub(" ", _prose(text))
    assert re.findall(r"\d", prose) == [], f"{name}: literal digits in prose"
    # ... and not inside template expressions either (filters take values from results via params()).
    code = " ".join(re.findall(r"\{\{.*?\}\}|\{%.*?%\}", re.sub(r"\{#.*?#\}", "", text, flags=re.S), flags=re.S))
    code = re.sub(r'"[^"]*"', '""', code)  # string literals (labels, captions) are not numbers
    code = re.sub(r"numeric=\[[\d, ]*\]", "", code)  # which table columns are right-aligned
    # 0 and 1 are logic (empty or not, one or several), not data; any other number must come from results/.
    literals = [m.group(0) for m in re.finditer(r"(?<![\w.])\d+(\.\d+)?(?![\w])", code)]
    assert [x for x in literals if x not in ("0", "1")] == [], f"{name}: numeric literal in an expression"


def _copy_repo(root: Path) -> None:
    for part in ("report", "templates", "results", "experiments", "results_contract"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "references.bib", "build.py", "cli.py"):
        shutil.copy(REPO / part, root / part)


def _guide_item(html: str, title: str) -> str:
    start = html.index(f"<strong>{title}")
    return html[start:html.index("</li>", start)]


def test_decision_guide_follows_its_data(tmp_path):
    """Make PyTorch five times slower in every training case of the primary host: the guide's
    training item, the abstract and the conclusion must now name TensorFlow, and the number moves."""
    import tomllib

    from results_contract.stats import summarize

    root = tmp_path / "repo"
    _copy_repo(root)
    primary = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["paper"]["primary_host"]
    before = build_paper(root, tmp_path / "before", "--no-pdf")
    assert before.returncode == 0, before.stderr
    html_before = next((tmp_path / "before").glob("*.html")).read_text()

    path = root / "results" / primary / "training.json"
    data = json.loads(path.read_text())
    changed = 0
    for case in data["cases"]:
        if case["framework"] == "pytorch" and case["metric"] == "throughput" and case["status"] == "ok":
            runs = [[x / 5 for x in run["samples"]] for run in case["runs"]]
            case.update(summarize(runs))
            changed += 1
    assert changed
    path.write_text(json.dumps(data, sort_keys=True))
    after = build_paper(root, tmp_path / "after", "--no-pdf")
    assert after.returncode == 0, after.stderr
    html_after = next((tmp_path / "after").glob("*.html")).read_text()

    item_before = _guide_item(html_before, "Training small models on a CPU.")
    item_after = _guide_item(html_after, "Training small models on a CPU.")
    assert item_before != item_after
    assert re.search(r"TensorFlow is faster for (all \w+ models|both models|every model), PyTorch for no model",
                     re.sub(r"\s+", " ", item_after)), item_after
    conclusion = html_after[html_after.index('id="sec:conclusion"'):]
    flat = re.sub(r"<[^>]+>", "", re.sub(r"\s+", " ", conclusion))
    assert re.search(r"Training throughput favours TensorFlow for (all \w+ models|both models|every model) with the fastest modes", flat), flat[:1500]
    assert "PyTorch for none" not in flat


def test_perturbed_latency_flips_the_abstract(tmp_path):
    """Make PyTorch's CNN latency 100 times longer in every mode: the abstract's generated sentence
    turns around and prints the new median."""
    import tomllib

    from report.formatting import fmt_quantity
    from results_contract.stats import summarize

    root = tmp_path / "repo"
    _copy_repo(root)
    primary = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["paper"]["primary_host"]
    path = root / "results" / primary / "inference.json"
    data = json.loads(path.read_text())
    target = None
    for case in data["cases"]:
        if case["framework"] == "pytorch" and case["model"] == "cnn" and case["metric"] == "latency" \
                and case["status"] == "ok":
            case.update(summarize([[x * 100 for x in run["samples"]] for run in case["runs"]]))
            if case["mode"] == "eager" and case["params"].get("boundary") == "tensor" and case["params"].get("threads") == 2:
                target = case
    assert target is not None
    path.write_text(json.dumps(data, sort_keys=True))
    after = build_paper(root, tmp_path / "after", "--no-pdf")
    assert after.returncode == 0, after.stderr
    html = next((tmp_path / "after").glob("*.html")).read_text()
    abstract = re.sub(r"\s+", " ", html[html.index('id="abstract"'):html.index('<nav class="toc"')])
    assert fmt_quantity(target["median"], "ms") in abstract
    assert re.search(r"PyTorch [^()]+ \([^)]*\) is [\d.,]+× slower than TensorFlow", abstract)


def _headline_rows(html: str) -> list[list[str]]:
    start = html.index('id="tab:headlines"')
    table = html[start:html.index("</table>", start)]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        if cells:
            rows.append(cells)
    return rows


def test_decision_guide_marks_the_weaker_verdicts_table_3_marks(paper):
    """Review 11 M2: the guide's outcome sentence printed its "weaker" clause only when both
    frameworks won something, so with TensorFlow winning nothing the guide stated every weaker
    verdict plainly while Table 3 marked it. Each (metric, model, rule) the table marks weaker
    must be named weaker by the guide's item for that metric, and no other."""
    html = paper["html"]
    rows = _headline_rows(html)
    assert rows and all(len(r) == 6 for r in rows), rows[:2]
    items = {"Training": _guide_item(html, "Training small models on a CPU."),
             "Latency": _guide_item(html, "Latency-bound CPU inference")}
    for label, item in items.items():
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html_lib.unescape(item)))
        # one clause per rule, in the order fastest, then defaults
        clauses = re.split(r"with each framework's default", text)
        assert len(clauses) == 2, text
        for column, clause in zip((4, 5), clauses):
            expected = sorted(r[1].lower() for r in rows if r[0].startswith(label) and "(weaker)" in r[column])
            named = re.search(r"the verdicts? for (.*?) (?:is|are) weaker", clause)
            found = sorted(re.findall(r"the (\w+)", named.group(1))) if named else []
            assert [m.lower() for m in found] == expected, (label, column, clause)


def test_one_thread_clause_of_the_conclusion_matches_the_guide(paper):
    """Review 11 M1: the MLP's training verdict moves with the thread setting. When the conclusion
    says one thread per process favours TensorFlow, the guide's thread sentence must say so too
    (and name at least two different outcomes); when it does not, neither may the guide."""
    html = paper["html"]
    conclusion = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html[html.index('id="sec:conclusion"'):]))
    item = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html_lib.unescape(_guide_item(html, "Training small models on a CPU."))))
    says_tf = "the MLP's plain training step favours TensorFlow" in conclusion
    sentence = re.search(r"For the MLP, the default modes' training verdict differs between thread settings: (.*?\))\.(?: |$)", item)
    guide_tf = bool(sentence and "TensorFlow is faster with one thread" in sentence.group(1))
    if "PyTorch is the faster framework" in conclusion:  # the exception belongs to that claim
        assert says_tf == guide_tf, (conclusion[:600], item)
    else:  # "neither framework is faster across the board" needs no exception, but may not invent one
        assert guide_tf or not says_tf, (conclusion[:600], item)
    if sentence:
        outcomes = set(re.findall(r"(PyTorch is faster|TensorFlow is faster|finds no direction)", sentence.group(1)))
        assert len(outcomes) >= 2, sentence.group(0)


def _timing_windows(host_dir: Path) -> set[float]:
    return {json.loads(f.read_text())["parameters"].get("timing", {}).get("max_time_s")
            for f in sorted(host_dir.glob("*.json"))} - {None}


def test_machines_section_states_a_hosts_other_timing_window(paper):
    """A process-level host measured with another per-process timing window than the primary
    host's (the window was shortened to fit the suite's time budget) says so beside its numbers."""
    import tomllib

    primary = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["paper"]["primary_host"]
    text = re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", paper["html"])))
    primary_windows = _timing_windows(REPO / "results" / primary)
    checked = 0
    for host_dir in sorted(p for p in (REPO / "results").iterdir() if p.is_dir() and p.name != primary):
        windows = _timing_windows(host_dir)
        if len(windows) != 1 or len(primary_windows) != 1 or windows == primary_windows:
            continue
        (mine,), (theirs,) = windows, primary_windows
        process_level = f"On {host_dir.name} the timing window was {mine:g} s per case and process, against the " \
                        f"primary host's {theirs:g} s"
        version_1 = f"with timing windows of {mine:g} s per case and process against {theirs:g} s"  # its own paragraph
        assert process_level in text or version_1 in text, host_dir.name
        checked += process_level in text
    if not checked:  # no process-level host has another window: no such sentence
        assert "the timing window was" not in text


# Every experiment of the primary host: a template that reads one experiment's results never
# borrows a setting from another (training takes its pinned threads from training, not inference).
@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "results").glob("*/*.json")
                                        if p.parent.name == _primary_host()))
def test_a_broken_results_file_of_the_real_paper_gives_one_error(tmp_path, name):
    """A results file that does not parse is reported once, naming the file; the templates that
    read it skip it instead of adding errors of their own (the GEMM paragraph of Section 12 once
    failed on an empty list when gemm.json was refused)."""
    import tomllib

    root = tmp_path / "repo"
    _copy_repo(root)
    primary = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["paper"]["primary_host"]
    (root / "results" / primary / f"{name}.json").write_text('{"broken')
    result = subprocess.run([sys.executable, str(root / "build.py"), "check", "--root", str(root)],
                            capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1, result.stderr
    assert len(errors) == 1 and f"results/{primary}/{name}.json" in errors[0], errors


def test_investigations_name_the_machine_they_were_made_on(paper):
    """An explanation from docs/investigations.md was found on ``[tool.paper] investigation_host``;
    when that is not the primary host, every sentence that gives one names it."""
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["paper"]
    inv, primary = cfg.get("investigation_host"), cfg["primary_host"]
    text = re.sub(r"\s+", " ", _visible_text(paper["html"]))
    found = re.findall(r"(?:By our investigation|our profiling|A diagnostic profile with torch\.profiler[^,]*?|"
                       r"a dump of the optimised XLA program|In a standalone check|We investigated the slowdown)(.{0,40})", text)
    assert found, "no investigation sentence rendered"
    for tail in found:
        assert (f"on {inv}" in tail) == (inv is not None and inv != primary), tail


def test_rechecks_on_the_primary_render_only_while_the_recheck_host_is_primary(paper):
    """``[tool.paper] recheck_host`` is where docs/investigations.md re-timed the findings; the
    paper reports those re-checks ("Re-timed on the primary host") only while it is the primary."""
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["paper"]
    text = re.sub(r"\s+", " ", _visible_text(paper["html"]))
    rechecks = re.findall(r"[Rr]e-timed (?:on the primary host|alone)", text)
    if cfg.get("recheck_host") == cfg["primary_host"]:
        assert rechecks, "no re-check rendered"
    else:
        assert rechecks == []


def test_the_cpu_flag_sentence_says_which_host_has_which_flags(paper):
    """Section 12 names the flags one AMD host has and the other lacks, in the right direction."""
    text = re.sub(r"\s+", " ", _visible_text(paper["html"]))
    hosts = {}
    for folder in (REPO / "results").iterdir():
        env = json.loads(next(folder.glob("*.json")).read_text())["environment"]
        hosts[folder.name] = set(env.get("cpu_flags") or [])
    checked = 0
    for m in re.finditer(r"Host (\S+) reports the same CPU model name as the primary host, [^:]+: (it (?:has|lacks) [^.]*)", text):
        other, clause = m.group(1), m.group(2)
        primary = json.loads((REPO / "pyproject.toml").read_text().split("primary_host = ")[1].split("\n")[0])
        for verb, flags_text in re.findall(r"it (has|lacks) ([a-z0-9_, ]+?)(?:, which| and its|$)", clause):
            flags = {f for f in re.split(r", | and ", flags_text) if f}
            owner, lacker = (other, primary) if verb == "has" else (primary, other)
            assert flags <= hosts[owner] and not flags & hosts[lacker], (verb, flags, clause)
            checked += 1
    assert checked, "no CPU flag sentence found"
