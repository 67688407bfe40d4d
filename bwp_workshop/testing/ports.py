"""Free ports for the services tests and benchmarks start, each pytest-xdist worker from its
own slice."""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading

#: Ports handed to services that start later: below Linux's ephemeral range (32768-60999), from
#: which the OS picks ports for kernels' sockets and outgoing connections in the meantime. Each
#: pytest-xdist worker gets its own slice.
PORTS = range(20000, 32768)


def _port_slice() -> range:
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not (worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 0):
        return PORTS
    size = len(PORTS) // int(count)
    start = PORTS.start + size * (int(worker[2:]) % int(count))
    return range(start, start + size)


_slice = _port_slice()
_start = random.randrange(len(_slice))  # two processes on one slice rarely meet
_candidates = itertools.cycle([*_slice[_start:], *_slice[:_start]])
_lock = threading.Lock()
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on right now and this process has not handed out before (see
    :data:`PORTS`)."""
    with _lock:
        for _ in range(len(_slice)):
            port = next(_candidates)
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port left in {_slice}")
