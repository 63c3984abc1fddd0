"""
The built documentation in a real browser: headless Chromium, driven over the DevTools protocol.

The docs are built once per test run (the ``docs_build`` fixture of tests/test_quality.py,
shared with the no-warnings test), served on loopback, and opened in Chromium (the Debian
package; ``.ci/run`` installs it). A page fails on any JavaScript error (uncaught exceptions,
``console.error``, resources that failed to load), on a plotly chart that did not draw (a
``.plotly-graph-div`` without its ``.main-svg``), and on a blank page. Screenshots of every
page are saved for people to look at, in a new folder ``funnel-docs-screenshots-*`` of the
system's temporary folder (or ``$FUNNEL_SCREENSHOTS``); its path is printed (``pytest -s -p
no:xdist`` shows it) and named in every failure.

Chromium is driven through ``--remote-debugging-pipe`` (file descriptors 3 and 4), so no
websocket library or browser-automation package is needed. Tests skip, saying why, where no
Chromium is installed.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_quality import DocsBuild, docs_build  # noqa: F401  (the shared build)

pytestmark = pytest.mark.slow

#: Flags for a headless Chromium that runs as root, offline, with nothing of its own to fetch.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)
WIDTH = 1280


def find_chromium() -> str | None:
    """Debian's chromium, or another Chrome on PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """Chromium did not answer, or answered with an error."""


class Chromium:
    """One headless Chromium and one page, spoken to in DevTools-protocol messages over a pipe."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def as_fd_3_and_4() -> None:  # the pipe ends Chromium reads (3) and writes (4)
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            pass_fds=(3, 4),
            preexec_fn=as_fd_3_and_4,  # runs before the child closes other fds
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.page(f"{domain}.enable")
        self.page(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                raise BrowserError("Chromium stopped answering (see its log)")
            ready, _, _ = select.select([self._from_browser], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(
        self, method: str, *, session: str | None = None, timeout: float = 60, **params: Any
    ) -> dict[str, Any]:
        """Send one command; collect the events that arrive meanwhile; return its result."""
        self._next += 1
        request: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self._to_browser, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.call(method, session=self._session, **params)

    def evaluate(self, expression: str) -> Any:
        answer = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression!r} raised: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, method: str, timeout: float = 60) -> None:
        """Wait for an event (already received, or still to come)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            if any(e.get("method") == method for e in self.events[seen:]):
                return
            seen = len(self.events)
            self.events.append(self._message(deadline))

    def open(self, url: str, *, settle: float = 20) -> None:
        """Load *url*, then wait (at most *settle* s) until every plotly chart has drawn."""
        self.events.clear()
        self.page("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and self.evaluate(UNDRAWN) > 0:
            time.sleep(0.25)

    def errors(self) -> list[str]:
        """Every JavaScript error and failed load the page reported."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                found.append(
                    f"uncaught: {text} ({details.get('url', '')}:{details.get('lineNumber')})"
                )
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "assert",
            ):
                args = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]
                )
                found.append(f"console.{params['type']}: {args}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        return found

    def screenshot(self, path: Path, *, max_height: int = 12000) -> Path:
        """The whole page (up to *max_height* px) as PNG."""
        size = self.page("Page.getLayoutMetrics")["cssContentSize"]
        height = max(300, min(int(size["height"]), max_height))
        self.page(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        time.sleep(0.5)  # let responsive charts re-layout to the new viewport
        shot = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(shot["data"]))
        self.page(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        return path


#: How many plotly charts on the page have not drawn their SVG yet.
UNDRAWN = (
    "[...document.querySelectorAll('.plotly-graph-div')]"
    ".filter(d => !d.querySelector('.main-svg')).length"
)

#: What a page shows: its text, its charts and pictures, measured in the browser.
SURVEY = """(() => {
  const main = document.querySelector('article') || document.body;
  const box = e => e.getBoundingClientRect();
  const charts = [...document.querySelectorAll('.plotly-graph-div')];
  return {
    title: document.title,
    text: main.innerText.trim().length,
    charts: charts.length,
    drawn: charts.filter(d => d.querySelector('.main-svg') && box(d).width > 200
                              && box(d).height > 150).length,
    traces: charts.map(d => d.querySelectorAll('.trace, .hm').length),
    diagrams: [...document.querySelectorAll('.funnel-diagram svg')]
      .filter(s => box(s).width > 200 && s.querySelectorAll('g.node').length > 3).length,
    tables: document.querySelectorAll('article table').length,
    broken_images: [...document.images].filter(i => i.complete && i.naturalWidth === 0)
      .map(i => i.src),
  };
})()"""


#: For pages made here: no request for /favicon.ico (whose 404 would count as an error).
NO_ICON = '<link rel="icon" href="data:,">'


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """*folder* over HTTP on loopback, as a site is served; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium or Chrome on PATH (Debian: apt-get install chromium)")
    folder = tmp_path_factory.mktemp("chromium")
    browser = Chromium(binary, folder / "profile", folder / "chromium.log")
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """
    A new folder for this run's screenshots, kept after the run (pytest's own temporary folders
    are pruned as soon as other runs start); ``$FUNNEL_SCREENSHOTS`` chooses another.
    """
    chosen = os.environ.get("FUNNEL_SCREENSHOTS")
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="funnel-docs-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\ndocs screenshots: {folder}")  # noqa: T201
    return folder


@pytest.fixture(scope="module")
def site(docs_build: DocsBuild) -> Iterator[str]:  # noqa: F811
    if not (docs_build.html / "index.html").is_file():
        pytest.fail(f"the docs did not build:\n{docs_build.output[-3000:]}")
    with serve(docs_build.html) as url:
        yield url


#: page -> (charts at least, diagrams at least)
PAGES = {
    "index.html": (0, 0),
    "gallery.html": (6, 1),
    "notebooks/funnel-analytics.html": (6, 1),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_page_draws_without_errors(chromium: Chromium, site: str, screenshots: Path, page: str):
    """No JavaScript error, every chart drawn, pictures shown, text on the page."""
    chromium.open(f"{site}/{page}")
    survey = chromium.evaluate(SURVEY)
    shot = chromium.screenshot(
        screenshots / (page.replace("/", "-").removesuffix(".html") + ".png")
    )
    print(f"{page}: {survey} -> {shot}")  # noqa: T201
    assert chromium.errors() == [], f"{page} (screenshot: {shot})"
    assert survey["text"] > 300, f"{page} looks blank (screenshot: {shot})"
    charts, diagrams = PAGES[page]
    assert survey["charts"] >= charts
    assert survey["drawn"] == survey["charts"], f"{page}: charts that did not draw: {survey}"
    assert all(n > 0 for n in survey["traces"]), f"{page}: a chart with nothing in it: {survey}"
    assert survey["diagrams"] >= diagrams
    assert survey["broken_images"] == []
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kB


def test_a_javascript_error_is_caught(chromium: Chromium, tmp_path: Path):
    """The checks above can fail: a page that throws, logs an error and leaves a chart undrawn."""
    (tmp_path / "bad.html").write_text(
        f"<html><head>{NO_ICON}</head><body><p>text</p>"
        '<div class="plotly-graph-div"></div>'
        "<script>console.error('boom'); undefined_function();</script>"
        '<img src="missing.png"></body></html>',
        encoding="utf-8",
    )
    with serve(tmp_path) as url:
        chromium.open(f"{url}/bad.html", settle=1)
        errors = chromium.errors()
        assert chromium.evaluate(UNDRAWN) == 1
    assert any("console.error: boom" in e for e in errors), errors
    assert any("undefined_function" in e for e in errors), errors
    assert any("missing.png" in e for e in errors), errors


def test_diagram_without_graphviz_is_drawn_by_mermaid(
    chromium: Chromium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Without dot the notebook view loads mermaid.js and hands it the diagram (a stand-in here:
    the site's mermaid is whatever `window.mermaid` is; the real one needs the network)."""
    import funnel

    monkeypatch.setenv("PATH", "")
    view = funnel.DEFAULT_FUNNEL._repr_html_()
    assert '<pre class="mermaid"' in view
    stub = (
        "<script>window.mermaid = {initialize() {}, async run({nodes}) {"
        " for (const n of nodes) { n.dataset.processed = 'true';"
        ' n.innerHTML = \'<svg class="drawn" width="400" height="300"></svg>\'; } }};</script>'
    )
    (tmp_path / "diagram.html").write_text(
        f"<html><head>{NO_ICON}</head><body>{stub}{view}</body></html>", encoding="utf-8"
    )
    with serve(tmp_path) as url:
        chromium.open(f"{url}/diagram.html", settle=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not chromium.evaluate(
            "!!document.querySelector('.funnel-diagram svg.drawn')"
        ):
            time.sleep(0.1)
        drawn = chromium.evaluate("!!document.querySelector('.funnel-diagram svg.drawn')")
        errors = chromium.errors()
    assert errors == []
    assert drawn, "the loader did not hand the diagram to mermaid"
