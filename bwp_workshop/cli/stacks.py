"""``bwp-workshop bootstrap|synth|diff|deploy|destroy|outputs [STACK]``: the CDK stacks."""

from __future__ import annotations

import json

import click

from .. import names
from ..settings import get_settings

STACK_CHOICE = click.Choice([*names.STACKS, "all"], case_sensitive=False)
NO_CACHE = click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    help="Synthesize the stacks afresh instead of reusing the cached assembly (as BWP_ASSEMBLY_CACHE=false).",
)


def _cache(no_cache: bool) -> bool | None:
    """``--no-cache``: False; otherwise None, so the setting BWP_ASSEMBLY_CACHE decides."""
    return False if no_cache else None


@click.command()
@NO_CACHE
def bootstrap(no_cache: bool) -> None:
    """Bootstrap the target's account and region for the CDK (idempotent)."""
    from ..deploy import bootstrap as run

    run(get_settings(), cache=_cache(no_cache))
    click.echo("bootstrapped")


@click.command()
@NO_CACHE
def synth(no_cache: bool) -> None:
    """Synthesize the stacks (with the cdk-nag checks) into the state folder's cdk.out; print
    the assembly's folder (the cached one when nothing that shapes a template changed)."""
    from ..deploy import synth as run

    click.echo(str(run(get_settings(), cache=_cache(no_cache))))


@click.command()
@click.argument("stack", type=STACK_CHOICE, default="all")
@NO_CACHE
def diff(stack: str, no_cache: bool) -> None:
    """Show what a deploy of STACK (default: all) would change."""
    from ..deploy import diff as run

    click.echo(run(get_settings(), stack, cache=_cache(no_cache)))


@click.command()
@click.argument("stack", type=STACK_CHOICE, default="all")
@click.option("--quiet", is_flag=True, help="No progress display.")
@NO_CACHE
def deploy(stack: str, quiet: bool, no_cache: bool) -> None:
    """Deploy STACK (default: all) and print its outputs as JSON."""
    from ..deploy import deploy as run

    click.echo(
        json.dumps(run(get_settings(), stack, progress=not quiet, cache=_cache(no_cache)), indent=2, sort_keys=True)
    )


@click.command()
@click.argument("stack", type=STACK_CHOICE, default="all")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@NO_CACHE
def destroy(stack: str, yes: bool, no_cache: bool) -> None:
    """Destroy STACK (default: all) and the stacks that depend on it."""
    from ..deploy import destroy as run

    if not yes:
        click.confirm(f"Destroy {stack} (and the stacks that depend on it)?", abort=True)
    run(get_settings(), stack, cache=_cache(no_cache))
    click.echo(f"destroyed {stack}")


@click.command()
@click.argument("stack", type=STACK_CHOICE, required=False)
def outputs(stack: str | None) -> None:
    """Print the outputs of STACK (default: every deployed stack) as JSON."""
    from ..deploy import outputs as read

    click.echo(json.dumps(read(get_settings(), stack), indent=2, sort_keys=True))


COMMANDS = (bootstrap, synth, diff, deploy, destroy, outputs)
