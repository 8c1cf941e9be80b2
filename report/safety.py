"""The last line of defence: the paper is script-free, so any executable markup in the page is a
bug in the generator (data reaching HTML unescaped) and the build refuses to write it."""

from __future__ import annotations

from html.parser import HTMLParser

EXECUTABLE_TAGS = ("script", "iframe", "object", "embed")
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href")
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text/html")


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in EXECUTABLE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if value and name in URL_ATTRIBUTES and "".join(value.split()).lower().startswith(BAD_SCHEMES):
                self.found.append(f"<{tag} {name}=\"{value[:30]}...\">")

    handle_startendtag = handle_starttag


def live_markup(page: str) -> list[str]:
    """What in ``page`` a browser would execute: <script> (and embedding) elements, on* event
    handler attributes and javascript: URLs. Escaped text that merely reads like them is inert."""
    scan = _Scan()
    scan.feed(page)
    scan.close()
    return scan.found
