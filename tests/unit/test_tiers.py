"""The fast tier's guard (tests/tiers.py): a process or a listening socket is refused where it
starts, in any thread, and the test fails even when the thread swallowed the refusal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from tests.tiers import STORY, FastTierGuard, FastTierViolation, xdist_scope


def test_a_subprocess_started_by_a_thread_that_swallows_the_refusal_fails_the_test() -> None:
    swallowed: list[BaseException] = []

    def start() -> None:
        try:
            subprocess.run([sys.executable, "-c", "pass"], check=False)
        except FastTierViolation as refused:
            swallowed.append(refused)

    with pytest.raises(FastTierViolation, match="started a subprocess"), FastTierGuard("t::a"):
        thread = threading.Thread(target=start)
        thread.start()
        thread.join()
    assert len(swallowed) == 1


def test_listening_and_os_level_processes_are_refused_at_once() -> None:
    with pytest.raises(FastTierViolation), FastTierGuard("t::b") as guard:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            with pytest.raises(FastTierViolation, match="listened on a socket"):
                sock.listen()
        with pytest.raises(FastTierViolation, match="started a process"):
            os.system("true")
        with pytest.raises(FastTierViolation, match="started a process"):
            os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], dict(os.environ))
    assert len(guard.violations) == 3


def test_the_guard_puts_everything_back() -> None:
    before = (subprocess.Popen._execute_child, socket.socket.listen, os.fork, os.system)  # type: ignore[attr-defined]
    with FastTierGuard("t::c"):
        assert socket.socket.listen is not before[1]
    assert (subprocess.Popen._execute_child, socket.socket.listen, os.fork, os.system) == before  # type: ignore[attr-defined]


def test_the_story_and_the_cdk_tier_each_run_on_one_worker_and_the_rest_anywhere() -> None:
    """Every test that asks for the story is in a STORY module (a test elsewhere would run the
    whole story again on another worker); the cdk tier is one group; other tests go alone."""
    from bwp_workshop.testing.checkout import CHECKOUT

    fixture = "story" + ": dict["  # a test's parameter (spelled apart, so this module does not match)
    asking = {
        path.relative_to(CHECKOUT).as_posix()
        for path in (CHECKOUT / "tests").rglob("test_*.py")
        if fixture in path.read_text()
    }
    assert asking == set(STORY)
    assert {xdist_scope(f"{module}::test") for module in STORY} == {"story"}
    assert xdist_scope("tests/stacks/test_templates.py::test") == "cdk"
    assert xdist_scope("tests/notebooks/test_runner.py::test") == "tests/notebooks/test_runner.py::test"
