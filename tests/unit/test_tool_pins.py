"""pip and setuptools in the environments ``make setup`` creates: pinned in the Makefile to
current releases (the interpreter's bundled copies, pip 23.2.1 and setuptools 65.5.0, carry
published advisories) and installed as pinned."""

from __future__ import annotations

import re
from importlib import metadata

import pytest

from bwp_workshop.testing.checkout import CHECKOUT

OLD = {"pip": (23, 3), "setuptools": (78, 1, 1)}  # the first releases past the advisories


def makefile_pins() -> dict[str, str]:
    text = (CHECKOUT / "Makefile").read_text()
    pins = {name: re.search(rf"^{name.upper()}_VERSION := (\S+)$", text, re.M) for name in OLD}
    assert all(pins.values()), "the Makefile pins pip and setuptools"
    assert "$(TOOL_PINS)" in text.split("$(CHECKOV):", 1)[1].split("\n\n", 1)[0], "the checkov environment too"
    return {name: match.group(1) for name, match in pins.items() if match}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_the_makefile_pins_pip_and_setuptools_past_their_advisories() -> None:
    for name, version in makefile_pins().items():
        assert _version(version) >= OLD[name], f"{name} {version}"


def test_the_projects_environment_has_the_pinned_versions() -> None:
    for name, version in makefile_pins().items():
        assert metadata.version(name) == version, f"{name}: run make setup"


def test_the_checkov_environment_has_the_pinned_versions() -> None:
    found = list((CHECKOUT / ".venv-checkov").glob("lib/python*/site-packages"))
    if not found:
        pytest.skip(".venv-checkov is not set up (make setup)")
    installed = {path.name.split("-")[0].lower(): path.name for path in found[0].glob("*.dist-info")}
    for name, version in makefile_pins().items():
        assert installed.get(name) == f"{name}-{version}.dist-info", f"{name}: run make setup"
