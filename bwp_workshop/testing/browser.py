"""A headless Chromium for the tests: Debian's ``chromium`` package (``make browser`` installs
it; no browser is downloaded), driven by Playwright; a static site served on a free port; and
what a page showed: script errors, failed requests, its links and the links that lead nowhere."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlparse

#: Where Debian's package puts the browser (``/usr/bin/chromium`` is a shell wrapper around it).
_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")


class NoBrowser(RuntimeError):
    pass


def chromium_executable() -> str:
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise NoBrowser(
        "No Chromium on this machine: the test opens the workshop's web page in it. "
        "Run `make browser` (apt-get install chromium, as root)."
    )


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed afterwards. Open pages in one
    ``browser.new_context(viewport=...)``: a context shares its cache between its pages."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), headless=True)
        try:
            yield browser
        finally:
            browser.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """``folder`` served over HTTP on a free port of 127.0.0.1; yields the base URL (``/`` ended)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class PageReport:
    """What one page showed: its title, script errors, failed requests, links (absolute URLs)
    and element ids; ``facts`` is what the probe returned."""

    url: str
    title: str = ""
    errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    facts: dict[str, Any] = field(default_factory=dict)


def open_page(browser: Any, url: str, probe: str = "() => ({})", *, screenshot: Path | None = None) -> PageReport:
    """Open ``url`` in a new page of ``browser`` (a Playwright browser or context) and report;
    ``probe`` is a script whose result lands in ``facts``."""
    report = PageReport(url)
    page = browser.new_page()
    page.on("pageerror", lambda error: report.errors.append(str(error)))
    page.on("console", lambda message: report.errors.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda request: report.failed_requests.append(request.url))
    try:
        response = page.goto(url, wait_until="load")
        if response is None or not response.ok:
            report.errors.append(f"{url}: HTTP {response.status if response else 'no response'}")
        report.title = page.title()
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        report.links = [urljoin(url, href) for href in hrefs if href]
        report.ids = set(page.eval_on_selector_all("[id]", "nodes => nodes.map(n => n.id)"))
        report.facts = page.evaluate(probe)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=False)
    finally:
        page.close()
    return report


def broken_links(site: Path, base: str, reports: dict[str, PageReport]) -> list[str]:
    """Links of the pages (``reports`` by URL) that lead nowhere in ``site`` served at
    ``base``: a missing file, or a ``#fragment`` its page does not have. Links off the site
    are not followed."""
    broken = []
    for url, report in reports.items():
        for link in report.links:
            target, fragment = urldefrag(link)
            if not target.startswith(base):
                if urlparse(target).scheme in ("http", "https", "file") and urlparse(target).hostname in (
                    "127.0.0.1",
                    "localhost",
                ):
                    broken.append(f"{url}: {link} (outside the site)")
                continue
            path = site / unquote(urlparse(target).path).lstrip("/")
            if path.is_dir():
                path, target = path / "index.html", urljoin(target.rstrip("/") + "/", "index.html")
            if not path.is_file():
                broken.append(f"{url}: {link} (no file)")
            elif fragment and target in reports and unquote(fragment) not in reports[target].ids:
                broken.append(f"{url}: {link} (no #{fragment} there)")
    return broken
