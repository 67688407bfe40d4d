"""The test tiers: every test gets exactly one, and a test without one stops the collection.

- ``fast``: in process only (FastAPI ``TestClient``, moto's in-process ``mock_aws``, click's
  ``CliRunner``): no server, no subprocess. ``make check`` runs these.
- ``server``: real processes: the session's moto server, a served sandbox or app, any
  subprocess (the CLI, ``python3.12``, pip).
- ``cdk``: the CDK: synthesis (a jsii process) or the ``cdk`` CLI deploying to the local AWS.
- ``notebook``: Jupyter kernels (papermill, nbval).

A test's tier is, in order: its own mark (``@pytest.mark.server`` on the test, its class or its
module's ``pytestmark``); else the longest entry of ``PATHS`` its node id starts with. A fixture
in ``FIXTURES`` raises the tier to the fixture's (a test on the session's moto server is never
``fast``); a mark lighter than one of its fixtures is an error. ``FastTierGuard`` makes a
``fast`` test that starts a process or listens on a socket, from any thread, fail at once,
naming what to change.

``make test`` runs the tiers in parallel (pytest-xdist, ``--dist loadgroup``): the ``cdk`` tests
form one group that one worker runs in order (the session's synthesized stacks made once, no two
CDK synths at the same time), and so do the tests that read the person's story (``STORY``: it is
made once); every other test goes to whichever worker is free.
"""

from __future__ import annotations

import _posixsubprocess  # type: ignore[import-not-found]
import os
import socket
import subprocess
from collections.abc import Iterable
from typing import Any

import pytest

#: Lightest first.
TIERS = ("fast", "server", "cdk", "notebook")

DESCRIPTIONS = {
    "fast": "in process only: no server, no subprocess (make check)",
    "server": "real processes: the moto server, served sandboxes and apps, subprocesses",
    "cdk": "CDK synthesis (jsii) or the cdk CLI",
    "notebook": "Jupyter kernels: papermill and nbval",
}

#: Tiers by node id prefix (a folder, a file, or a test); the longest matching prefix wins.
PATHS = {
    "tests/unit/": "fast",
    "tests/unit/test_aws_sessions.py::test_importing_the_package_creates_no_client": "server",
    "tests/contract/": "fast",
    "tests/core/": "fast",
    "tests/core/test_verification.py::test_the_core_imports_nothing_heavy": "server",
    "tests/lambdas/": "fast",
    "tests/lambdas/test_asset.py": "server",
    "tests/sandbox/": "fast",
    "tests/sandbox/test_console.py::test_state_survives_a_restart": "server",
    "tests/oauth_app/": "fast",
    "tests/oauth_app/test_image.py": "server",
    "tests/oauth_app/test_local_runtime.py": "server",
    "tests/faults/": "fast",
    "tests/e2e/": "server",
    "tests/e2e/test_event_pipeline.py::test_the_deployed_event_stack": "cdk",
    "tests/local/": "server",
    "tests/local/test_moto_patches.py": "fast",
    "tests/local/test_moto_patches_sqs_concurrency.py": "fast",
    "tests/local/test_moto_patches_dynamodb_concurrency.py": "fast",
    "tests/local/test_moto_fixes_for_stacks.py": "fast",
    "tests/local/test_cdk_cli_on_local_aws.py": "cdk",
    "tests/local/test_stacks_deploy.py": "cdk",
    "tests/stacks/": "cdk",
    "tests/notebooks/": "notebook",
}

#: Fixtures that put a test at least in a tier, wherever it lives.
FIXTURES = {
    "local_aws": "server",
    "sandbox_server": "server",
    "local_sandbox": "server",
    "synthesized": "cdk",
    "aws_synthesized": "cdk",
    "with_certificate": "cdk",
    "story": "notebook",
    "in_process_moto": "server",
}

#: The tier whose tests one xdist worker runs together, in order (``--dist loadgroup``; conftest's
#: ``pytest_xdist_make_scheduler`` groups them by ``PATHS``, which places every test of the tier).
GROUPED = ("cdk",)
#: The modules whose tests read the person's story (tests/notebooks/conftest.py, a session
#: fixture): one worker runs them, so the story runs once.
STORY = (
    "tests/notebooks/test_person_path.py",
    "tests/notebooks/test_site.py",
    "tests/notebooks/test_waiting_cells.py",
    "tests/notebooks/test_workshop.py",
)


def xdist_scope(nodeid: str) -> str:
    """What pytest-xdist schedules together: the story's tests, a grouped tier (by ``PATHS``),
    else the test alone. (pytest-xdist 3.8's own ``xdist_group`` marks do not group under
    pytest 9: it renames the node through an attribute pytest 9 no longer reads.)"""
    if nodeid.startswith(STORY):
        return "story"
    prefixes = [prefix for prefix in PATHS if nodeid.startswith(prefix)]
    tier = PATHS[max(prefixes, key=len)] if prefixes else None
    return tier if tier in GROUPED else nodeid


def register(config: pytest.Config) -> None:
    for tier in TIERS:
        config.addinivalue_line("markers", f"{tier}: the {tier} tier: {DESCRIPTIONS[tier]} (tests/tiers.py)")


def _weight(tier: str) -> int:
    return TIERS.index(tier)


def _heaviest(tiers: Iterable[str]) -> str | None:
    found = sorted(tiers, key=_weight)
    return found[-1] if found else None


def tier_of(item: pytest.Item) -> tuple[str | None, str]:
    """The item's tier, or None and why not."""
    marked = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
    if len(marked) > 1:
        return None, f"has more than one tier mark ({', '.join(sorted(marked, key=_weight))})"
    by_fixture = _heaviest(FIXTURES[name] for name in getattr(item, "fixturenames", ()) if name in FIXTURES)
    if marked:
        (tier,) = marked
        if by_fixture and _weight(by_fixture) > _weight(tier):
            return None, f"is marked {tier} but uses a fixture of the {by_fixture} tier"
        return tier, ""
    prefixes = [prefix for prefix in PATHS if item.nodeid.startswith(prefix)]
    by_path = PATHS[max(prefixes, key=len)] if prefixes else None
    tier = _heaviest(t for t in (by_path, by_fixture) if t)
    if tier is None:
        return None, "has no tier"
    return tier, ""


def assign(items: list[pytest.Item]) -> None:
    """Mark every item with its tier; raise ``pytest.UsageError`` naming
    the items that have none."""
    problems = []
    for item in items:
        tier, why = tier_of(item)
        if tier is None:
            problems.append(f"  {item.nodeid} {why}")
            continue
        item.add_marker(getattr(pytest.mark, tier))
    if problems:
        shown = "\n".join(problems[:30]) + (f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else "")
        raise pytest.UsageError(
            f"{len(problems)} test(s) with no tier or a wrong one (tiers: {', '.join(TIERS)}):\n{shown}\n"
            "Give each one tier: a prefix of its node id in PATHS in tests/tiers.py, or a mark such as "
            "@pytest.mark.server on the test (see tests/README.md, 'Tiers')."
        )


class FastTierViolation(AssertionError):
    """A fast-tier test started a subprocess or a server."""


#: What starts a process, besides ``subprocess.Popen`` (its ``_execute_child``): the functions of
#: ``os``, and ``_posixsubprocess.fork_exec`` (multiprocessing's spawn calls it directly).
_PROCESS_STARTERS = (
    (os, "fork"),
    (os, "forkpty"),
    (os, "system"),
    (os, "posix_spawn"),
    (os, "posix_spawnp"),
    (os, "execv"),
    (os, "execve"),
    (_posixsubprocess, "fork_exec"),
)


class FastTierGuard:
    """While a ``fast`` test sets up and runs, in any of its threads: starting a process or
    listening on a socket raises ``FastTierViolation`` where it happens, and the test fails with
    it even when the thread that tried swallowed it."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.violations: list[FastTierViolation] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def _refuse(self, what: str) -> FastTierViolation:
        violation = FastTierViolation(
            f"{self.nodeid} is in the fast tier but {what}. Fast tests run in process only; give it "
            "the server tier (a PATHS entry in tests/tiers.py, or @pytest.mark.server)."
        )
        self.violations.append(violation)
        return violation

    def _replace(self, owner: Any, name: str, replacement: Any) -> None:
        if hasattr(owner, name):
            self._saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, replacement)

    def __enter__(self) -> FastTierGuard:
        guard = self

        def execute_child(popen: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
            raise guard._refuse(f"started a subprocess ({args!r:.120})")

        def listen(sock: socket.socket, *args: Any) -> None:
            raise guard._refuse(f"listened on a socket ({sock.getsockname()!r})")

        def starter(name: str) -> Any:
            def refuse(*args: Any, **options: Any) -> Any:
                raise guard._refuse(f"started a process (os-level {name}{args[:1]!r:.120})")

            return refuse

        self._replace(subprocess.Popen, "_execute_child", execute_child)
        self._replace(socket.socket, "listen", listen)
        for owner, name in _PROCESS_STARTERS:
            self._replace(owner, name, starter(name))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()
        if exc_type is None and self.violations:
            raise self.violations[0]
