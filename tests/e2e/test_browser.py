"""The built paper and the documentation site, opened in a real headless Chromium.

A small DevTools-protocol driver (websocket-client, pinned in requirements/test.txt) loads each
page from the file system and checks: no console errors, exceptions or failed loads; every chart
is an inline SVG with a nonzero size; every #anchor exists; every relative link, and every
iframe, points at an existing file (and existing anchor). Screenshots go to the test's tmp dir
and to build/screenshots/ for a human to look at.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from support import REPO
from support import STEM

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (installed by .ci/run)")]
websocket = pytest.importorskip("websocket", reason="needs websocket-client (requirements/test.txt)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--window-size=1280,1400", "--remote-debugging-port=0"]

PAGE_FACTS = r"""(() => {
  const top = [...document.querySelectorAll('svg')].filter(s => !s.parentElement.closest('svg'));
  const size = el => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  return {
    title: document.title,
    charts: [...document.querySelectorAll('figure.chart')].map(f => {
      const s = f.querySelector('svg'); return s ? size(s) : null; }),
    svgs: top.length,
    images: [...document.images].map(i => [i.src, i.complete && i.naturalWidth > 0]),
    missingAnchors: [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href'))
      .filter(h => h.length > 1 && !document.getElementById(decodeURIComponent(h.slice(1)))),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    frames: [...document.querySelectorAll('iframe[src]')].map(f => f.src),
    bodyHeight: document.body.scrollHeight,
  };
})()"""


class Browser:
    """Headless Chromium driven over the DevTools protocol, one page target."""

    def __init__(self, profile: Path):
        profile.mkdir(parents=True, exist_ok=True)
        self.log = (profile / "chromium.log").open("wb")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail("chromium did not start: " + (profile / "chromium.log").read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while time.monotonic() < deadline:
            if any(e["method"] == event for e in self.events[seen:]):
                return
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(event)

    def drain(self, seconds: float) -> None:
        """Collect late events (scripts that fail after load)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            if "method" in msg:
                self.events.append(msg)

    def open(self, path: Path) -> dict:
        self.events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")
        self.drain(0.5)
        facts = self.call("Runtime.evaluate", expression=PAGE_FACTS, returnByValue=True)["result"]["value"]
        facts["errors"] = self.errors()
        return facts

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}")
        return out

    def screenshot(self, *targets: Path) -> bytes:
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return data

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def broken_links(urls: list[str]) -> list[str]:
    """file:// URLs whose file (or #anchor in it) does not exist. Others (https) are not fetched."""
    broken = []
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "file":
            continue
        path = Path(urllib.parse.unquote(parts.path))
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            broken.append(url)
        elif parts.fragment and path.suffix == ".html":
            anchor = urllib.parse.unquote(parts.fragment)
            if not re.search(r'\bid="%s"' % re.escape(anchor.replace("&", "&amp;")), path.read_text(encoding="utf-8")):
                broken.append(url)
    return broken


def check_page(facts: dict) -> None:
    assert facts["errors"] == [], facts["errors"]
    assert facts["missingAnchors"] == [], facts["missingAnchors"]
    assert broken_links(facts["links"] + facts["frames"]) == []
    assert all(ok for _src, ok in facts["images"]), facts["images"]
    assert facts["bodyHeight"] > 200


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_paper_in_browser(browser, site_project, tmp_path):
    facts = browser.open(site_project / "dist" / f"{STEM}.html")
    check_page(facts)
    assert facts["title"].startswith("A Fixture Paper")
    assert facts["charts"], "no figure in the paper"
    assert all(c and c[0] > 100 and c[1] > 50 for c in facts["charts"]), facts["charts"]
    # The figure's provenance links (results file, experiment module) resolve from dist/.
    assert any("/results/" in l and l.endswith("/latency.json") for l in facts["links"])
    assert any(l.endswith("/experiments/fake_latency.py") for l in facts["links"])
    shot = browser.screenshot(tmp_path / "paper.png", REPO / "build" / "screenshots" / "paper.png")
    assert png_size(shot)[0] >= 1000


def test_site_in_browser_from_file_system(browser, site_project, tmp_path):
    site = site_project / "site"
    index = browser.open(site / "index.html")
    check_page(index)
    pages = {urllib.parse.urlsplit(l).path for l in index["links"] if l.startswith("file:") and l.endswith(".html")}
    assert {"paper.html", "results.html", "reproduce.html", "contributing.html", "cite.html",
            "changelog.html"} <= {Path(p).name for p in pages}
    browser.screenshot(tmp_path / "site-index.png", REPO / "build" / "screenshots" / "site-index.png")
    for name in ("paper.html", "results.html", "cite.html"):
        facts = browser.open(site / name)
        check_page(facts)
    # The paper page embeds the paper itself, whose figures and provenance links work on the site.
    paper = browser.open(site / "paper" / f"{STEM}.html")
    check_page(paper)
    assert paper["charts"] and all(c[0] > 100 for c in paper["charts"])
    assert any("/results/" in l and l.endswith("/latency.json") for l in paper["links"])


def test_site_when_served_over_http(browser, site_project):
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site_project / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for page in ("index.html", "paper.html", f"paper/{STEM}.html"):
            browser.events.clear()
            browser.call("Page.navigate", url=f"{base}/{page}")
            browser.wait_for("Page.loadEventFired")
            browser.drain(0.3)
            # The standalone paper page names no icon, so the browser asks for /favicon.ico itself.
            errors = [e for e in browser.errors() if not e.endswith("/favicon.ico")]
            assert errors == [], (page, errors)
            facts = browser.call("Runtime.evaluate", expression=PAGE_FACTS, returnByValue=True)["result"]["value"]
            assert facts["missingAnchors"] == [] and facts["bodyHeight"] > 200
            for url in facts["links"] + facts["frames"]:
                if url.startswith(base):
                    target = url.split("#")[0]
                    assert urllib.request.urlopen(target, timeout=10).status == 200, url
    finally:
        server.shutdown()
        server.server_close()
