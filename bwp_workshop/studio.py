"""The workshop in AWS Workshop Studio's layout, from the same executed notebooks as the web page
(:mod:`bwp_workshop.site`): ``contentspec.yaml``, ``content/`` with a folder and an
``index.en.md`` per page (front matter ``title`` and ``weight``, the order of the navigation), and
``static/`` with the notebooks' images. Each notebook page is its markdown and code cells with
their outputs (nbconvert's markdown exporter); the facts cell is left out; the code on the page
keeps its highlighted lines, and its link, which would point into the repository, names the file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from .site import SiteError, executed_notebooks, final_states, title_of

#: The locale the pages are written in (Workshop Studio's ``index.<language>.md``).
LOCALE = "en-US"
#: The content specification Workshop Studio reads at the root.
CONTENTSPEC = {"version": 2.0, "defaultLocaleCode": LOCALE, "localeCodes": [LOCALE]}
#: The architecture, a page after the notebooks.
ARCHITECTURE = "docs/architecture.md"
#: A link of the code on the page (``show_code``), which points into the repository.
_SOURCE_LINK = re.compile(r'<a class="bwp-source" href="[^"]*"[^>]*>(.*?)</a>', re.S)
#: A markdown link to a page of the repository (the README's and docs/' relative links).
_RELATIVE_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((?!https?:|#|mailto:|/static/)[^)]+\)")


def _front_matter(title: str, weight: int) -> str:
    return "---\n" + yaml.safe_dump({"title": title, "weight": weight}, allow_unicode=True, sort_keys=False) + "---\n\n"


def _unlinked(markdown: str) -> str:
    """Relative links as their text: the repository's files are not pages of the workshop."""
    return _RELATIVE_LINK.sub(lambda match: match[1], markdown)


def _notebook_page(notebook: dict[str, Any], folder: str, static: Path) -> str:
    """The notebook as markdown with its outputs; its images written to ``static/<folder>``."""
    import nbformat
    from nbconvert import MarkdownExporter
    from traitlets.config import Config

    final_states(notebook)
    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = {"workshop-record"}
    config.TagRemovePreprocessor.enabled = True
    exporter = MarkdownExporter(config=config)
    body, resources = exporter.from_notebook_node(
        nbformat.reads(json.dumps(notebook), as_version=4), resources={"output_files_dir": folder}
    )
    for name, data in resources.get("outputs", {}).items():
        target = static / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        body = body.replace(f"]({name})", f"](/static/{name})")
    return _unlinked(_SOURCE_LINK.sub(r"\1", body))


def export(project_dir: Path, executed_dir: Path, out: Path) -> Path:
    """Write the workshop in Workshop Studio's layout into ``out``; returns ``out``."""
    executed = executed_notebooks(project_dir, executed_dir)
    if executed.missing:
        raise SiteError(
            f"No executed copy of {', '.join(executed.missing)} in {executed_dir}.",
            hint="Run `make workshop` (or `bwp-workshop run --output-dir DIR`) first.",
        )
    if out.exists():
        shutil.rmtree(out)
    content, static = out / "content", out / "static"
    content.mkdir(parents=True)
    static.mkdir()
    (out / "contentspec.yaml").write_text(yaml.safe_dump(CONTENTSPEC, sort_keys=False), encoding="utf-8")
    readme = (project_dir / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].lstrip("# ").strip()
    (content / f"index.{LOCALE[:2]}.md").write_text(_front_matter(title, 0) + _unlinked(readme), encoding="utf-8")
    for weight, (name, copy) in enumerate(executed.found.items(), start=1):
        notebook = json.loads(copy.read_text(encoding="utf-8"))
        folder = Path(name).stem
        page = _front_matter(title_of(notebook, folder), weight * 10) + _notebook_page(notebook, folder, static)
        (content / folder).mkdir()
        (content / folder / f"index.{LOCALE[:2]}.md").write_text(page, encoding="utf-8")
    architecture = (project_dir / ARCHITECTURE).read_text(encoding="utf-8")
    (content / "architecture").mkdir()
    (content / "architecture" / f"index.{LOCALE[:2]}.md").write_text(
        _front_matter("Architecture", 1000) + _unlinked(architecture), encoding="utf-8"
    )
    return out
