"""``bwp-workshop run``: the workshop's notebooks, headless."""

from __future__ import annotations

from pathlib import Path

import click

from ..notebook.runner import NotebookResult, raise_for_failure, run_notebooks
from ..settings import get_settings


@click.command("run")
@click.option("--target", type=click.Choice(["local", "aws"]), help="Override BWP_TARGET for this run.")
@click.option("--only", "only", multiple=True, metavar="NN", help="Run only these notebooks (repeatable).")
@click.option("--output-dir", type=click.Path(path_type=Path), help="Executed copies (default build/notebooks).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="aws target only: synthesize, check the templates and print what would be deployed and called, "
    "without calling AWS.",
)
def run(target: str | None, only: tuple[str, ...], output_dir: Path | None, dry_run: bool) -> None:
    """Execute the notebooks in order with papermill and print a table of the outcome."""
    settings = get_settings(**({"target": target} if target else {}))
    if dry_run:
        from ..notebook.dry_run import dry_run as rehearse

        rehearsal = rehearse(settings)
        click.echo(rehearsal.report())
        if not rehearsal.ok:
            raise SystemExit(1)
        return
    click.echo(f"Running the workshop notebooks on the {settings.target} target")

    def show(result: NotebookResult) -> None:
        colour = "green" if result.status == "passed" else "red"
        click.echo(f"  {result.name:<36} " + click.style(f"{result.status:<8}", fg=colour) + f"{result.seconds:7.1f} s")

    results = run_notebooks(settings, target=settings.target, only=only, output_dir=output_dir, on_result=show)
    for result in results:
        if result.status == "not run":
            click.echo(f"  {result.name:<36} not run")
    total = sum(result.seconds for result in results)
    click.echo(f"  {'total':<36} {'':<8}{total:7.1f} s")
    raise_for_failure(results)
