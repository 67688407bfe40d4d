"""Stack outputs as the deploy step recorded them (``cdk deploy -O .bwp/outputs.json``):
``{"InfraStack": {"TokenTableName": "...", ...}, "EcsStack": {...}, ...}``.

The file is the one place later steps (the local app, the event runner, the notebooks) learn
where the deployed resources are, so any of them can run in a fresh process.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ConfigurationError
from .settings import Settings


def outputs_file(settings: Settings) -> Path:
    return settings.bwp_dir / "outputs.json"


def load_outputs(settings: Settings) -> dict[str, dict[str, str]]:
    """Every recorded stack's outputs; empty when nothing is deployed yet."""
    path = outputs_file(settings)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        raise ConfigurationError(
            f"{path} is not valid JSON.", hint="Deploy again (it is rewritten), or delete the file."
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} does not hold stack outputs.", hint="Deploy again, or delete the file.")
    return {
        str(stack): {str(k): str(v) for k, v in values.items()}
        for stack, values in data.items()
        if isinstance(values, dict)
    }


def stack_output(settings: Settings, stack: str, key: str) -> str:
    """One output, or an error that says which stack to deploy."""
    value = load_outputs(settings).get(stack, {}).get(key)
    if not value:
        raise ConfigurationError(
            f"{stack} output {key} is not recorded in {outputs_file(settings)}.",
            hint=f"Deploy {stack} first: `bwp-workshop deploy {stack}` (or run its notebook).",
        )
    return value


def has_stack(settings: Settings, stack: str) -> bool:
    return bool(load_outputs(settings).get(stack))
