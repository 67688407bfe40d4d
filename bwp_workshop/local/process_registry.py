"""The records of the local services this machine started, and whether a record still names a
live process.

Each started process is recorded in ``<state>/run/<name>.json`` with its pid, the process's
start time and its port. A record is trusted only while a process with that pid *and* that
start time exists, so a recycled pid is never signalled. Only recorded processes are ever
stopped (:mod:`bwp_workshop.local.processes` starts and stops them).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import filelock
import psutil

from ..errors import LocalRuntimeError


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    create_time: float
    host: str
    port: int
    argv: list[str]
    log_file: str
    started_at: float
    #: ``ServiceSpec.fingerprint`` of the configuration the process was started with.
    fingerprint: str = ""


class ProcessRegistry:
    """The records of started processes under ``<state>/run``."""

    def __init__(self, state_dir: Path) -> None:
        self.run_dir = state_dir / "run"
        self.log_dir = state_dir / "logs"

    def _path(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    @contextlib.contextmanager
    def locked(self, timeout: float = 120) -> Iterator[None]:
        """Serialises up/down/status across processes (two cells, two terminals)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(self.run_dir / ".lock", timeout=timeout)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise LocalRuntimeError(
                f"Another bwp-workshop command has held the local runtime's lock ({lock.lock_file}) "
                f"for {timeout:.0f} s.",
                hint="Let it finish (or stop it), then try again.",
            ) from None
        try:
            yield
        finally:
            lock.release()

    def read(self, name: str) -> ProcessRecord | None:
        try:
            return ProcessRecord(**json.loads(self._path(name).read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            self.remove(name)  # a torn or foreign file: not a record we can trust
            return None

    def write(self, record: ProcessRecord) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._path(record.name).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=2))
        tmp.replace(self._path(record.name))

    def remove(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


def exited(process: psutil.Process) -> bool:
    """Gone, or a zombie (reaped here when it is our child)."""
    try:
        if process.status() != psutil.STATUS_ZOMBIE:
            return False
    except psutil.NoSuchProcess:
        return True
    with contextlib.suppress(psutil.Error):
        process.wait(timeout=0)
    return True


def process_of(record: ProcessRecord) -> psutil.Process | None:
    """The live process a record names, or None when it is gone or the pid now belongs to
    another program (other start time or command line; the start time may drift by a clock
    adjustment, so it is compared to within a second)."""
    try:
        process = psutil.Process(record.pid)
        if abs(process.create_time() - record.create_time) > 1.0 or process.cmdline() != record.argv:
            return None
    except psutil.Error:
        return None
    return None if exited(process) else process
