"""Stack outputs as the deploy step recorded them (``cdk deploy -O .bwp/outputs.json``):
``{"InfraStack": {"TokenTableName": "...", ...}, "EcsStack": {...}, ...}``.

The file is the one place later steps (the local app, the event runner, the notebooks) learn
where the deployed resources are, so any of them can run in a fresh process. It is a cache of
what the target holds: stacks found gone are *forgotten* (``outputs.forgotten.json`` keeps
why), so a later step that needs one says what happened and which notebooks to run again.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ConfigurationError
from .names import ECS_STACK
from .notebook_catalog import stack_notebooks
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


def _write_json(path: Path, data: dict) -> None:
    """Atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    temporary.replace(path)


def write_outputs(settings: Settings, data: dict[str, dict[str, str]]) -> None:
    """Replace the recorded outputs; a stack recorded again is no longer forgotten."""
    _write_json(outputs_file(settings), data)
    lost = forgotten(settings)
    if any(stack in lost for stack in data):
        _write_json(_forgotten_file(settings), {stack: why for stack, why in lost.items() if stack not in data})


def _forgotten_file(settings: Settings) -> Path:
    return settings.bwp_dir / "outputs.forgotten.json"


def forgotten(settings: Settings) -> dict[str, str]:
    """Stacks whose outputs were dropped because the target no longer has them: ``{stack: why}``."""
    try:
        data = json.loads(_forgotten_file(settings).read_text())
    except (OSError, ValueError):
        return {}
    return {str(stack): str(why) for stack, why in data.items()} if isinstance(data, dict) else {}


def forget(settings: Settings, stacks: tuple[str, ...] | list[str], why: str) -> None:
    """Drop the outputs of ``stacks`` (the target no longer has them) and remember ``why``."""
    cached = load_outputs(settings)
    _write_json(outputs_file(settings), {stack: values for stack, values in cached.items() if stack not in stacks})
    _write_json(_forgotten_file(settings), {**forgotten(settings), **dict.fromkeys(stacks, why)})


def clear_outputs(settings: Settings) -> None:
    """Forget every recorded output, and that any stack was forgotten (a fresh state folder)."""
    outputs_file(settings).unlink(missing_ok=True)
    _forgotten_file(settings).unlink(missing_ok=True)


#: What else goes with a stack, by the notebook that makes it again: the install's token pair
#: (04) lives in InfraStack's token table, and an install needs the app (EcsStack).
_ALSO_RERUN = {ECS_STACK: ("04",)}


def notebooks_to_rerun(project_dir: Path, stacks: tuple[str, ...] | list[str]) -> list[str]:
    """The notebooks that make ``stacks`` (and what depends on them) again, in order."""
    deployed_by = stack_notebooks(project_dir)
    wanted = {deployed_by[stack] for stack in stacks if stack in deployed_by}
    return sorted(wanted | {number for stack in stacks for number in _ALSO_RERUN.get(stack, ())})


def rerun_hint(numbers: tuple[str, ...] | list[str]) -> str:
    """What to say when the notebooks ``numbers`` (:func:`notebooks_to_rerun`) must run again."""
    plural = "s" if len(numbers) > 1 else ""
    return f"run notebook{plural} {', '.join(numbers)} again (each is safe to re-run), or `make workshop`."


def stack_output(settings: Settings, stack: str, key: str) -> str:
    """One output, or an error that says which stack to deploy."""
    value = load_outputs(settings).get(stack, {}).get(key)
    lost = forgotten(settings)
    if not value and stack in lost:
        raise ConfigurationError(
            f"{stack} no longer exists on the {settings.target} target ({lost[stack]}).",
            hint=rerun_hint(notebooks_to_rerun(settings.project_dir, list(lost))),
        )
    if not value:
        raise ConfigurationError(
            f"{stack} output {key} is not recorded in {outputs_file(settings)}.",
            hint=f"Deploy {stack} first: run notebook {stack_notebooks(settings.project_dir).get(stack, '')} "
            f"(or `bwp-workshop deploy {stack}`).",
        )
    return value


def has_stack(settings: Settings, stack: str) -> bool:
    return bool(load_outputs(settings).get(stack))
