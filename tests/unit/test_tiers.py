"""The fast tier's guard (tests/tiers.py): a process or a listening socket is refused where it
starts, in any thread, and the test fails even when the thread swallowed the refusal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from tests.tiers import FastTierGuard, FastTierViolation


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
