"""Background processes that outlive the command (or notebook kernel) that started them:
start them detached and wait until they answer, stop their process groups, report their status.

What was started is kept by :mod:`bwp_workshop.local.process_registry`: a record is trusted only
while a process with its pid *and* its start time exists, and only recorded processes are ever
stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from ..errors import LocalRuntimeError, PortInUseError
from .process_registry import ProcessRecord, ProcessRegistry, exited, process_of


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one local service. Its ``health_path`` answers 200 with JSON that holds at
    least ``{"service": <name>, "pid": <its process id>}``: that is how the runtime tells its
    own process from anything else listening on the port."""

    name: str
    argv: Sequence[str]
    host: str
    port: int
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    port_setting: str = ""
    #: False: ``env`` is the whole environment (nothing of the caller's leaks in, such as an
    #: AWS profile that would win over the local AWS's dummy keys).
    inherit_env: bool = True
    #: Prefixes of the caller's variables the service does not inherit (``("AWS_",)``: a
    #: profile that does not exist, or credentials of a real account, never reach a service
    #: that only talks to the local AWS).
    hidden_env_prefixes: tuple[str, ...] = ()
    #: True: ``up`` restarts the running service when its command line or environment
    #: changed (it reads its configuration only when it starts).
    restart_on_change: bool = False

    @property
    def fingerprint(self) -> str:
        """A digest of the command line and environment (no value can be read back from it)."""
        text = json.dumps([list(self.argv), sorted(self.env.items()), self.inherit_env, list(self.hidden_env_prefixes)])
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def health_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.health_path}"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # "running", "stopped", "unhealthy"
    pid: int | None = None
    port: int | None = None
    url: str | None = None
    log_file: str | None = None
    detail: str = ""


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _port_owner(port: int) -> str:
    """Best effort: 'pid 123 (name)' of whatever listens on the port."""
    with contextlib.suppress(psutil.Error, PermissionError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                with contextlib.suppress(psutil.Error):
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                return f"pid {conn.pid}"
    return "another program"


def _health_client() -> httpx.Client:
    # trust_env=False: a proxy from the environment must not stand between us and 127.0.0.1.
    # verify=False: the URLs are plain HTTP, and loading the CA bundle costs 40 ms per client.
    return httpx.Client(trust_env=False, verify=False)


def answers(
    spec: ServiceSpec,
    host: str,
    port: int,
    *,
    pid: int | None = None,
    timeout: float = 3.0,
    client: httpx.Client | None = None,
) -> bool:
    """True when ``spec``'s health URL on host:port answers as that service (and, with
    ``pid``, as that very process)."""
    try:
        with contextlib.ExitStack() as stack:
            http = client or stack.enter_context(_health_client())
            response = http.get(f"http://{host}:{port}{spec.health_path}", timeout=timeout)
            body = response.json()
    except (httpx.HTTPError, ValueError):
        return False
    return (
        response.status_code == 200
        and isinstance(body, dict)
        and body.get("service") == spec.name
        and (pid is None or body.get("pid") == pid)
    )


def _log_tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def start(spec: ServiceSpec, registry: ProcessRegistry, *, ready_timeout: float) -> ProcessRecord:
    """Start ``spec`` detached (own session, no terminal), wait until its health URL answers
    as this service, record it. The caller holds ``registry.locked()``."""
    return start_all([spec], registry, ready_timeout=ready_timeout)[0]


def start_all(specs: Sequence[ServiceSpec], registry: ProcessRegistry, *, ready_timeout: float) -> list[ProcessRecord]:
    """Start independent services side by side: each is launched at once, then each is waited
    on until it answers; each is recorded once ready. If one fails, the others launched but not
    yet ready are stopped too. The caller holds ``registry.locked()``."""
    for spec in specs:
        if port_in_use(spec.host, spec.port):
            setting = f"set {spec.port_setting} to a free port, or " if spec.port_setting else ""
            raise PortInUseError(
                f"Cannot start {spec.name}: port {spec.port} on {spec.host} is in use by {_port_owner(spec.port)}.",
                hint=f"{setting}stop that program.",
            )
    launched: list[tuple[ServiceSpec, subprocess.Popen[bytes], ProcessRecord]] = []
    recorded: set[str] = set()
    try:
        for spec in specs:
            launched.append((spec, *_launch(spec, registry)))
        with _health_client() as client:
            for spec, child, record in launched:
                _wait_ready(spec, child, Path(record.log_file), ready_timeout, client)
                registry.write(record)
                recorded.add(spec.name)
    except BaseException:
        # never leave an unrecorded process behind (also on Ctrl-C)
        for spec, child, _ in launched:
            if spec.name not in recorded:
                _terminate(child.pid)
                child.wait()
        raise
    return [record for _, _, record in launched]


def _launch(spec: ServiceSpec, registry: ProcessRegistry) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    registry.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = registry.log_dir / f"{spec.name}.log"
    inherited = {
        name: value
        for name, value in (os.environ.items() if spec.inherit_env else ())
        if not (spec.hidden_env_prefixes and name.startswith(spec.hidden_env_prefixes))
    }
    env = {**inherited, **spec.env, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"\n--- {stamp} starting {spec.name} on {spec.host}:{spec.port}\n".encode())
        log.flush()
        child = subprocess.Popen(
            list(spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives the caller; signals to the caller don't reach it
            close_fds=True,
        )
    record = ProcessRecord(
        name=spec.name,
        pid=child.pid,
        create_time=psutil.Process(child.pid).create_time(),
        host=spec.host,
        port=spec.port,
        argv=list(spec.argv),
        log_file=str(log_path),
        started_at=time.time(),
        fingerprint=spec.fingerprint,
    )
    return child, record


def _wait_ready(
    spec: ServiceSpec,
    child: subprocess.Popen[bytes],
    log_path: Path,
    ready_timeout: float,
    client: httpx.Client | None = None,
) -> None:
    """Poll the health URL (backing off from 10 ms to 250 ms) until this very process answers."""
    deadline = time.monotonic() + ready_timeout
    delay = 0.01
    while not answers(spec, spec.host, spec.port, pid=child.pid, timeout=0.5, client=client):
        if child.poll() is not None:
            raise LocalRuntimeError(
                f"{spec.name} exited with code {child.returncode} while starting. Last lines of {log_path}:\n"
                + _log_tail(log_path),
                hint="Fix what the log says, then run `bwp-workshop local up` again.",
            )
        if time.monotonic() > deadline:
            raise LocalRuntimeError(
                f"{spec.name} did not become ready on {spec.health_url} within {ready_timeout:.0f} s. "
                f"Last lines of {log_path}:\n" + _log_tail(log_path),
                hint="Raise BWP_LOCAL_READY_TIMEOUT on a slow machine, or read the log for the cause.",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _terminate(*pids: int, timeout: float = 10.0) -> None:
    """SIGTERM the process groups the services lead, then SIGKILL what is left."""
    members = []
    for pid in pids:
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            continue
        with contextlib.suppress(psutil.Error):
            leader = psutil.Process(pid)
            members += [leader, *leader.children(recursive=True)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    alive = _wait_exited(members, timeout)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    _wait_exited(alive, timeout)


def _wait_exited(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until each process is gone or a zombie (psutil.wait_procs waits on zombies whose
    parent, a notebook kernel say, never reaps them); returns those still running."""
    deadline = time.monotonic() + timeout
    alive = [process for process in processes if not exited(process)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [process for process in alive if not exited(process)]
    return alive


def stop(name: str, registry: ProcessRegistry) -> ProcessRecord | None:
    """Stop the recorded process ``name``; returns its record, or None if it was not running.
    The caller holds ``registry.locked()``."""
    return stop_all([name], registry)[name]


def stop_all(names: Sequence[str], registry: ProcessRegistry) -> dict[str, ProcessRecord | None]:
    """Stop the recorded processes ``names`` side by side (each is asked to stop at once, then
    each is waited on); returns each one's record, or None if it was not running. The caller
    holds ``registry.locked()``."""
    stopped: dict[str, ProcessRecord | None] = {}
    for name in names:
        record = registry.read(name)
        process = process_of(record) if record is not None else None
        if record is not None:
            registry.remove(name)
        stopped[name] = record if process is not None else None
    _terminate(*(record.pid for record in stopped.values() if record is not None))
    return stopped


def status(spec: ServiceSpec, registry: ProcessRegistry) -> ServiceStatus:
    record = registry.read(spec.name)
    if record is None or process_of(record) is None:
        if record is not None:
            registry.remove(spec.name)
        detail = f"port {spec.port} is taken by {_port_owner(spec.port)}" if port_in_use(spec.host, spec.port) else ""
        last_log = registry.log_dir / f"{spec.name}.log"  # what its last run wrote, if it ran
        log_file = str(last_log) if last_log.is_file() else None
        return ServiceStatus(spec.name, "stopped", port=spec.port, log_file=log_file, detail=detail)
    url = f"http://{record.host}:{record.port}"
    healthy = answers(spec, record.host, record.port, pid=record.pid)
    problem = "" if healthy else _reported_problem(spec, record)
    return ServiceStatus(
        spec.name,
        "running" if healthy else "unhealthy",
        pid=record.pid,
        port=record.port,
        url=url,
        log_file=record.log_file,
        detail=""
        if healthy
        else f"{problem or f'not answering on {url}{spec.health_path}'}; see {record.log_file}, "
        "and `bwp-workshop local up` restarts it",
    )


def _reported_problem(spec: ServiceSpec, record: ProcessRecord) -> str:
    """What an unhealthy service says is wrong (its health answer's ``problem``), if anything."""
    try:
        body = httpx.get(f"http://{record.host}:{record.port}{spec.health_path}", timeout=3, trust_env=False).json()
    except (httpx.HTTPError, ValueError):
        return ""
    return str(body.get("problem", "")) if isinstance(body, dict) else ""


def python_module_argv(module: str, *args: str) -> list[str]:
    """argv that runs ``python -m module`` with this interpreter (the workshop's venv)."""
    return [sys.executable, "-m", module, *args]
