"""``bwp-workshop bootstrap|synth|diff|deploy|destroy|outputs [STACK]``: the CDK stacks."""

from __future__ import annotations

import json

import click

from .. import names

STACK_CHOICE = click.Choice([*names.STACKS, "all"], case_sensitive=False)


@click.command()
def bootstrap() -> None:
    """Bootstrap the target's account and region for the CDK (idempotent)."""
    from ..deploy import bootstrap as run

    run()
    click.echo("bootstrapped")


@click.command()
def synth() -> None:
    """Synthesize the stacks (with the cdk-nag checks) into the state folder's cdk.out."""
    from ..deploy import synth as run

    click.echo(str(run()))


@click.command()
@click.argument("stack", type=STACK_CHOICE, default="all")
def diff(stack: str) -> None:
    """Show what a deploy of STACK (default: all) would change."""
    from ..deploy import diff as run

    click.echo(run(stack))


@click.command()
@click.argument("stack", type=STACK_CHOICE, default="all")
@click.option("--quiet", is_flag=True, help="No progress display.")
def deploy(stack: str, quiet: bool) -> None:
    """Deploy STACK (default: all) and print its outputs as JSON."""
    from ..deploy import deploy as run

    click.echo(json.dumps(run(stack, progress=not quiet), indent=2, sort_keys=True))


@click.command()
@click.argument("stack", type=STACK_CHOICE, default="all")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def destroy(stack: str, yes: bool) -> None:
    """Destroy STACK (default: all) and the stacks that depend on it."""
    from ..deploy import destroy as run

    if not yes:
        click.confirm(f"Destroy {stack} (and the stacks that depend on it)?", abort=True)
    run(stack)
    click.echo(f"destroyed {stack}")


@click.command()
@click.argument("stack", type=STACK_CHOICE, required=False)
def outputs(stack: str | None) -> None:
    """Print the outputs of STACK (default: every deployed stack) as JSON."""
    from ..deploy import outputs as read

    click.echo(json.dumps(read(stack), indent=2, sort_keys=True))


COMMANDS = (bootstrap, synth, diff, deploy, destroy, outputs)
