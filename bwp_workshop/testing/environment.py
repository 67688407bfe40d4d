"""The machine's workshop and AWS variables, which tests and benchmarks must not see, and a
clean environment for subprocesses."""

from __future__ import annotations

import os


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
