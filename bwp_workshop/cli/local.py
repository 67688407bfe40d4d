"""``bwp-workshop local ...``: the local runtime."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from ..local.runtime import LocalRuntime
from ..settings import get_settings


@click.group()
def local() -> None:
    """Start, stop, inspect and reset the local runtime (the local target's AWS)."""


@local.command()
def up() -> None:
    """Start the local services in the background (a no-op for those already running)."""
    for change in LocalRuntime(get_settings()).up():
        click.echo(str(change))


@local.command()
def down() -> None:
    """Stop the local services that `up` started (nothing else)."""
    for change in LocalRuntime(get_settings()).down():
        click.echo(str(change))


@local.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(as_json: bool) -> None:
    """Show each local service: running, stopped or unhealthy, with pid, URL and log file
    (a stopped service's log is its last run's; "-" when it never ran).

    Exits 0 when every service is running, 3 otherwise.
    """
    services = LocalRuntime(get_settings()).status()
    if as_json:
        click.echo(json.dumps([asdict(service) for service in services], indent=2))
    else:
        rows = [
            (
                service.name,
                service.state,
                service.url or f"port {service.port}",
                f"pid {service.pid}" if service.pid else "-",
                service.log_file or "-",
            )
            for service in services
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        for row, service in zip(rows, services, strict=True):
            line = "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=False))
            click.echo(f"{line}  {row[4]}  {service.detail}".rstrip())
    if any(service.state != "running" for service in services):
        raise SystemExit(3)


@local.command()
@click.confirmation_option(prompt="Delete every resource in the local AWS?")
def reset() -> None:
    """Delete every resource in the local AWS; the services keep running."""
    LocalRuntime(get_settings()).reset()
    click.echo("local AWS reset: every resource deleted, cached stack outputs forgotten")


@local.command()
@click.argument("service", default="moto")
@click.option("-n", "--lines", default=40, show_default=True, help="How many of the last lines to show.")
def logs(service: str, lines: int) -> None:
    """Show the end of a local service's log file (default: moto)."""
    runtime = LocalRuntime(get_settings())
    names = [spec.name for spec in runtime.services()]
    if service not in names:
        raise click.BadParameter(f"{service!r} is not a local service; choose from {', '.join(names)}")
    path = runtime.registry.log_dir / f"{service}.log"
    if not path.is_file():
        click.echo(f"{service} has no log yet ({path}); start it with `bwp-workshop local up`.")
        return
    click.echo(f"==> {path} <==")
    for line in path.read_text(errors="replace").splitlines()[-lines:]:
        click.echo(line)
