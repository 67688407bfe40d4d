"""The workshop's notebooks, in order, and what each one calls, read from the notebooks
themselves: they are the one owner of both. The headless runner's order, the dry run's plan and
the hints that say which notebooks to run again are derived from here.

A notebook's calls are the ``module.function(...)`` calls its code cells make on the modules they
import from ``bwp_workshop``, in the order they first appear. The notebook that deploys a stack is
the one whose cells call ``deploy.deploy(settings, "<stack>")``.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

#: A workshop notebook's file name: two digits, a dash, a name.
NOTEBOOK_PATTERN = re.compile(r"^(\d\d)-[\w-]+\.ipynb$")
#: Where the notebooks are, in the project folder.
NOTEBOOKS_DIR = "notebooks"
#: The call that deploys a stack (its stack is its first string argument).
DEPLOY_CALL = "deploy.deploy"


@dataclass(frozen=True)
class Notebook:
    path: Path
    calls: tuple[str, ...]  # "module.function", in the order the cells first make them
    deploys: tuple[str, ...]  # the stacks its cells deploy

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def number(self) -> str:
        return self.path.name[:2]


def notebook_paths(project_dir: Path) -> list[Path]:
    """The workshop notebooks (``NN-name.ipynb``) of ``project_dir``, in order."""
    folder = project_dir / NOTEBOOKS_DIR
    return sorted(path for path in folder.glob("*.ipynb") if NOTEBOOK_PATTERN.match(path.name))


def notebooks(project_dir: Path) -> list[Notebook]:
    """Each workshop notebook with its calls and the stacks it deploys."""
    return [read(path) for path in notebook_paths(project_dir)]


def read(path: Path) -> Notebook:
    return _read(path, path.stat().st_mtime_ns)


@functools.cache
def _read(path: Path, _mtime: int) -> Notebook:
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    calls: list[str] = []
    deploys: list[str] = []
    modules: set[str] = set()  # a cell uses what earlier cells imported
    for source in sources:
        tree = ast.parse(_python_only(source), filename=str(path))
        modules |= _imported_from_package(tree)
        found = [
            (node, name)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and (name := _package_call(node, modules))
        ]
        for node, name in sorted(found, key=lambda pair: (pair[0].lineno, pair[0].col_offset)):
            if name not in calls:
                calls.append(name)
            stacks = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
            if name == DEPLOY_CALL and stacks:
                deploys.append(stacks[0])
    return Notebook(path, tuple(calls), tuple(deploys))


def stack_notebooks(project_dir: Path) -> dict[str, str]:
    """The number of the notebook that deploys each stack."""
    return {stack: notebook.number for notebook in notebooks(project_dir) for stack in notebook.deploys}


def _python_only(source: str) -> str:
    """A cell's source without IPython's magics and shell escapes (lines starting ``%``/``!``)."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _imported_from_package(tree: ast.AST) -> set[str]:
    """The names a cell imports from the package (``from bwp_workshop.steps import image``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "bwp_workshop":
            found.update(alias.asname or alias.name for alias in node.names)
    return found


def _package_call(node: ast.Call, modules: set[str]) -> str | None:
    """``module.function`` when ``node`` calls a function of a module imported from the package."""
    if not isinstance(node.func, ast.Attribute):
        return None
    owner = node.func.value
    return f"{owner.id}.{node.func.attr}" if isinstance(owner, ast.Name) and owner.id in modules else None
