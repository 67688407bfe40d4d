"""The notebooks as the one owner of their order and of what they call: the catalog reads both
from the cells, and the dry run's plan and the re-run hints are derived from it."""

from __future__ import annotations

from pathlib import Path

import nbformat

from bwp_workshop import names
from bwp_workshop import notebook_catalog as catalog
from bwp_workshop.notebook.dry_run import notebook_effects
from bwp_workshop.outputs import notebooks_to_rerun, rerun_hint
from bwp_workshop.settings import Settings
from bwp_workshop.testing.checkout import CHECKOUT


def _notebook(path: Path, *cells: tuple[str, str]) -> Path:
    notebook = nbformat.v4.new_notebook()
    for kind, source in cells:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        notebook.cells.append(make(source))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def test_calls_are_read_from_the_code_cells_in_order(tmp_path: Path) -> None:
    _notebook(
        tmp_path / "notebooks" / "01-first.ipynb",
        ("code", "%load_ext autoreload\nfrom bwp_workshop.steps import image\nimport pandas as pd"),
        ("markdown", "Call `image.not_a_call(x)` in prose."),
        ("code", "from bwp_workshop import deploy\nresult = deploy.deploy(s, 'InfraStack', image.wait_for_app(s))"),
        ("code", "!echo shell\npd.DataFrame(image.build(s))\nimage.wait_for_app(s)"),
    )
    _notebook(tmp_path / "notebooks" / "02-second.ipynb", ("code", "print('no package call')"))
    (tmp_path / "notebooks" / "scratch.ipynb").write_text("{}")  # not a workshop notebook

    first, second = catalog.notebooks(tmp_path)
    # A later cell uses what an earlier one imported; pandas and prose are not package calls.
    assert first.calls == ("deploy.deploy", "image.wait_for_app", "image.build")
    assert (first.name, first.number, first.deploys) == ("01-first", "01", ("InfraStack",))
    assert (second.name, second.calls, second.deploys) == ("02-second", (), ())
    assert catalog.stack_notebooks(tmp_path) == {"InfraStack": "01"}


def test_an_edited_notebook_is_read_again(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "notebooks" / "01-first.ipynb", ("code", "from bwp_workshop import api\napi.store(s)"))
    assert catalog.read(path).calls == ("api.store",)
    _notebook(path, ("code", "from bwp_workshop import api\napi.order(s)"))
    assert catalog.read(path).calls == ("api.order",)


def test_every_stack_is_deployed_by_one_workshop_notebook() -> None:
    deployed = [stack for notebook in catalog.notebooks(CHECKOUT) for stack in notebook.deploys]
    assert sorted(deployed) == sorted(names.STACKS)


def test_the_rerun_hints_follow_the_notebooks() -> None:
    by_stack = catalog.stack_notebooks(CHECKOUT)
    assert notebooks_to_rerun(CHECKOUT, [names.INFRA_STACK]) == [by_stack[names.INFRA_STACK]]
    # An install's tokens live in InfraStack's table and need the app: the install notebook too.
    assert notebooks_to_rerun(CHECKOUT, [names.ECS_STACK]) == [by_stack[names.ECS_STACK], "04"]
    assert rerun_hint(["03", "04"]).startswith("run notebooks 03, 04 again")


def test_the_dry_run_describes_every_notebook_and_no_other() -> None:
    settings = Settings(project_dir=CHECKOUT, target="aws")
    described = notebook_effects(settings, docker=False)
    assert sorted(described) == [notebook.name for notebook in catalog.notebooks(CHECKOUT)]
