"""The workshop as a web page (`make docs`, bwp_workshop/site.py), built from the executed
notebooks of the person's story (no notebook is run again for it) and opened in headless
Chromium: every page renders without a script error or a failed request, each notebook page
has its cells with their outputs and the code of its step, and no internal link or anchor is
broken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bwp_workshop.notebook_catalog import notebook_paths
from bwp_workshop.site import build
from bwp_workshop.testing.browser import PageReport, broken_links, chromium, open_page, serve
from bwp_workshop.testing.checkout import CHECKOUT

# The story (conftest.py) runs the workshop twice: whichever test asks for it first waits.
pytestmark = pytest.mark.timeout(1500)

#: Cells the site leaves out (mkdocs.yml, remove_cell_tags).
_PLUGINS = yaml.safe_load((CHECKOUT / "mkdocs.yml").read_text())["plugins"]
_JUPYTER = next(
    plugin["mkdocs-jupyter"] for plugin in _PLUGINS if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin
)
REMOVED_TAGS = set(_JUPYTER["remove_tag_config"]["remove_cell_tags"])

#: What a notebook page shows, read from its DOM (mkdocs-jupyter renders JupyterLab's markup).
NOTEBOOK_PROBE = """async () => {
  // The theme draws mermaid diagrams after the page has loaded: wait for them (at most 10 s).
  for (let i = 0; i < 100 && document.querySelector('pre.mermaid'); i++) {
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return {
    cells: [...document.querySelectorAll('.jp-CodeCell[id^="cell-id="]')].map(cell => ({
      input: (cell.querySelector('.jp-InputArea') || {innerText: ''}).innerText.trim().length > 0,
      outputs: cell.querySelectorAll('.jp-OutputArea-output').length,
    })),
    snippets: document.querySelectorAll('.bwp-snippet a.bwp-source').length,
    undrawn: document.querySelectorAll('pre.mermaid').length,
    diagrams: [...document.querySelectorAll('div.mermaid')].map(d => d.getBoundingClientRect().height),
    text: (document.querySelector('article') || document.body).innerText.length,
  };
}"""
PAGE_PROBE = "() => ({text: (document.querySelector('article') || document.body).innerText.length})"


def expected_cells(notebook: Path) -> list[bool]:
    """For each code cell the site shows: whether the executed copy has outputs for it."""
    cells = json.loads(notebook.read_text())["cells"]
    return [
        bool(cell["outputs"])
        for cell in cells
        if cell["cell_type"] == "code" and not REMOVED_TAGS & set(cell["metadata"].get("tags", []))
    ]


def check_site(executed: Path, folder: Path, screenshots: Path | None = None) -> dict[str, Any]:
    """Build the site from ``executed`` into ``folder``, serve it and open every page; returns
    the reports by page (relative to the site) and the broken links."""
    site = build(CHECKOUT, executed_dir=executed, site_dir=folder / "site", stage_dir=folder / "stage")
    pages = sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html") if "assets" not in path.parts)
    shots = {"index.html", "notebooks/01-infra-stack.html", "notebooks/07-api-and-analytics.html"}
    reports: dict[str, PageReport] = {}
    with serve(site) as base, chromium() as browser:
        # One context: its cache loads the theme's scripts (and mermaid's 3.5 MB) once.
        browser = browser.new_context(viewport={"width": 1280, "height": 900})
        for page in pages:
            probe = NOTEBOOK_PROBE if page.startswith("notebooks/") else PAGE_PROBE
            shot = (
                screenshots / page.replace("/", "-").replace(".html", ".png") if screenshots and page in shots else None
            )
            reports[base + page] = open_page(browser, base + page, probe, screenshot=shot)
        broken = broken_links(site, base, reports)
    return {"reports": {url.removeprefix(base): report for url, report in reports.items()}, "broken": broken}


def test_the_workshop_as_a_web_page(story: dict[str, Any], tmp_path: Path) -> None:
    # The executed copies of the story's `make workshop` run (00-07) and of its clean-up (99).
    executed = tmp_path / "executed"
    executed.mkdir()
    for step in ("workshop", "clean-up"):
        assert story[step]["result"].returncode == 0, story[step]["result"].stdout[-2000:]
        for notebook in story[step]["out"].glob("*.ipynb"):
            shutil.copyfile(notebook, executed / notebook.name)
    found = check_site(executed, tmp_path)
    by_name = found["reports"]

    working = [path.name for path in notebook_paths(CHECKOUT)]
    for name in working:
        report = by_name[f"notebooks/{name.removesuffix('.ipynb')}.html"]
        cells = report.facts["cells"]
        expected = expected_cells(executed / name)
        assert len(cells) == len(expected), (name, "code cells on the page", len(cells), len(expected))
        for index, (cell, has_outputs) in enumerate(zip(cells, expected, strict=True)):
            assert cell["input"], (name, index, "a code cell without its code")
            assert bool(cell["outputs"]) == has_outputs, (name, index, "outputs of the executed copy")
        assert report.facts["snippets"] >= 1, (name, "the code of its step, with a link to the file")
        assert report.title and not report.title.startswith("None")
        assert report.facts["undrawn"] == 0, (name, "a mermaid diagram left as text")
    # 00's architecture, drawn offline (the mermaid of package.json, no CDN).
    assert [height > 300 for height in by_name["notebooks/00-prerequisites.html"].facts["diagrams"]] == [True]
    for docs_page in ("index.html", "docs/index.html", "docs/architecture.html", "tests/index.html"):
        assert by_name[docs_page].facts["text"] > 500, docs_page
    source_pages = [name for name in by_name if name.endswith(".py.html")]
    assert "bwp_workshop/stacks/infra_stack.py.html" in source_pages
    for name, report in by_name.items():
        assert not report.errors, (name, report.errors)
        assert not report.failed_requests, (name, report.failed_requests)
        assert report.facts["text"] > 0, name
    assert found["broken"] == []
