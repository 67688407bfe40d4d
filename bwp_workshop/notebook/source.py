"""The code on the page: the few lines of the project's source that do a notebook's step, read
from the file when the cell runs (never a copy), highlighted, under a link that opens the whole
file.

A cell names what to show, one or more of:

* ``"path/to/file.py::Name"`` (or ``::Class.method``): a function, class or assignment, found by
  parsing the file (nothing is imported: the Lambda's folder does not import as a package);
* ``"path/to/file.py#name"``: the lines between ``# region name`` and its ``# endregion`` (the
  folding markers editors know);
* an object (a function, class or module of the project): its source, by :mod:`inspect`.

Paths are relative to the project's folder. The link is relative to ``notebooks/``
(``../bwp_workshop/...``): in JupyterLab it opens the file; the workshop's web page
(:mod:`bwp_workshop.site`) points it at the file's own page.
"""

from __future__ import annotations

import ast
import html
import inspect
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import WorkshopError

#: The project's folder: the one that holds ``bwp_workshop/``, ``oauth_app/``, ``lambdas/``.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Where the notebooks are, relative to :data:`PROJECT_ROOT`; links are relative to it.
NOTEBOOKS = "notebooks"
#: The class of a link to a source file in a snippet's HTML (the web page rewrites these).
LINK_CLASS = "bwp-source"
REGION = "# region "
END_REGION = "# endregion"


class SourceNotFound(WorkshopError):
    """What a cell asked to show is not in the source (renamed, moved, a region removed)."""


@dataclass(frozen=True)
class Snippet:
    """Lines ``start``..``end`` (1-based, inclusive) of ``path`` (relative to the project)."""

    path: str
    start: int
    end: int
    code: str
    title: str

    @property
    def link(self) -> str:
        """The file, relative to the notebooks' folder."""
        return "../" * len(Path(NOTEBOOKS).parts) + self.path

    @property
    def where(self) -> str:
        return (
            f"{self.path}, lines {self.start}-{self.end}"
            if self.end > self.start
            else f"{self.path}, line {self.start}"
        )

    def html(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_for_filename

        # Inline styles: the colours survive wherever the output is shown (JupyterLab, the web
        # page, a notebook viewer) without a style sheet.
        formatter = HtmlFormatter(
            noclasses=True,
            linenos="inline",
            linenostart=self.start,
            style="default",
            prestyles="white-space: pre; overflow-x: auto; font-size: 0.85em; line-height: 1.35",
        )
        body = highlight(self.code, get_lexer_for_filename(self.path, stripnl=False), formatter)
        link = (
            f'<a class="{LINK_CLASS}" href="{html.escape(self.link)}" title="open the whole file">'
            f"<code>{html.escape(self.path)}</code></a>"
        )
        lines = f"line {self.start}" if self.end == self.start else f"lines {self.start}-{self.end}"
        title = f"<strong>{html.escape(self.title)}</strong> · " if self.title else ""
        # Dark text on the light code background, whatever the page's theme.
        return (
            f'<div class="bwp-snippet"><div>{title}{link}, {lines}</div><div style="color: #1f1f1f">{body}</div></div>'
        )

    def text(self) -> str:
        width = len(str(self.end))
        numbered = [f"{number:>{width}}  {line}" for number, line in enumerate(self.code.splitlines(), self.start)]
        heading = f"{self.title} · {self.where}" if self.title else self.where
        return "\n".join([f"── {heading} ──", *numbered])


class Code:
    """Snippets shown together: HTML in JupyterLab and on the web page, numbered text elsewhere."""

    def __init__(self, snippets: list[Snippet]) -> None:
        self.snippets = snippets

    def _repr_html_(self) -> str:
        return "\n".join(snippet.html() for snippet in self.snippets)

    def __repr__(self) -> str:
        return "\n\n".join(snippet.text() for snippet in self.snippets)


def show_code(*what: Any, title: str = "") -> Code:
    """The source of each of ``what`` (see the module's docstring), to show as a cell's output."""
    if not what:
        raise SourceNotFound(
            "show_code needs what to show.", hint='For example show_code("oauth_app/app.py::create_app").'
        )
    return Code([snippet(item, title=title) for item in what])


def snippet(what: Any, *, title: str = "") -> Snippet:
    """One :class:`Snippet`: a ``path::Name``, a ``path#region`` or an object (see the module)."""
    if not isinstance(what, str):
        return _of_object(what, title)
    if "::" in what:
        path, _, name = what.partition("::")
        return _of_name(path, name, title)
    if "#" in what:
        path, _, region = what.partition("#")
        return _of_region(path, region, title)
    raise SourceNotFound(
        f"{what!r} names no part of a file.",
        hint='Name a definition ("path.py::Name") or a region ("path.py#name": the lines between '
        '"# region name" and "# endregion").',
    )


def _in_project(file: Path) -> bool:
    """Whether ``file`` is one of the project's own (not under .venv, node_modules, ...)."""
    file = file.resolve()
    if PROJECT_ROOT not in file.parents:
        return False
    top = file.relative_to(PROJECT_ROOT).parts[0]
    return not top.startswith(".") and top not in ("node_modules", "build", "cdk.out")


def _lines(path: str) -> list[str]:
    file = PROJECT_ROOT / path
    if not file.is_file() or not _in_project(file):
        raise SourceNotFound(f"There is no file {path} in the project ({PROJECT_ROOT}).")
    return file.read_text(encoding="utf-8").splitlines()


def _make(path: str, lines: list[str], start: int, end: int, title: str) -> Snippet:
    """Lines ``start``..``end`` of ``lines`` (1-based), dedented (numbered as in the file)."""
    code = textwrap.dedent("\n".join(lines[start - 1 : end])) + "\n"
    return Snippet(path=path, start=start, end=end, code=code, title=title)


def _of_region(path: str, region: str, title: str) -> Snippet:
    lines = _lines(path)
    opening = [n for n, line in enumerate(lines, 1) if line.strip() == f"{REGION}{region}"]
    if len(opening) != 1:
        found = sorted({line.strip()[len(REGION) :] for line in lines if line.strip().startswith(REGION)})
        raise SourceNotFound(
            f"{path} has {'no' if not opening else 'more than one'} region {region!r}.",
            hint=f"Its regions: {', '.join(found) or 'none'}. A region is the lines between "
            f"'{REGION}{region}' and '{END_REGION}'.",
        )
    depth = 0
    for number in range(opening[0] + 1, len(lines) + 1):
        text = lines[number - 1].strip()
        if text.startswith(REGION):
            depth += 1
        elif text == END_REGION:
            if depth == 0:
                return _make(path, lines, opening[0] + 1, number - 1, title)
            depth -= 1
    raise SourceNotFound(f"Region {region!r} of {path} has no '{END_REGION}'.")


@cache
def _tree(path: str, text: str) -> ast.Module:
    return ast.parse(text, filename=path)


def _of_name(path: str, name: str, title: str) -> Snippet:
    lines = _lines(path)
    scope: list[ast.stmt] = _tree(path, "\n".join(lines)).body
    node: ast.stmt | None = None
    for part in name.split("."):
        node = next((child for child in scope if part in _names(child)), None)
        if node is None:
            break
        scope = node.body if isinstance(node, ast.ClassDef) else []
    if node is None:
        raise SourceNotFound(
            f"{path} defines no {name}.", hint="Name a module-level function, class or assignment, or Class.method."
        )
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(decorator.lineno for decorator in decorators)])
    return _make(path, lines, start, node.end_lineno or node.lineno, title)


def _names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {target.id for target in node.targets if isinstance(target, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def _of_object(obj: Any, title: str) -> Snippet:
    try:
        file = Path(inspect.getsourcefile(obj) or "").resolve()
        source, start = inspect.getsourcelines(obj)
    except (TypeError, OSError):
        raise SourceNotFound(f"{obj!r} has no source file to show.") from None
    if not _in_project(file):
        raise SourceNotFound(f"{obj!r} is not part of the project (its source is {file}).")
    path = file.relative_to(PROJECT_ROOT).as_posix()
    return _make(path, _lines(path), max(start, 1), max(start, 1) + len(source) - 1, title)
