"""The ``bwp-workshop`` command. Each group lives in its own module and is registered here."""

from __future__ import annotations

from typing import Any

import click

from .. import __version__
from ..errors import WorkshopError
from .analytics import analytics
from .config import config
from .events import events
from .local import local
from .run import run
from .sandbox import sandbox
from .site import site
from .stacks import COMMANDS as STACK_COMMANDS


class WorkshopGroup(click.Group):
    """Turns a ``WorkshopError`` into its message and exit code 1 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkshopError as error:
            click.secho(f"Error: {error}", err=True, fg="red")
            ctx.exit(1)


@click.group(cls=WorkshopGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bwp-workshop")
def main() -> None:
    """The Buy with Prime partner integration workshop.

    Runs on the `local` target (moto server and a Buy with Prime sandbox on this machine,
    the default) or the `aws` target (your account and the real Buy with Prime), chosen
    with BWP_TARGET in the environment or .env.
    """


main.add_command(local)
main.add_command(config)
main.add_command(run)
main.add_command(events)
main.add_command(sandbox)
main.add_command(analytics)
main.add_command(site)
for command in STACK_COMMANDS:
    main.add_command(command)
