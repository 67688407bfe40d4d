"""Free ports, the machine's workshop and AWS variables (which tests and benchmarks must not
see), a clean environment for subprocesses, and the checkout."""

from __future__ import annotations

import os
import socket
from pathlib import Path

#: The checkout this package runs from (an editable install): cdk.json, node_modules, lambdas/.
CHECKOUT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_settings() -> list[str]:
    """The workshop and AWS variables of the machine's environment, which tests must not see."""
    return [name for name in os.environ if name.startswith(("BWP_", "AWS_")) or name == "EVENT_BUS_ARN"]


def clean_environ(**extra: str) -> dict[str, str]:
    """os.environ without workshop or AWS variables, plus ``extra``: for subprocesses."""
    hidden = set(machine_settings())
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    env.update(
        AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent"
    )
    env.update(extra)
    return env
