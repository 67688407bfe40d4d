"""How an error shows in a notebook cell: what failed and what to do, said once.

:func:`install` gives the kernel's IPython shell a custom exception handler. The workshop's
kernel loads it as an IPython extension when it starts (``tools/ipython_kernel_config.py``,
copied into the environment by ``make setup``), so it is there after a kernel restart too;
:func:`bwp_workshop.notebook.start`, the first code cell of every notebook, installs it as well
(a kernel started some other way):

* a :class:`~bwp_workshop.errors.WorkshopError` shows its message and what to do; when another
  cell of this notebook already shows the same "what to do" (the preflight's sign-in steps,
  then the bootstrap cell failing for the same reason), the later cell says so in one line
  instead of repeating the paragraph. A cell stops counting as showing it once it runs again;
* a ``NameError`` for a name a cell of the notebook sets (the kernel was restarted, or that
  cell has not run) says in one line which cell sets it and to run the notebook from the top.
  The notebook is the file JupyterLab names in ``__session__``; without it (another front
  end) the line says to run the notebook from the top;
* an error that comes from a local service not answering (botocore's
  ``EndpointConnectionError``, httpx's ``ConnectError``, raised or chained, to a port of the
  local target) says in one line which service is down and what to run, on every cell that
  meets it;
* every other error shows IPython's usual traceback.

The handler only formats: the error still fails the cell (a headless run stops there, with the
error's name and text).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import WorkshopError

if TYPE_CHECKING:
    from ..targets import Target

#: What a later cell says instead of a "what to do" an earlier cell shows already.
SAID_ABOVE = "as said in the error above."
#: How a person runs the cells above the current one in JupyterLab.
RUN_FROM_THE_TOP = "run the notebook from the top (Run ▸ Run All Above Selected Cell)"
_START = "run `bwp-workshop local up` in a terminal, or this notebook again from its first cell (which starts it)"
#: Each local service (``bwp_workshop.local.runtime``'s names): what it is, and what brings it back.
LOCAL_SERVICES = {
    "moto": (
        "the local AWS (moto server)",
        f"{_START}; a restarted local AWS starts empty, and that first cell then names the notebooks to run again",
    ),
    "sandbox": ("the Buy with Prime sandbox", f"{_START}, then this cell again"),
    "oauth-app": (
        "the app (the OAuth handler, Fargate's stand-in)",
        "run `bwp-workshop local up` (it starts the app once InfraStack is deployed: notebooks 01 and 03), "
        "then this cell again",
    ),
    "event-runner": (
        "the event runner (the Lambda's stand-in)",
        "run `bwp-workshop local up` (it starts the runner once EventStack is deployed: notebook 05), "
        "then this cell again",
    ),
}


class CellErrors:
    """The handler's memory: which cell shows which "what to do" (the current output of each
    cell that failed with a :class:`WorkshopError`)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.shown: dict[str, str] = {}
        #: The target the notebook's first cell chose (:func:`~bwp_workshop.notebook.cells.start`).
        self.target: Target | None = None
        self.cell = ""
        self.runs = 0

    def pre_run_cell(self, info: Any) -> None:
        """A cell starts: its old output (and what it showed) is about to be replaced."""
        self.runs += 1  # a front end that names no cell: each run is a cell of its own
        self.cell = str(getattr(info, "cell_id", None) or f"run-{self.runs}")
        self.shown.pop(self.cell, None)

    def lines(self, error: BaseException, tb: TracebackType | None = None) -> list[str] | None:
        """The lines to show for ``error``; None: IPython's usual traceback."""
        if isinstance(error, WorkshopError):
            return self._workshop_error(error)
        if isinstance(error, NameError) and error.name and self._raised_by_notebook_code(tb):
            return self._name_error(error.name)
        unreachable = unreachable_url(error)
        if unreachable:
            return _service_down(self.target, error, unreachable)
        return None

    def _raised_by_notebook_code(self, tb: TracebackType | None) -> bool:
        """The innermost frame runs in the notebook's namespace (a cell, or a function a cell
        defined), not in a library."""
        if tb is None:
            return True
        while tb.tb_next is not None:
            tb = tb.tb_next
        return tb.tb_frame.f_globals is self.shell.user_ns

    def _name_error(self, name: str) -> list[str] | None:
        session = self.shell.user_ns.get("__session__")
        if not session or not str(session).endswith(".ipynb"):
            return [
                f"NameError: {name!r} is not set in this kernel. If a cell above sets it, the kernel was "
                f"restarted or that cell has not run yet: {RUN_FROM_THE_TOP}."
            ]
        cells = code_cells(Path(str(session)), self.shell)
        for number, (first_line, names) in enumerate(cells, start=1):
            if name in names:
                return [
                    f"NameError: {name!r} is set by code cell {number} of this notebook (the one starting "
                    f"{first_line}), which has not run in this kernel since it started: {RUN_FROM_THE_TOP}."
                ]
        return None  # not one of the notebook's names: a typo, say; IPython's message helps there

    def _workshop_error(self, error: WorkshopError) -> list[str]:
        name = type(error).__name__
        hint = error.hint.strip()
        if hint and any(hint in text for cell, text in self.shown.items() if cell != self.cell):
            return [f"{name}: {error.message}\n  What to do: {SAID_ABOVE}"]
        self.shown[self.cell] = str(error)
        return error._render_traceback_()


def unreachable_url(error: BaseException) -> str | None:
    """The URL ``error`` (or an error it was raised from) could not connect to, if it is a
    connection failure of botocore or httpx."""
    import httpx
    from botocore.exceptions import ConnectionError as BotocoreConnectionError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BotocoreConnectionError) and current.kwargs.get("endpoint_url"):
            return str(current.kwargs["endpoint_url"])
        if isinstance(current, httpx.ConnectError | httpx.ConnectTimeout):
            try:
                return str(current.request.url)
            except RuntimeError:  # raised without a request
                return None
        current = current.__cause__ or current.__context__
    return None


def _service_down(target: Target | None, error: BaseException, url: str) -> list[str] | None:
    """One line for a local service of ``target`` that does not answer; None for any other address."""
    parts = urlsplit(url)
    if target is None:
        return None
    if parts.hostname is None or parts.port is None:
        return None
    service = target.local_service_at(parts.hostname, parts.port)
    if service not in LOCAL_SERVICES:
        return None
    what, fix = LOCAL_SERVICES[service]
    return [
        f"{type(error).__name__}: {what} does not answer at {parts.scheme}://{parts.netloc} (it stopped, or "
        f"has not been started). What to do: {fix}."
    ]


def code_cells(notebook: Path, shell: Any) -> list[tuple[str, set[str]]]:
    """Each code cell of ``notebook`` (as last saved): its first line of code and the names
    it sets at the top level. A file that cannot be read gives no cells."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    found: list[tuple[str, set[str]]] = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        lines = [line.strip() for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        first = lines[0] if lines else ""
        first = f"`{first[:57]}...`" if len(first) > 60 else f"`{first}`"
        try:
            tree = ast.parse(shell.transform_cell(source))
        except SyntaxError:
            found.append((first, set()))
            continue
        found.append((first, _top_level_names(tree)))
    return found


def _top_level_names(tree: ast.Module) -> set[str]:
    """The names a module-level run of ``tree`` binds (not those inside functions or classes)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            return
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext bwp_workshop.notebook.cell_errors``, or the kernel's ``extensions`` setting."""
    install(shell)


def install(shell: Any = None) -> CellErrors | None:
    """Register the handler on ``shell`` (default: the running IPython, if any); running it
    again (a notebook's first cell re-run) keeps one handler. None outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with the notebook extras
            return None
        shell = get_ipython()
        if shell is None:
            return None
    handler: CellErrors | None = getattr(shell, "_bwp_cell_errors", None)
    if handler is None:
        handler = CellErrors(shell)
        shell._bwp_cell_errors = handler
        shell.events.register("pre_run_cell", handler.pre_run_cell)
    known = handler

    def show(
        self: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None, tb_offset: Any = None
    ) -> None:
        lines = known.lines(value, tb)
        if lines is None:
            self.showtraceback((etype, value, tb), tb_offset=tb_offset)
        else:
            self._showtraceback(etype, value, lines)

    shell.set_custom_exc((Exception,), show)
    return handler
