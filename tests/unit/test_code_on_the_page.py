"""The code on the page (bwp_workshop.notebook.source): a notebook's cell shows lines read from
the source file when it runs, highlighted, under a link that opens the whole file; every
notebook has such a cell, and what each one names is in the source."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from bwp_workshop.notebook import show_code
from bwp_workshop.notebook.source import LINK_CLASS, PROJECT_ROOT, SourceNotFound, snippet
from bwp_workshop.notebook_catalog import notebook_paths
from bwp_workshop.testing.checkout import CHECKOUT

NOTEBOOKS = notebook_paths(CHECKOUT)


def show_code_calls(path: Path) -> list[list[str]]:
    """The arguments of every ``show_code(...)`` call in the notebook's code cells."""
    calls = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "show_code":
                calls.append([ast.literal_eval(argument) for argument in node.args])
    return calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_shows_its_code_and_every_part_it_names_exists(path: Path) -> None:
    calls = show_code_calls(path)
    assert len(calls) == 1, f"{path.name}: one cell shows the code of its step"
    for what in calls[0]:
        found = snippet(what)
        assert found.code.strip(), what
        # The link, relative to the notebook, opens the file (JupyterLab resolves it the same way).
        assert (path.parent / found.link).resolve() == (PROJECT_ROOT / found.path).resolve()
        assert (path.parent / found.link).is_file()


def test_a_region_is_read_from_the_file_as_it_is_now(tmp_path: Path) -> None:
    shown = snippet("bwp_workshop/stacks/infra_stack.py#token-table")
    lines = (PROJECT_ROOT / shown.path).read_text().splitlines()
    assert lines[shown.start - 2].strip() == "# region token-table"
    assert lines[shown.end].strip() == "# endregion"
    assert "self.token_table = workshop_table(" in shown.code
    assert shown.code.splitlines()[0] == "self.token_table = workshop_table("  # dedented
    assert len(shown.code.splitlines()) == shown.end - shown.start + 1


def test_a_definition_is_found_by_parsing_without_importing() -> None:
    # The Lambda's folder imports `handler_config` as a top-level module: it is never imported here.
    shown = snippet("lambdas/event_handler/event_processing.py::Batch._put")
    assert shown.code.startswith("def _put(self, item")
    assert "ConditionExpression" in shown.code
    route = snippet("oauth_app/api/routes/oauth.py::install")
    assert route.code.startswith("@router.get(")  # with its decorator: the route
    query = snippet("bwp_workshop/core/graphql.py::ORDER_DETAILS_QUERY")
    assert query.code.startswith("ORDER_DETAILS_QUERY = ") and "order(orderIdentifier" in query.code


def test_an_object_is_shown_by_inspect() -> None:
    from bwp_workshop.steps import registration

    shown = snippet(registration.onboarding_request)
    assert shown.path == "bwp_workshop/steps/registration.py"
    assert shown.code.startswith("def onboarding_request(")
    assert shown.code == snippet("bwp_workshop/steps/registration.py::onboarding_request").code


def test_html_is_highlighted_with_a_link_and_text_is_numbered() -> None:
    code = show_code("bwp_workshop/steps/cleanup.py::leftovers", title="what is left")
    html = code._repr_html_()
    assert f'class="{LINK_CLASS}" href="../bwp_workshop/steps/cleanup.py"' in html
    assert "<span style=" in html  # inline colours: no style sheet needed
    assert "what is left" in html
    text = repr(code)
    first = snippet("bwp_workshop/steps/cleanup.py::leftovers").start
    assert text.splitlines()[0].startswith("── what is left · bwp_workshop/steps/cleanup.py, lines ")
    assert text.splitlines()[1].lstrip().startswith(f"{first}  def leftovers(")


@pytest.mark.parametrize(
    ("what", "says"),
    [
        ("bwp_workshop/stacks/infra_stack.py#no-such-region", "Its regions: base-url, load-balancer, token-table"),
        ("bwp_workshop/steps/cleanup.py::nothing_here", "defines no nothing_here"),
        ("bwp_workshop/no_such_file.py::x", "There is no file"),
        ("../../etc/passwd#x", "There is no file"),
        ("bwp_workshop/steps/cleanup.py", "names no part of a file"),
        (len, "has no source file"),
        (pytest.approx, "is not part of the project"),
    ],
)
def test_what_is_not_in_the_source_is_said(what: object, says: str) -> None:
    with pytest.raises(SourceNotFound) as raised:
        snippet(what)
    assert says in str(raised.value) + raised.value.hint
