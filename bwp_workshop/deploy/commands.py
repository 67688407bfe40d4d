"""Deploying the workshop's stacks with the pinned cdk CLI, from notebooks and the CLI.

``synth`` builds the cloud assembly in process, once per change of what shapes the templates
(cached under ``<state dir>/cdk.out``, see :mod:`.assembly`); ``diff``, ``deploy`` and
``destroy`` hand that assembly to the CLI (``--app <assembly>``), so the CLI does not start
the Python app again. ``cache=False`` (``--no-cache``) synthesizes afresh. ``deploy`` returns
the stacks' outputs and keeps them in ``<state dir>/outputs.json``, which ``outputs`` reads.

On the local target the CLI talks to the moto server of the local runtime: ``deploy``
bootstraps it when needed and creates the partner event source and bus that Buy with Prime
would create. CLI failures become a ``DeployError`` that names the stack, the failing resource
and the likely fix.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import aws, names
from ..errors import ConfigurationError, DeployError
from ..notebook.progress import Status, status_line
from ..outputs import load_outputs, write_outputs
from ..settings import Settings
from ..targets import choose_target
from . import assembly, prerequisites
from .cdk import CdkCliError, run_cdk
from .cli_output import Progress, credentials_hint, explain_failure, summarize_diff

#: Pass as ``stack`` to act on every stack.
ALL = "all"
#: Name of the stack ``cdk bootstrap`` creates.
TOOLKIT_STACK = "CDKToolkit"
#: Stacks whose resources read the client credentials secret.
SECRET_USERS = (names.ECS_STACK, names.EVENT_STACK)
#: Outputs the CDK adds for cross-stack references; not part of a stack's documented outputs.
_INTERNAL_OUTPUT = re.compile(r"^ExportsOutput")


# --- paths and names -----------------------------------------------------------------------


def assembly_dir(settings: Settings) -> Path:
    """The folder under which ``synth`` keeps the cloud assemblies (one folder each)."""
    return assembly.cache_root(settings)


def stack_names(stack: str | Iterable[str] | None) -> list[str]:
    """The stacks meant by ``stack`` (a name, names, ``"all"`` or None), in deploy order."""
    wanted = [ALL] if stack is None else [stack] if isinstance(stack, str) else list(stack)
    if ALL in (name.lower() for name in wanted):
        return list(names.STACKS)
    by_lower = {name.lower(): name for name in names.STACKS}
    unknown = [name for name in wanted if name.lower() not in by_lower]
    if unknown:
        raise DeployError(
            f"Unknown stack {', '.join(unknown)}.", hint=f"Choose from {', '.join(names.STACKS)} or '{ALL}'."
        )
    chosen = {by_lower[name.lower()] for name in wanted}
    return [name for name in names.STACKS if name in chosen]


def _one_stack(stack: str | Iterable[str] | None) -> bool:
    """Whether ``stack`` names a single stack (a name other than ``"all"``); a list of names,
    ``"all"`` or None mean several, whose outputs come back keyed by stack."""
    return isinstance(stack, str) and stack.lower() != ALL


# --- outputs -------------------------------------------------------------------------------


def _public(outputs: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in outputs.items() if not _INTERNAL_OUTPUT.match(key)}


def _read_cache(settings: Settings) -> dict[str, dict[str, str]]:
    try:
        return load_outputs(settings)
    except ConfigurationError:
        return {}  # a damaged cache is rebuilt from CloudFormation


def _deployed_outputs(settings: Settings, stack: str) -> dict[str, str] | None:
    """The outputs of ``stack`` as CloudFormation reports them, or None when it is not deployed."""
    try:
        described = aws.client("cloudformation", settings).describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise DeployError(f"Could not read stack {stack}: {error}", hint=credentials_hint(settings)) from None
    except BotoCoreError as error:
        raise DeployError(f"Could not reach CloudFormation: {error}", hint=credentials_hint(settings)) from None
    if not described or described[0]["StackStatus"].startswith("DELETE_COMPLETE"):
        return None
    return _public({o["OutputKey"]: o["OutputValue"] for o in described[0].get("Outputs", [])})


def outputs(settings: Settings, stack: str | Iterable[str] | None = None) -> dict[str, Any]:
    """Stack outputs from ``.bwp/outputs.json`` (refreshed from CloudFormation for a stack the
    file does not have). ``outputs("InfraStack")`` gives that stack's ``{key: value}``;
    ``outputs()`` gives ``{stack: {key: value}}`` for every deployed stack."""
    cache = _read_cache(settings)
    wanted = stack_names(stack)
    changed = False
    for name in wanted:
        if name not in cache:
            found = _deployed_outputs(settings, name) if choose_target(settings).aws_answers() else None
            if found is not None:
                cache[name] = found
                changed = True
    if changed:
        write_outputs(settings, cache)
    if not _one_stack(stack):
        return {name: _public(cache[name]) for name in wanted if name in cache}
    name = wanted[0]
    if name not in cache:
        raise DeployError(
            f"{name} is not deployed on the {settings.target} target (no outputs).",
            hint=f"Deploy it first: `bwp-workshop deploy {name}` (or deploy('{name}') in a notebook).",
            stack=name,
        )
    return _public(cache[name])


# --- preflight -----------------------------------------------------------------------------


def is_bootstrapped(settings: Settings) -> bool:
    """Whether the target's account and region have the CDK toolkit stack."""
    return _deployed_outputs(settings, TOOLKIT_STACK) is not None


def _missing_event_bus_error() -> DeployError:
    return DeployError(
        "EventStack needs EVENT_BUS_ARN, the partner event bus it routes Buy with Prime events from; it is not set.",
        hint="Subscribe to Buy with Prime events (an event subscription with an EventBridge destination), "
        "associate the partner event source with a bus (bwp_workshop.deploy.prerequisites.ensure_partner_event_bus, "
        "which returns the ARN; the events notebook does both), then set EVENT_BUS_ARN in .env. "
        "InfraStack and EcsStack deploy without it.",
        stack=names.EVENT_STACK,
    )


def _check(settings: Settings, stacks: list[str]) -> None:
    """Refuse early (before synth) what cannot deploy: EventStack without EVENT_BUS_ARN, the
    local AWS down, EcsStack with neither client credentials nor their secret."""
    if names.EVENT_STACK in stacks and not settings.event_bus_arn:
        raise _missing_event_bus_error()
    choose_target(settings).require_reachable()
    has_credentials = bool(settings.client_id and settings.client_secret.get_secret_value())
    if names.ECS_STACK in stacks and not has_credentials and not prerequisites.client_credentials_stored(settings):
        raise DeployError(
            f"EcsStack injects the app's client id and secret from the secret {names.CLIENT_SECRET_NAME}, "
            "which does not exist, and BWP_CLIENT_ID/BWP_CLIENT_SECRET are not set.",
            hint="Complete the app onboarding first: put the client id and secret Buy with Prime issued "
            "(the sandbox on the local target) into .env; deploy then stores them in Secrets Manager.",
            stack=names.ECS_STACK,
        )


def _prepare(settings: Settings, stacks: list[str], app: Path, status: Status) -> None:
    """What must exist before the stacks deploy: the local bootstrap, the partner bus (created
    on local, checked on aws), the client credentials secret (written from the settings)."""
    if choose_target(settings).bootstrap_before_deploy():
        bootstrap(settings, app=app, status=status)
    if names.EVENT_STACK in stacks:
        status("checking the partner event bus")
        source = prerequisites.source_name_of_bus(settings.event_bus_arn)
        arn = prerequisites.ensure_partner_event_bus(settings, source)
        if arn != settings.event_bus_arn:
            raise DeployError(
                f"EVENT_BUS_ARN is {settings.event_bus_arn}, but the bus of {source} here is {arn}.",
                hint=f"Set EVENT_BUS_ARN={arn} (account and region must be those you deploy to).",
                stack=names.EVENT_STACK,
            )
    has_credentials = bool(settings.client_id and settings.client_secret.get_secret_value())
    if has_credentials and any(stack in SECRET_USERS for stack in stacks):
        status("storing the client credentials in Secrets Manager")
        prerequisites.store_client_credentials(settings)


def _cdk(
    action: str, args: list[str], settings: Settings, stacks: list[str], *, app: Path, progress: Progress | None = None
) -> str:
    try:
        result = run_cdk(args, settings, app=str(app), on_output=progress)
    except CdkCliError as error:
        raise explain_failure(action, stacks, error.output or str(error), settings) from None
    return result.stdout + result.stderr


# --- the commands --------------------------------------------------------------------------


def _settings_for_deployed(settings: Settings) -> Settings:
    """``settings``, with EVENT_BUS_ARN taken from the deployed EventStack when it is not set,
    so that diff and destroy still see that stack."""
    if settings.event_bus_arn:
        return settings
    deployed = _deployed_outputs(settings, names.EVENT_STACK) if choose_target(settings).aws_answers() else None
    arn = (deployed or {}).get(names.OUT_EVENT_BUS_ARN, "")
    return settings.model_copy(update={"event_bus_arn": arn}) if arn else settings


def synth(settings: Settings, *, cache: bool | None = None) -> Path:
    """The cloud assembly of the app (cdk-nag checks included): the cached one when nothing
    that shapes a template changed, else synthesized in process; returns its folder.
    ``cache=False`` (default: ``BWP_ASSEMBLY_CACHE``) synthesizes afresh. Stacks other than
    EventStack synthesize without EVENT_BUS_ARN."""
    return assembly.assembly(settings, functools.partial(_build, settings), cache=cache)


def _build(settings: Settings, out: Path) -> None:
    """Synthesize the app into ``out``."""
    from ..stacks.app import build_app

    out.mkdir(parents=True, exist_ok=True)
    try:
        build_app(settings, outdir=out).synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error) and "Validation failed" not in str(error):
            raise
        raise _validation_error(out) from None
    assembly.prune_assets(out)


def _validation_error(out: Path) -> DeployError:
    findings = []
    try:
        report = json.loads((out / "validation-report.json").read_text())
        for plugin in report.get("pluginReports", []):
            for violation in plugin.get("violations", []):
                paths = ", ".join(c["constructPath"] for c in violation.get("violatingConstructs", []))
                findings.append(
                    f"{plugin['pluginName']}::{violation['ruleName']} at {paths}: {violation['description']}"
                )
    except (OSError, ValueError, KeyError):
        findings.append("(no validation report)")
    return DeployError(
        "The stacks fail their checks (cdk-nag AWS Solutions and template validation):\n  " + "\n  ".join(findings),
        hint="Fix the resource, or acknowledge the rule with a written reason (bwp_workshop.stacks.nag.acknowledge).",
    )


def bootstrap(
    settings: Settings,
    *,
    app: Path | None = None,
    cache: bool | None = None,
    progress: bool = True,
    status: Status | None = None,
) -> None:
    """``cdk bootstrap`` the target's account and region (idempotent). ``app``: an assembly
    ``synth`` already wrote (the CLI reads one even when told the environment); ``cache`` as
    for :func:`synth`. A status line says what it does while it runs (``progress=False``: none;
    ``status``: the caller's line)."""
    choose_target(settings).require_reachable()
    environment = f"aws://{aws.account_id(settings)}/{settings.region}"
    with status_line(f"Bootstrapping {environment}", status, enabled=progress) as say:
        if app is None:
            say("synthesizing the templates (reused when nothing changed)")
            app = synth(settings, cache=cache)
        say("cdk bootstrap: creating the toolkit stack")
        shown = Progress(progress, status=say)
        _cdk("Bootstrap", ["bootstrap", environment], settings, [TOOLKIT_STACK], app=app, progress=shown)


def diff(
    settings: Settings,
    stack: str | Iterable[str] | None = ALL,
    *,
    cache: bool | None = None,
    progress: bool = True,
) -> str:
    """What ``deploy(stack)`` would change, as the CLI prints it (``cache`` as for :func:`synth`);
    a status line says what it does while it runs (``progress=False``: none)."""
    settings = _settings_for_deployed(settings)
    stacks = stack_names(stack)
    if names.EVENT_STACK in stacks and not settings.event_bus_arn:
        if _one_stack(stack) or (stack is not None and not isinstance(stack, str)):
            raise _missing_event_bus_error()
        stacks.remove(names.EVENT_STACK)
    if not stacks:
        return ""
    choose_target(settings).require_reachable()
    with status_line(f"Comparing {', '.join(stacks)} with what is deployed", enabled=progress) as say:
        say("synthesizing the templates (reused when nothing changed)")
        app = synth(settings, cache=cache)
        say("cdk diff")
        return _cdk("Diff", ["diff", *stacks], settings, stacks, app=app, progress=Progress(progress, status=say))


def planned_changes(
    settings: Settings,
    stack: str | Iterable[str] | None = ALL,
    *,
    cache: bool | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """:func:`diff` summarized by :func:`summarize_diff` (empty when nothing would change)."""
    return summarize_diff(diff(settings, stack, cache=cache, progress=progress))


def deploy(
    settings: Settings,
    stack: str | Iterable[str] | None = ALL,
    progress: bool = True,
    *,
    cache: bool | None = None,
) -> dict[str, Any]:
    """Deploy ``stack`` (with the stacks it depends on), a list of stacks or ``"all"``; return
    the outputs: ``{key: value}`` for one stack, ``{stack: {key: value}}`` for a list or all.
    ``cache`` as for :func:`synth`."""
    stacks = stack_names(stack)
    _check(settings, stacks)
    fresh = settings.bwp_dir / "outputs.deploy.json"
    fresh.unlink(missing_ok=True)
    args = ["deploy", *stacks, "--require-approval", "never", "--outputs-file", str(fresh), "--progress", "events"]
    if len(stacks) > 1:
        args += ["--concurrency", "2"]
    with status_line(f"Deploying {', '.join(stacks)}", enabled=progress) as say:
        say("synthesizing the templates (reused when nothing changed)")
        app = synth(settings, cache=cache)
        _prepare(settings, stacks, app, say)
        say("cdk deploy: publishing the assets")
        _cdk("Deploy", args, settings, stacks, app=app, progress=Progress(progress, write=print, status=say))
    deployed = json.loads(fresh.read_text()) if fresh.is_file() else {}
    fresh.unlink(missing_ok=True)
    recorded = _read_cache(settings)
    for name, values in deployed.items():
        recorded[name] = _public(values)
    write_outputs(settings, recorded)
    if not _one_stack(stack):
        return {name: recorded[name] for name in stacks if name in recorded}
    return dict(recorded.get(stacks[0], {}))


def destroy(
    settings: Settings,
    stack: str | Iterable[str] | None = ALL,
    progress: bool = True,
    *,
    cache: bool | None = None,
) -> None:
    """Destroy ``stack`` and the stacks that depend on it (or all); forget their outputs.
    ``cache`` as for :func:`synth`."""
    settings = _settings_for_deployed(settings)
    stacks = stack_names(stack)
    choose_target(settings).require_reachable()
    dependents = {names.INFRA_STACK: list(names.STACKS)}.get(stacks[0], stacks) if len(stacks) == 1 else stacks
    if names.EVENT_STACK in dependents and not settings.event_bus_arn:
        dependents = [name for name in dependents if name != names.EVENT_STACK]  # not deployed: nothing to do
    if not dependents:
        return  # never hand the CLI an empty selection
    with status_line(f"Destroying {', '.join(dependents)}", enabled=progress) as say:
        say("synthesizing the templates (reused when nothing changed)")
        app = synth(settings, cache=cache)
        say("cdk destroy")
        shown = Progress(progress, write=print, status=say)
        _cdk("Destroy", ["destroy", *dependents, "--force"], settings, dependents, app=app, progress=shown)
    recorded = _read_cache(settings)
    for name in dependents:
        recorded.pop(name, None)
    write_outputs(settings, recorded)
