"""Running the pinned AWS CDK CLI (``node_modules/.bin/cdk``, from package.json) for the target."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import aws
from ..errors import WorkshopError
from ..settings import Settings


class CdkCliError(WorkshopError):
    """The cdk CLI is missing or a cdk command failed. ``output`` is all the CLI printed."""

    def __init__(self, message: str, *, hint: str = "", output: str = "") -> None:
        super().__init__(message, hint=hint)
        self.output = output


def cdk_executable(settings: Settings) -> Path:
    """The project's pinned CLI; an error that says how to install it when it is missing."""
    path = settings.project_dir / "node_modules" / ".bin" / "cdk"
    if not path.exists():
        raise CdkCliError(
            f"The AWS CDK CLI is not installed in {settings.project_dir / 'node_modules'}.",
            hint="Run `make setup` (or `npm ci` in the project folder) to install the version pinned in package.json.",
        )
    return path


def pinned_cli_version(settings: Settings) -> str:
    """The aws-cdk CLI version package.json pins."""
    package = json.loads((settings.project_dir / "package.json").read_text())
    return str(package["devDependencies"]["aws-cdk"])


def cdk_environment(settings: Settings) -> dict[str, str]:
    """The CLI's environment: the target's AWS endpoint and credentials, this interpreter first
    on PATH (so ``python3`` in cdk.json is the workshop's), and jsii's Node 20 banner off."""
    env = aws.subprocess_environment(settings)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
    env.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    # Plain text, whatever the caller's terminal asks for (a Jupyter kernel sets FORCE_COLOR and
    # CLICOLOR): the output is parsed for progress and failures and lands in error messages.
    env.update(FORCE_COLOR="0", NO_COLOR="1", CLICOLOR="0")
    return env


def run_cdk(
    args: Sequence[str],
    settings: Settings,
    *,
    app: str | None = None,
    output_dir: Path | None = None,
    timeout: float = 900,
    on_output: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cdk <args>`` in the project folder and return the finished process (output
    captured). With ``on_output``, each line the CLI prints (stdout and stderr, merged, in
    order) is passed to it as it comes. A non-zero exit raises ``CdkCliError`` with the end of
    the CLI's output."""
    argv = [str(cdk_executable(settings)), *args]
    if args and not args[0].startswith("-"):
        argv.append("--no-notices")  # notices are fetched from the internet; the local target is offline
    if app:
        argv += ["--app", app]
    if output_dir:
        argv += ["--output", str(output_dir)]
    env = cdk_environment(settings)
    if shutil.which("node", path=env["PATH"]) is None:
        raise CdkCliError("Node.js is not on PATH; the cdk CLI needs it.", hint="Install Node.js 20 or newer.")
    if on_output is None:
        result = subprocess.run(
            argv,
            cwd=settings.project_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    else:
        result = _run_streaming(argv, settings.project_dir, env, timeout, on_output)
    if result.returncode != 0:
        output = result.stdout + result.stderr
        tail = "\n".join(output.strip().splitlines()[-25:])
        # Name the command by its words only: option values (--parameters, --context) may be secret.
        words = " ".join(arg for arg in itertools.takewhile(lambda arg: not arg.startswith("-"), args))
        raise CdkCliError(
            f"`cdk {words}` failed (exit {result.returncode}):\n{tail}",
            hint="Read the CLI output above for the failing resource.",
            output=output,
        )
    return result


def _run_streaming(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float, on_output: Callable[[str], None]
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with stdout and stderr merged, handing each line to ``on_output``; kill it
    after ``timeout`` seconds (``subprocess.TimeoutExpired``, as ``subprocess.run`` raises)."""
    lines: list[str] = []
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            process.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                on_output(line.rstrip("\n"))
            returncode = process.wait()
        finally:
            timer.cancel()
        if timed_out.is_set():
            raise subprocess.TimeoutExpired(argv, timeout, output="".join(lines))
    return subprocess.CompletedProcess(argv, returncode, stdout="".join(lines), stderr="")
