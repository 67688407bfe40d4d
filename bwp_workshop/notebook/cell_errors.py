"""How an error shows in a notebook cell: what failed and what to do, said once.

:func:`install` (called by :func:`bwp_workshop.notebook.start`, the first code cell of every
notebook) gives the kernel's IPython shell a custom exception handler:

* a :class:`~bwp_workshop.errors.WorkshopError` shows its message and what to do; when another
  cell of this notebook already shows the same "what to do" (the preflight's sign-in steps,
  then the bootstrap cell failing for the same reason), the later cell says so in one line
  instead of repeating the paragraph. A cell stops counting as showing it once it runs again;
* every other error shows IPython's usual traceback.

The handler only formats: the error still fails the cell (a headless run stops there, with the
error's name and text).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ..errors import WorkshopError

#: What a later cell says instead of a "what to do" an earlier cell shows already.
SAID_ABOVE = "as said in the error above."


class CellErrors:
    """The handler's memory: which cell shows which "what to do" (the current output of each
    cell that failed with a :class:`WorkshopError`)."""

    def __init__(self) -> None:
        self.shown: dict[str, str] = {}
        self.cell = ""

    def pre_run_cell(self, info: Any) -> None:
        """A cell starts: its old output (and what it showed) is about to be replaced."""
        self.cell = str(getattr(info, "cell_id", None) or f"run-{id(info)}")
        self.shown.pop(self.cell, None)

    def lines(self, error: BaseException) -> list[str] | None:
        """The lines to show for ``error``; None: IPython's usual traceback."""
        if isinstance(error, WorkshopError):
            return self._workshop_error(error)
        return None

    def _workshop_error(self, error: WorkshopError) -> list[str]:
        name = type(error).__name__
        hint = error.hint.strip()
        if hint and any(hint in text for cell, text in self.shown.items() if cell != self.cell):
            return [f"{name}: {error.message}\n  What to do: {SAID_ABOVE}"]
        self.shown[self.cell] = str(error)
        return error._render_traceback_()


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
        handler = CellErrors()
        shell._bwp_cell_errors = handler
        shell.events.register("pre_run_cell", handler.pre_run_cell)
    known = handler

    def show(
        self: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None, tb_offset: Any = None
    ) -> None:
        lines = known.lines(value)
        if lines is None:
            self.showtraceback((etype, value, tb), tb_offset=tb_offset)
        else:
            self._showtraceback(etype, value, lines)

    shell.set_custom_exc((Exception,), show)
    return handler
