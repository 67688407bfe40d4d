"""``bwp-workshop analytics ...``: the analytics SQL's answers, the store's partitions, and a
merchant's data deleted from the store (uninstall, a privacy request)."""

from __future__ import annotations

import click

from ..settings import get_settings


@click.group()
def analytics() -> None:
    """SupaDupa's metrics over the analytics store (Athena on aws, DuckDB on local)."""


@analytics.command()
@click.option("--first", default=None, help="First day (YYYY-MM-DD); default: every day.")
@click.option("--last", default=None, help="Last day (YYYY-MM-DD).")
def answer(first: str | None, last: str | None) -> None:
    """Print each metric's answer and the bytes its query read."""
    from ..steps import analytics_lake

    answers = analytics_lake.answer(get_settings(), first=first, last=last)
    for name, frame in answers.frames.items():
        click.echo(f"\n{name} ({answers.scanned[name]:,} bytes read)")
        click.echo(frame.to_string(index=False) if not frame.empty else "  no rows")


@analytics.command()
def partitions() -> None:
    """List the store's partitions: date, event type, objects, bytes."""
    from ..steps import analytics_lake

    frame = analytics_lake.partitions(get_settings())
    click.echo(frame.to_string(index=False) if not frame.empty else "no objects yet")


@analytics.command("delete-merchant")
@click.argument("installation_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_merchant(installation_id: str, yes: bool) -> None:
    """Delete an installation's rows from every object of the store, and every older version."""
    from ..steps import analytics_lake

    if not yes:
        click.confirm(f"Delete every analytics row of {installation_id}?", abort=True)
    done = analytics_lake.delete_merchant(installation_id, get_settings())
    click.echo(", ".join(f"{what}: {count}" for what, count in done.items()))
