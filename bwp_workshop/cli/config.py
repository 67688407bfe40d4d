"""``bwp-workshop config ...``: the settings in force."""

from __future__ import annotations

import click

from ..settings import get_settings


@click.group()
def config() -> None:
    """Inspect the workshop configuration (environment and .env)."""


@config.command()
def show() -> None:
    """Print every setting in force, secrets masked."""
    for name, value in get_settings().masked().items():
        click.echo(f"{name:<22} {value}")
