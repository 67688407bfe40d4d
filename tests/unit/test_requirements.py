"""The deployables' requirements files (``oauth_app/requirements.txt`` for the image,
``lambdas/event_handler/requirements.txt`` for the Lambda's folder) pin exactly what
``pyproject.toml`` pins: same package, same extras, same version. They are written by hand
and checked here (a deployable installs only what it needs, so they are not generated)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

REQUIREMENTS = [
    REPO_ROOT / "oauth_app" / "requirements.txt",
    REPO_ROOT / "lambdas" / "event_handler" / "requirements.txt",
]
#: ``name[extra,...]==version``, the only form a pin may take.
PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[(?P<extras>[^\]]*)\])?==(?P<version>[^\s;#]+)")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines: list[str], where: str) -> dict[str, tuple[frozenset[str], str]]:
    """``{normalized name: (extras, version)}`` of ``lines``; anything but an exact pin fails."""
    pins: dict[str, tuple[frozenset[str], str]] = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.fullmatch(line)
        assert match, f"{where}: {line!r} is not an exact pin (name[extras]==version)"
        extras = frozenset(_key(e) for e in (match["extras"] or "").split(",") if e.strip())
        pins[_key(match["name"])] = (extras, match["version"])
    return pins


def project_pins() -> dict[str, tuple[frozenset[str], str]]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return parse_pins(project["dependencies"], "pyproject.toml [project.dependencies]")


def mismatches(
    requirements: dict[str, tuple[frozenset[str], str]], project: dict[str, tuple[frozenset[str], str]]
) -> list[str]:
    problems = []
    for name, (extras, version) in sorted(requirements.items()):
        if name not in project:
            problems.append(f"{name}=={version} is not a dependency in pyproject.toml")
            continue
        project_extras, project_version = project[name]
        if version != project_version:
            problems.append(f"{name}=={version}, but pyproject.toml pins {name}=={project_version}")
        if extras != project_extras:
            problems.append(f"{name} has extras {sorted(extras)}, pyproject.toml {sorted(project_extras)}")
    return problems


@pytest.mark.parametrize("path", REQUIREMENTS, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_requirement_is_pinned_as_in_pyproject(path: Path) -> None:
    requirements = parse_pins(path.read_text().splitlines(), str(path.relative_to(REPO_ROOT)))
    assert requirements, f"{path} lists nothing"
    problems = mismatches(requirements, project_pins())
    assert not problems, f"{path.relative_to(REPO_ROOT)} disagrees with pyproject.toml:\n" + "\n".join(problems)


def test_the_check_names_a_drifted_version_an_unknown_package_and_lost_extras() -> None:
    project = parse_pins(["httpx==0.28.1", "pyjwt[crypto]==2.15.1"], "project")
    drifted = parse_pins(["httpx==0.27.0", "pyjwt==2.15.1", "requests==2.0"], "requirements")
    assert mismatches(drifted, project) == [
        "httpx==0.27.0, but pyproject.toml pins httpx==0.28.1",
        "pyjwt has extras [], pyproject.toml ['crypto']",
        "requests==2.0 is not a dependency in pyproject.toml",
    ]
    with pytest.raises(AssertionError, match="not an exact pin"):
        parse_pins(["httpx>=0.28"], "requirements")
