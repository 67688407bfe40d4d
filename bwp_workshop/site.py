"""The workshop as a web page, built offline from the same notebooks: every notebook with the
outputs of its headless run, the README, the architecture and the ``docs/`` reference, and a
page for each source file the notebooks show (``bwp_workshop.notebook.source``).

:func:`stage` copies all of it into a folder in the repository's own layout (so every relative
link of the README and ``docs/`` holds) and writes a MkDocs configuration there that inherits
the project's ``mkdocs.yml`` and adds the navigation; :func:`build` runs ``mkdocs build
--strict`` on it (a broken link or anchor fails the build). The notebooks are never executed
here: the executed copies come from ``bwp-workshop run`` (``make workshop``), which writes them
to ``build/notebooks``; :func:`executed_notebooks` says which are missing or older than the
working files.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import WorkshopError
from .notebook.source import LINK_CLASS
from .notebook_catalog import notebook_paths

#: Pages besides the notebooks and docs/, by their path in the repository.
EXTRA_PAGES = ("tests/README.md", "bench/results.md")
#: The site's style sheet (mkdocs.yml's extra_css), staged beside the pages.
STYLE_SHEET = "tools/site/workshop.css"
#: Mermaid, which draws the diagrams (mermaid in package.json; mkdocs.yml's extra_javascript).
MERMAID = "node_modules/mermaid/dist/mermaid.min.js"
#: The architecture, shown in the navigation on its own.
ARCHITECTURE = "docs/architecture.md"
#: A mermaid diagram in a markdown cell.
_MERMAID_FENCE = re.compile(r"^```mermaid\n(.*?)^```$", re.S | re.M)
#: ``href`` of a link to a source file in a notebook's output (``show_code``).
_SOURCE_LINK = re.compile(rf'(<a class="{LINK_CLASS}" href=")((?:\.\./)+)([^"#]+)(")')


class SiteError(WorkshopError):
    """The web page cannot be built (executed notebooks missing, a MkDocs error)."""


@dataclass
class Executed:
    """The executed copies found for the workshop's notebooks."""

    found: dict[str, Path] = field(default_factory=dict)  # file name -> executed copy
    missing: list[str] = field(default_factory=list)
    #: Working notebooks with cells their executed copy does not have (edited since the run).
    stale: list[str] = field(default_factory=list)


def default_executed_dir(project_dir: Path) -> Path:
    """Where ``bwp-workshop run`` writes the executed copies (``notebook.runner``)."""
    return project_dir / "build" / "notebooks"


def _cell_ids(path: Path) -> set[str]:
    return {cell.get("id", "") for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]}


def executed_notebooks(project_dir: Path, executed_dir: Path) -> Executed:
    """The executed copy of each notebook in ``notebooks/`` (``NN-name.ipynb``), if any."""
    result = Executed()
    for working in notebook_paths(project_dir):
        copy = executed_dir / working.name
        if not copy.is_file():
            result.missing.append(working.name)
            continue
        result.found[working.name] = copy
        if not _cell_ids(working) <= _cell_ids(copy):
            result.stale.append(working.name)
    return result


def title_of(notebook: dict[str, Any], fallback: str) -> str:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _link_sources(notebook: dict[str, Any]) -> set[str]:
    """Point the source links of the notebook's outputs at the files' pages (``<path>.html``);
    returns the files linked."""
    linked: set[str] = set()

    def page(match: re.Match[str]) -> str:
        linked.add(match[3])
        return f"{match[1]}{match[2]}{match[3]}.html{match[4]}"

    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                text = "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
                data["text/html"] = _SOURCE_LINK.sub(page, text)
    return linked


def _diagrams_for_the_theme(notebook: dict[str, Any]) -> None:
    """Mermaid diagrams as the theme draws them (``<pre class="mermaid">``, with the mermaid
    staged beside the pages) rather than as nbconvert's template does (with a mermaid it
    fetches from a CDN)."""
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            cell["source"] = _MERMAID_FENCE.sub(lambda m: f'<pre class="mermaid">{html.escape(m[1])}</pre>', text)


def as_shown(text: str) -> str:
    """A stream's text as a terminal or JupyterLab shows it: on each line, what follows its last
    carriage return (a progress line redrawn in place leaves its final state)."""
    return "\n".join(line.rpartition("\r")[2] for line in text.split("\n"))


def final_states(notebook: dict[str, Any]) -> None:
    """Every stream output as it was last shown: consecutive outputs of one stream joined (a
    redraw may start in the next one), then :func:`as_shown`."""
    for cell in notebook["cells"]:
        joined: list[dict[str, Any]] = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                text = "".join(output["text"]) if isinstance(output["text"], list) else output["text"]
                last = joined[-1] if joined else None
                if last is not None and last.get("output_type") == "stream" and last["name"] == output["name"]:
                    last["text"] += text
                    continue
                output = {**output, "text": text}
            joined.append(output)
        for output in joined:
            if output.get("output_type") == "stream":
                output["text"] = as_shown(output["text"])
        if "outputs" in cell:
            cell["outputs"] = joined


def _source_page(project_dir: Path, path: str) -> str:
    """A page showing a whole source file, its lines numbered."""
    text = (project_dir / path).read_text(encoding="utf-8")
    language = {".py": "python", ".graphql": "graphql", ".yaml": "yaml", ".json": "json"}.get(Path(path).suffix, "")
    fence = "````" if "```" in text else "```"
    return f'# {html.escape(path)}\n\n{fence}{language} linenums="1"\n{text.rstrip()}\n{fence}\n'


def stage(project_dir: Path, executed_dir: Path, out: Path) -> Path:
    """Copy the site's pages into ``out/pages`` and write ``out/mkdocs.yml``; returns that file."""
    executed = executed_notebooks(project_dir, executed_dir)
    if executed.missing:
        raise SiteError(
            f"No executed copy of {', '.join(executed.missing)} in {executed_dir}.",
            hint="The web page shows each notebook with the outputs of its headless run: run `make workshop` "
            "(or `bwp-workshop run --output-dir DIR`) first; `make docs` does when they are missing.",
        )
    if not (project_dir / MERMAID).is_file():
        raise SiteError(
            f"{MERMAID} is missing: it draws the diagrams of the web page.",
            hint="Run `make setup` (npm ci installs the mermaid that package.json pins).",
        )
    if out.exists():
        shutil.rmtree(out)
    pages = out / "pages"
    (pages / "docs").mkdir(parents=True)
    shutil.copyfile(project_dir / "README.md", pages / "README.md")  # the home page (docs/ links to it)
    for asset in (STYLE_SHEET, MERMAID):
        shutil.copyfile(project_dir / asset, pages / Path(asset).name)
    for doc in sorted((project_dir / "docs").glob("*.md")):
        shutil.copyfile(doc, pages / "docs" / doc.name)
    for extra in EXTRA_PAGES:
        if (project_dir / extra).is_file():
            (pages / extra).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(project_dir / extra, pages / extra)
    (pages / "notebooks").mkdir()
    workshop: list[dict[str, str]] = []
    sources: set[str] = set()
    for name, copy in executed.found.items():
        notebook = json.loads(copy.read_text(encoding="utf-8"))
        sources |= _link_sources(notebook)
        final_states(notebook)
        _diagrams_for_the_theme(notebook)
        (pages / "notebooks" / name).write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
        workshop.append({title_of(notebook, name): f"notebooks/{name}"})
    for path in sorted(sources):
        page = pages / f"{path}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(_source_page(project_dir, path), encoding="utf-8")
    reference = [f"docs/{doc.name}" for doc in sorted((pages / "docs").glob("*.md")) if doc.name != "README.md"]
    nav: list[Any] = [
        {"Home": "README.md"},
        {"The workshop": workshop},
        {"Architecture": ARCHITECTURE},
        {"Reference": ["docs/README.md", *(page for page in reference if page != ARCHITECTURE), *EXTRA_PAGES]},
    ]
    config = {"INHERIT": str(project_dir / "mkdocs.yml"), "docs_dir": "pages", "nav": nav}
    (out / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out / "mkdocs.yml"


def build(
    project_dir: Path, *, executed_dir: Path | None = None, site_dir: Path | None = None, stage_dir: Path | None = None
) -> Path:
    """Stage the pages and build the site (``mkdocs build --strict``); returns the site's folder
    (``index.html`` is its home page)."""
    executed_dir = executed_dir or default_executed_dir(project_dir)
    site_dir = site_dir or project_dir / "build" / "site"
    config = stage(project_dir, executed_dir, stage_dir or project_dir / "build" / "site-src")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(config), "-d", str(site_dir)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        problems = [line for line in result.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
        shown = "\n".join(problems[:20] or result.stderr.strip().splitlines()[-20:])
        raise SiteError(
            f"mkdocs build failed (exit {result.returncode}):\n{shown}",
            hint="Fix the page or link named above (a broken link or anchor fails the build), then build again.",
        )
    return site_dir
