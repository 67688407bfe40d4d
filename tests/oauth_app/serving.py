"""Running the app as real processes in tests: the image's command line, its environment on
the local AWS, readiness by polling the health URL, and a clean stop."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bwp_workshop import aws, names
from bwp_workshop.settings import Settings
from bwp_workshop.testing.environment import clean_environ

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "oauth_app" / "Dockerfile"


@dataclass
class Dockerfile:
    """The instructions of a Dockerfile, continuation lines joined, per stage."""

    stages: list[list[tuple[str, str]]] = field(default_factory=list)

    @classmethod
    def parse(cls, path: Path = DOCKERFILE) -> Dockerfile:
        text = path.read_text().replace("\\\n", " ")
        parsed = cls()
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            instruction, _, rest = line.partition(" ")
            instruction = instruction.upper()
            if instruction == "FROM":
                parsed.stages.append([])
            if parsed.stages:
                parsed.stages[-1].append((instruction, rest.strip()))
        return parsed

    @property
    def final(self) -> list[tuple[str, str]]:
        return self.stages[-1]

    def last(self, instruction: str) -> str:
        return [rest for name, rest in self.final if name == instruction][-1]

    def cmd(self) -> list[str]:
        """The final CMD in exec (JSON) form."""
        return list(json.loads(self.last("CMD")))

    def local_cmd(self, port: int, host: str | None = None) -> list[str]:
        """The CMD as it runs here: on ``port`` (and ``host``, when given), its program taken
        from this interpreter's environment (the image's PATH puts its venv first)."""
        argv = self.cmd()
        argv[argv.index("--port") + 1] = str(port)
        if host is not None:
            argv[argv.index("--host") + 1] = host
        argv[0] = str(Path(sys.executable).parent / argv[0])
        return argv

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, rest in self.final:
            if name == "ENV":
                for pair in shlex.split(rest):
                    key, _, value = pair.partition("=")
                    values[key] = value
        return values

    def copies(self) -> list[tuple[list[str], str]]:
        """(sources, destination) of the final stage's COPY from the build context."""
        found = []
        for name, rest in self.final:
            if name == "COPY" and not rest.startswith("--from"):
                *sources, destination = rest.split()
                found.append((sources, destination))
        return found


def stage_image_tree(dockerfile: Dockerfile, into: Path) -> Path:
    """What the final stage's COPY instructions put under WORKDIR, copied into ``into``."""
    import shutil

    for sources, destination in dockerfile.copies():
        target = into / destination
        for source in sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name)
    return into


def app_environment(
    settings: Settings,
    *,
    table: str,
    base_url: str,
    public_key: str,
    authorize_url: str,
    token_url: str,
    client_id: str,
    client_secret: str,
    **extra: str,
) -> dict[str, str]:
    """The environment the stack (or the local runtime) gives the app, on the local AWS."""
    env = aws.subprocess_environment(settings, base=clean_environ())
    env.update(
        {
            names.ENV_TOKEN_TABLE: table,
            names.ENV_APP_BASE_URL: base_url,
            names.ENV_AUTHORIZE_URL: authorize_url,
            names.ENV_TOKEN_URL: token_url,
            names.ENV_PUBLIC_KEY: public_key,
            names.ENV_CLIENT_ID: client_id,
            names.ENV_CLIENT_SECRET: client_secret,
        },
        **extra,
    )
    return env


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        if process.poll() is not None:
            raise AssertionError(f"the app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not answer {url} in {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


@contextlib.contextmanager
def serving(
    argv: list[str], env: dict[str, str], *, cwd: Path, health_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` until the block ends; its output goes to ``log``."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_healthy(health_url, process, log)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def in_thread(app: Any, port: int, timeout: float = 20) -> Iterator[str]:
    """``app`` (an ASGI app) served by uvicorn on 127.0.0.1:``port`` in a thread of this process,
    once it listens; its base URL. Stopped on exit."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the app did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
