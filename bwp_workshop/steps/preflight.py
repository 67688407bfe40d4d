"""Checks before the workshop starts: tools, versions, target and credentials.

Each check answers ok or not with a detail and, when not ok, what to do. ``blocking`` checks
stop the workshop; the others (a Docker engine, for example) only change what a step does.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass

from ..errors import WorkshopError
from ..settings import Settings
from ..targets import choose_target


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    blocking: bool = True

    def as_row(self) -> dict[str, str]:
        row = asdict(self)
        row["ok"] = "yes" if self.ok else ("no" if self.blocking else "no (optional)")
        row["hint"] = "" if self.ok else self.hint
        row.pop("blocking")
        return row


def _run(argv: list[str], timeout: float = 15) -> str | None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def check_python() -> Check:
    version = platform.python_version()
    return Check("Python", sys.version_info >= (3, 11), version, "Python 3.11 or newer is needed.")


def check_node() -> Check:
    output = _run(["node", "--version"])
    if output is None:
        return Check("Node.js", False, "not found", "Install Node.js 20 or newer (the cdk CLI runs on it).")
    major = int(re.sub(r"^v(\d+).*", r"\1", output) or 0)
    return Check("Node.js", major >= 20, output, "Node.js 20 or newer is needed.")


def check_cdk_versions(settings: Settings) -> Check:
    """The installed cdk CLI must be the version package.json pins, which matches aws-cdk-lib:
    a mismatch shows up as "Cloud assembly schema version mismatch" at deploy time."""
    from importlib.metadata import version

    from ..deploy.cdk import pinned_cli_version

    lib = version("aws-cdk-lib")
    pinned = pinned_cli_version(settings)
    package = settings.project_dir / "node_modules" / "aws-cdk" / "package.json"
    if not package.is_file():
        return Check("cdk CLI / aws-cdk-lib", False, f"CLI not installed; lib {lib}", "Run `make setup` (npm ci).")
    installed = json.loads(package.read_text())["version"]
    ok = installed == pinned
    return Check(
        "cdk CLI / aws-cdk-lib",
        ok,
        f"CLI {installed} (pinned {pinned}), aws-cdk-lib {lib}",
        "Run `make setup` to install the pinned CLI (npm ci).",
    )


def check_docker() -> Check:
    if shutil.which("docker") is None:
        return Check(
            "Docker engine",
            False,
            "no docker command",
            "The image is built by CodeBuild instead (see the image build row).",
            blocking=False,
        )
    info = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
    return Check(
        "Docker engine",
        bool(info),
        f"server {info}" if info else "docker command present, engine not reachable",
        "Start the Docker engine to build the image here, or go on without it (CodeBuild builds it).",
        blocking=False,
    )


def check_image_build(settings: Settings, docker: Check) -> Check:
    """Which path builds the app's image in notebook 03: Docker here, or InfraStack's CodeBuild
    project in the account (on local, moto's CodeBuild records the build; the app runs as a process)."""
    from .image import BUILD_WITH_DOCKER, image_build_path

    detail = choose_target(settings).image_build_detail(image_build_path(docker.ok) == BUILD_WITH_DOCKER)
    return Check("image build", True, detail, blocking=False)


def check_target(settings: Settings) -> Check:
    """Whether the target can be used now (:meth:`~bwp_workshop.targets.Target.preflight_check`)."""
    return Check(*choose_target(settings).readiness())


def run_checks(settings: Settings) -> list[Check]:
    docker = check_docker()
    return [
        check_python(),
        check_node(),
        check_cdk_versions(settings),
        docker,
        check_image_build(settings, docker),
        check_target(settings),
    ]


def blocking_failures(checks: list[Check]) -> list[Check]:
    return [check for check in checks if check.blocking and not check.ok]


class PreflightFailed(WorkshopError):
    """A blocking preflight check failed."""


def require(checks: list[Check]) -> None:
    """Raise :class:`PreflightFailed` (shown without a traceback) naming every blocking check
    that failed and what to do about each; nothing when all pass."""
    blocking = blocking_failures(checks)
    if blocking:
        raise PreflightFailed(
            "Fix these before you go on: "
            + "; ".join(f"{check.name}: {check.detail.rstrip('.')}" for check in blocking)
            + ".",
            hint=" ".join(check.hint for check in blocking) + " Then run this notebook again.",
        )
