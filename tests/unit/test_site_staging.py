"""The workshop's web page, staged (bwp_workshop.site.stage, in process; the built site opened in
Chromium is tests/notebooks/test_site.py): the executed copies are required and never run,
their source links point at the files' pages, progress lines show their final state, mermaid
diagrams are left to the theme, and the navigation lists every notebook and reference page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from bwp_workshop.notebook import show_code
from bwp_workshop.notebook_catalog import notebook_paths
from bwp_workshop.site import SiteError, executed_notebooks, stage
from bwp_workshop.testing.checkout import CHECKOUT

NOTEBOOKS = notebook_paths(CHECKOUT)


@pytest.fixture
def executed(tmp_path: Path) -> Path:
    """Copies of the working notebooks as a headless run would leave them: 01's code cell with
    its snippet, and its deploy cell with a progress line redrawn across two outputs."""
    folder = tmp_path / "executed"
    folder.mkdir()
    for path in NOTEBOOKS:
        shutil.copyfile(path, folder / path.name)
    infra = folder / "01-infra-stack.ipynb"
    notebook = json.loads(infra.read_text())
    cells = {cell["id"]: cell for cell in notebook["cells"]}
    code = show_code("bwp_workshop/stacks/infra_stack.py#token-table")
    cells["the-code"]["outputs"] = [
        {
            "output_type": "execute_result",
            "execution_count": 9,
            "metadata": {},
            "data": {"text/html": code._repr_html_()},
        }
    ]
    cells["5382f4ba"]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "Deploying InfraStack · synthesizing · 00:01"},
        {"output_type": "stream", "name": "stdout", "text": "\rDeploying InfraStack · done · 00:12\n"},
    ]
    infra.write_text(json.dumps(notebook))
    return folder


def test_the_pages_are_staged_from_the_executed_copies(executed: Path, tmp_path: Path) -> None:
    config = stage(CHECKOUT, executed, tmp_path / "stage")
    pages = config.parent / "pages"
    staged = json.loads((pages / "notebooks" / "01-infra-stack.ipynb").read_text())
    cells = {cell["id"]: cell for cell in staged["cells"]}
    # The source link opens the file's own page, which shows the whole file.
    html = cells["the-code"]["outputs"][0]["data"]["text/html"]
    assert 'href="../bwp_workshop/stacks/infra_stack.py.html"' in html
    source_page = (pages / "bwp_workshop" / "stacks" / "infra_stack.py.md").read_text()
    assert source_page.startswith("# bwp_workshop/stacks/infra_stack.py")
    assert (CHECKOUT / "bwp_workshop/stacks/infra_stack.py").read_text().rstrip() in source_page
    # A progress line redrawn in place shows its last state, once.
    assert [output["text"] for output in cells["5382f4ba"]["outputs"]] == ["Deploying InfraStack · done · 00:12\n"]
    # 00's architecture diagram is drawn by the theme with the mermaid staged beside the pages.
    architecture = json.loads((pages / "notebooks" / "00-prerequisites.ipynb").read_text())
    markdown = "".join("".join(cell["source"]) for cell in architecture["cells"] if cell["cell_type"] == "markdown")
    assert '<pre class="mermaid">flowchart TB' in markdown and "```mermaid" not in markdown
    assert (pages / "mermaid.min.js").is_file() and (pages / "workshop.css").is_file()
    # The reference pages keep the repository's layout, so their relative links hold.
    for page in ("README.md", "docs/README.md", "docs/architecture.md", "tests/README.md", "bench/results.md"):
        assert (pages / page).is_file(), page
    nav = yaml.safe_load(config.read_text())["nav"]
    workshop = next(entry["The workshop"] for entry in nav if "The workshop" in entry)
    assert [next(iter(entry.values())) for entry in workshop] == [f"notebooks/{path.name}" for path in NOTEBOOKS]
    assert next(iter(workshop[1])).startswith("01 · InfraStack")


def test_a_missing_executed_copy_is_named_and_nothing_is_run(executed: Path, tmp_path: Path) -> None:
    (executed / "05-event-subscriptions.ipynb").unlink()
    with pytest.raises(SiteError) as raised:
        stage(CHECKOUT, executed, tmp_path / "stage")
    assert "05-event-subscriptions.ipynb" in str(raised.value) and "make workshop" in raised.value.hint


def test_a_working_notebook_edited_since_the_run_is_stale(executed: Path) -> None:
    notebook = json.loads((executed / "02-app-onboarding.ipynb").read_text())
    notebook["cells"].pop(3)  # the executed copy lacks a cell the working notebook has
    (executed / "02-app-onboarding.ipynb").write_text(json.dumps(notebook))
    found = executed_notebooks(CHECKOUT, executed)
    assert found.stale == ["02-app-onboarding.ipynb"] and not found.missing


def test_the_workshop_studio_export(executed: Path, tmp_path: Path) -> None:
    import base64

    from bwp_workshop.studio import CONTENTSPEC, export

    # 07 with a plot, as the headless run leaves it.
    analytics = executed / "07-api-and-analytics.ipynb"
    notebook = json.loads(analytics.read_text())
    plot = next(
        cell for cell in notebook["cells"] if cell["cell_type"] == "code" and "plot_" in "".join(cell["source"])
    )
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 16).decode()
    plot["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": png, "text/plain": "x"}}]
    analytics.write_text(json.dumps(notebook))
    out = export(CHECKOUT, executed, tmp_path / "studio")
    assert yaml.safe_load((out / "contentspec.yaml").read_text()) == CONTENTSPEC
    pages = sorted(path.relative_to(out / "content").as_posix() for path in (out / "content").rglob("index.en.md"))
    assert pages == sorted(["index.en.md", "architecture/index.en.md", *(f"{p.stem}/index.en.md" for p in NOTEBOOKS)])
    weights = []
    for page in pages:
        text = (out / "content" / page).read_text()
        front = yaml.safe_load(text.split("---\n")[1])
        weights.append(front["weight"])
        assert front["title"] and "Facts about this run" not in text, page
        assert "](../" not in text and 'class="bwp-source"' not in text, page  # no link into the repository
    infra = (out / "content" / "01-infra-stack" / "index.en.md").read_text()
    assert "title: '01 · InfraStack" in infra and "<code>bwp_workshop/stacks/infra_stack.py</code>, lines" in infra
    assert "Deploying InfraStack · done · 00:12" in infra and "synthesizing · 00:01" not in infra
    [image] = [
        line
        for line in (out / "content" / "07-api-and-analytics" / "index.en.md").read_text().splitlines()
        if "![" in line
    ]
    assert image.startswith("![png](/static/07-api-and-analytics/") and (out / image[7:-1].lstrip("/")).is_file()
    assert len(set(weights)) == len(weights)
