"""``bwp-workshop site``: the workshop as a web page (``bwp_workshop.site``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import get_settings


@click.command("site")
@click.option(
    "--executed",
    "executed_dir",
    type=click.Path(path_type=Path),
    help="The executed notebooks (default build/notebooks, where `bwp-workshop run` writes them).",
)
@click.option("--out", "site_dir", type=click.Path(path_type=Path), help="The site's folder (default build/site).")
@click.option("--check", is_flag=True, help="Only say whether every notebook has an executed copy (exit 1 if not).")
@click.option(
    "--studio",
    "studio_dir",
    type=click.Path(path_type=Path),
    help="Instead, write the workshop in AWS Workshop Studio's layout (contentspec.yaml, content/, static/) here.",
)
def site(executed_dir: Path | None, site_dir: Path | None, check: bool, studio_dir: Path | None) -> None:
    """Build the workshop's web page from the executed notebooks, the README and docs/ (offline;
    the notebooks are not run again)."""
    from ..site import build, default_executed_dir, executed_notebooks

    project_dir = get_settings().project_dir
    executed_dir = executed_dir or default_executed_dir(project_dir)
    found = executed_notebooks(project_dir, executed_dir)
    if found.stale:
        click.echo(
            f"Note: {', '.join(found.stale)} changed since {executed_dir} was written; "
            "`make workshop` runs the notebooks again.",
            err=True,
        )
    if check:
        if found.missing:
            click.echo(f"No executed copy of {', '.join(found.missing)} in {executed_dir}.", err=True)
            raise SystemExit(1)
        click.echo(f"Every notebook has an executed copy in {executed_dir}.")
        return
    if studio_dir is not None:
        from ..studio import export

        click.echo(f"The workshop in Workshop Studio's layout: {export(project_dir, executed_dir, studio_dir)}")
        return
    built = build(project_dir, executed_dir=executed_dir, site_dir=site_dir)
    click.echo(f"The workshop's web page: {built / 'index.html'}")
