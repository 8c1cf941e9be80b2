"""The Jinja environment the paper is rendered in, and one-line errors for what goes wrong.

Templates are read through ``results_contract.files`` (regular files only, UTF-8, no NUL), and the
include graph is checked before rendering, so a template that includes itself is named with
its cycle instead of surfacing as a RecursionError at an unrelated line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2.loaders import split_template_path

from report.errors import Problems, UserError
from results_contract.files import read_text


def short_path(path: str) -> str:
    p = Path(path)
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


class InputLoader(jinja2.FileSystemLoader):
    """``FileSystemLoader`` that reads through ``results_contract.files.read_text``."""

    def __init__(self, searchpath: Path, max_bytes: int):
        super().__init__(str(searchpath))
        self.max_bytes = max_bytes

    def get_source(self, environment: jinja2.Environment, template: str):
        pieces = split_template_path(template)  # refuses ".." segments
        for searchpath in self.searchpath:
            filename = os.path.join(searchpath, *pieces)
            if os.path.lexists(filename):
                break
        else:
            raise jinja2.TemplateNotFound(template)
        contents = read_text(Path(filename), short_path(filename), self.max_bytes)
        mtime = os.path.getmtime(filename)
        return contents, os.path.normpath(filename), lambda: os.path.getmtime(filename) == mtime


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's on-disk cache of compiled templates (keyed by the template's name and a checksum
    of its source); a cache folder that cannot be read or written is ignored."""

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError):
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        try:
            self.directory and os.makedirs(self.directory, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError:
            pass


def make_environment(templates_dir: Path, max_bytes: int = 16 * 1024 * 1024) -> jinja2.Environment:
    from report import cache

    bytecode = _QuietBytecodeCache(str(cache.cache_dir("jinja"))) if cache.enabled() else None
    env = jinja2.Environment(
        loader=InputLoader(templates_dir, max_bytes),
        bytecode_cache=bytecode,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    # ``first`` and ``last`` of an empty sequence are None, not an error: a template asking for
    # the first batch size of an experiment whose results file was refused then skips the
    # sentence like every helper does, instead of adding a second error to the one that names
    # the file.
    env.filters["first"] = _first_or_none
    env.filters["last"] = _last_or_none
    return env


# Called as Jinja's own ``first`` and ``last`` are (with the environment), so that compiled
# templates in the bytecode cache call them the same way.
@jinja2.pass_environment
def _first_or_none(_env, seq):
    for item in seq:
        return item
    return None


@jinja2.pass_environment
def _last_or_none(_env, seq):
    items = list(seq)
    return items[-1] if items else None


def include_cycle(env: jinja2.Environment, name: str) -> list[str] | None:
    """The first cycle of static includes/extends/imports reachable from ``name``, e.g.
    ``["a.html.j2", "b.html.j2", "a.html.j2"]``; None when there is none. Templates that cannot
    be loaded or parsed are skipped here: rendering reports them with their line."""
    children: dict[str, list[str]] = {}

    def refs(template: str) -> list[str]:
        if template not in children:
            try:
                source, _, _ = env.loader.get_source(env, template)
                children[template] = _referenced(env, source)
            except (jinja2.TemplateError, UserError):
                children[template] = []
        return children[template]

    def visit(template: str, stack: list[str]) -> list[str] | None:
        if template in stack:
            return stack[stack.index(template):] + [template]
        for child in refs(template):
            found = visit(child, stack + [template])
            if found:
                return found
        return None

    return visit(name, [])


def _referenced(env: jinja2.Environment, source: str) -> list[str]:
    """The templates ``source`` includes, extends or imports by a constant name (parsing is most
    of the cycle check's cost, so the answer is cached by the source's hash)."""
    from report import cache

    def parse() -> list[str]:
        return [t for t in jinja2.meta.find_referenced_templates(env.parse(source)) if t]

    return cache.cached_json("includes", cache.fingerprint("includes", source, jinja2.__version__), parse)


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any], problems: Problems,
                    templates_dir: Path) -> str | None:
    """Render ``name``; a Jinja error becomes one line with the template file and line."""
    cycle = include_cycle(env, name)
    if cycle:
        problems.error(f"{templates_dir / cycle[0]}: template include cycle {' → '.join(cycle)}; "
                       "remove the include that closes the loop")
        return None
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        where = short_path(exc.filename) if exc.filename else str(templates_dir / (exc.name or name))
        problems.error(f"{where}:{exc.lineno}: template syntax error: {exc.message}")
    except jinja2.TemplateNotFound as exc:
        problems.error(f"{templates_dir}: template '{exc.name}' not found; check the name in "
                       f"[tool.paper] main_template or the include")
    except jinja2.UndefinedError as exc:
        problems.error(f"{traceback_location(exc)}: {exc.message}; define it or fix the name")
    except UserError:
        raise
    except RecursionError as exc:
        problems.error(f"{traceback_location(exc)}: templates recurse too deeply (a macro or a "
                       "dynamic include calls itself); break the loop")
    except Exception as exc:
        location = traceback_location(exc)
        if location == "<template>":
            raise
        problems.error(f"{location}: {type(exc).__name__}: {exc}")
    return None


def traceback_location(exc: BaseException) -> str:
    """The innermost template frame of a Jinja error. Jinja rewrites template frames so their
    code object carries the template's file name and line; older frames keep the marker."""
    tb = exc.__traceback__
    found = "<template>"
    while tb is not None:
        frame = tb.tb_frame
        template = frame.f_globals.get("__jinja_template__")
        filename = frame.f_code.co_filename
        if template is not None:
            found = f"{short_path(template.filename or template.name)}:{template.get_corresponding_lineno(tb.tb_lineno)}"
        elif filename.endswith((".j2", ".jinja", ".html")):
            found = f"{short_path(filename)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found
