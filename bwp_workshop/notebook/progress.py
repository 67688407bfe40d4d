"""Progress while a cell waits: bars for counted work (resources of a deploy, events awaited) and
a status line for steps that count nothing (a synth, a bootstrap, a diff)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any


def bar(total: int, desc: str, unit: str = "it") -> Any:
    """A tqdm bar written to stdout as text: it updates in place in JupyterLab and a terminal,
    and an executed notebook keeps its final state (100 % when the work is done), unlike a
    widget, which a saved notebook shows as it was first drawn. Close it when done."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stdout, mininterval=0.5, ncols=90, leave=True)


class Status:
    """One line that says what a long step is doing and for how long, redrawn in place (text on
    stdout, like :func:`bar`) as the step moves on and once a second while it waits:
    ``Deploying EventStack · publishing the Lambda's code · 00:07``. Closing it leaves its
    last state: ``... · done · 00:25`` (or ``stopped`` when the step failed), so a headless
    run's executed copy shows a finished line. Use it as a context manager; ``enabled=False``
    shows nothing."""

    #: Seconds between redraws while nothing new happens (the clock moves on).
    TICK = 1.0

    def __init__(self, what: str, *, enabled: bool = True, tick: float | None = None) -> None:
        self.what = what
        self.enabled = enabled
        self.ticks = 0
        self._tick = self.TICK if tick is None else tick
        self._stop = threading.Event()
        self._bar: Any = None
        self._ticker: threading.Thread | None = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=None,
                desc=what,
                bar_format="{desc} · {elapsed}",
                file=sys.stdout,
                leave=True,
                mininterval=0,
                dynamic_ncols=False,
            )
            self._show("starting")
            self._ticker = threading.Thread(target=self._run, name="status-line", daemon=True)
            self._ticker.start()

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            self._bar.refresh()
            self.ticks += 1

    def _show(self, doing: str) -> None:
        text = " ".join(doing.split())
        self._bar.set_description_str(f"{self.what} · {text if len(text) <= 90 else text[:89] + '…'}", refresh=True)

    def __call__(self, doing: str) -> None:
        """Say what the step does now (shortened to a line)."""
        if self._bar is not None and not self._stop.is_set():
            self._show(doing)

    def write(self, line: str) -> None:
        """Print ``line`` above the status line (which is drawn again below it)."""
        if self._bar is None:
            print(line)
            return
        from tqdm import tqdm

        tqdm.write(line, file=sys.stdout)

    def close(self, done: str = "done") -> None:
        if self._bar is None or self._stop.is_set():
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._show(done)
        self._bar.close()

    def __enter__(self) -> Status:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close("done" if kind is None else "stopped")


@contextmanager
def status_line(what: str, outer: Status | None = None, *, enabled: bool = True) -> Iterator[Status]:
    """The status line of a step: the caller's when it has one (a bootstrap within a deploy says
    so on the deploy's line), else a new :class:`Status` for ``what``, closed when the step ends."""
    if outer is not None:
        yield outer
        return
    with Status(what, enabled=enabled) as line:
        yield line
