"""The deployables' requirements files (``oauth_app/requirements.txt`` for the image,
``lambdas/event_handler/requirements.txt`` for the Lambda's folder) pin exactly what
``pyproject.toml`` pins: same package, same extras, same version. They are written by hand
and checked here (a deployable installs only what it needs, so they are not generated); each
is resolved by ``make lock`` into a ``requirements.lock`` beside it, every package pinned with
its hashes, which is what the image and the Lambda's folder install."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bwp_workshop.testing.checkout import CHECKOUT

REQUIREMENTS = [
    CHECKOUT / "oauth_app" / "requirements.txt",
    CHECKOUT / "lambdas" / "event_handler" / "requirements.txt",
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
    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]
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


@pytest.mark.parametrize("path", REQUIREMENTS, ids=lambda path: str(path.relative_to(CHECKOUT)))
def test_every_requirement_is_pinned_as_in_pyproject(path: Path) -> None:
    requirements = parse_pins(path.read_text().splitlines(), str(path.relative_to(CHECKOUT)))
    assert requirements, f"{path} lists nothing"
    problems = mismatches(requirements, project_pins())
    assert not problems, f"{path.relative_to(CHECKOUT)} disagrees with pyproject.toml:\n" + "\n".join(problems)


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


# --- the locks the deployables install from (``make lock``) -------------------------------------
#: ``name==version`` followed by its ``--hash=sha256:...`` options, as ``uv pip compile`` writes it.
LOCKED = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?P<hashes>(?:\s*\\\s*--hash=sha256:[0-9a-f]{64})+)", re.M
)


def parse_lock(text: str) -> dict[str, str]:
    """``{normalized name: version}`` of a lock; every entry must carry hashes."""
    entries = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    locked = {_key(m["name"]): m["version"] for m in LOCKED.finditer(text)}
    assert len(locked) == len(entries), f"entries without hashes: {len(entries) - len(locked)}"
    return locked


@pytest.mark.parametrize("path", REQUIREMENTS, ids=lambda p: str(p.relative_to(CHECKOUT)))
def test_each_deployable_has_a_hash_pinned_lock_of_its_requirements(path: Path) -> None:
    """The review's L1: the whole closure pinned, each package with its hashes, the direct
    pins at the versions requirements.txt names (run ``make lock`` after changing it)."""
    locked = parse_lock(path.with_name("requirements.lock").read_text())
    for name, (_, version) in parse_pins(path.read_text().splitlines(), str(path)).items():
        assert locked.get(name) == version, f"{name}=={version} is not in the lock: run make lock"
    assert len(locked) > len(parse_pins(path.read_text().splitlines(), str(path)))  # the transitive ones too


def test_the_image_and_the_lambda_install_only_what_their_lock_names() -> None:
    """Hash-checked installs of the lock alone: what makes the privileged image build
    acceptable (a changed or substituted package fails the build)."""
    dockerfile = (CHECKOUT / "oauth_app" / "Dockerfile").read_text()
    assert "COPY oauth_app/requirements.lock /tmp/requirements.lock" in dockerfile
    assert "pip install --require-hashes --no-deps -r /tmp/requirements.lock" in dockerfile
    assert "requirements.txt" not in dockerfile
    from bwp_workshop.settings import Settings
    from bwp_workshop.stacks.lambda_asset import PIP_LOCK_OPTIONS, _requirements

    assert set(PIP_LOCK_OPTIONS) == {"--require-hashes", "--no-deps"}
    assert _requirements(Settings(project_dir=CHECKOUT)).name == "requirements.lock"  # type: ignore[call-arg]


def test_the_projects_uv_lock_agrees_with_pyproject_and_carries_hashes() -> None:
    """uv.lock, which ``make setup`` installs from with ``--require-hashes``: the project's pins
    (the dependencies and the test extras) at the same versions, every registry package with a
    hash for each of its files (``make lock`` after changing pyproject.toml)."""
    lock = tomllib.loads((CHECKOUT / "uv.lock").read_text())
    versions = {_key(p["name"]): p["version"] for p in lock["package"] if "version" in p}
    project = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]
    pins = project_pins() | parse_pins(project["optional-dependencies"]["test"], "pyproject.toml [test]")
    drifted = {
        name: (version, versions.get(name)) for name, (_, version) in pins.items() if versions.get(name) != version
    }
    assert drifted == {}, "run make lock"
    for package in lock["package"]:
        if "registry" not in package.get("source", {}):
            continue
        files = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert files and all(f.get("hash", "").startswith("sha256:") for f in files), package["name"]
    makefile = (CHECKOUT / "Makefile").read_text()
    assert "--require-hashes --requirement $(VENV)/requirements.lock" in makefile
