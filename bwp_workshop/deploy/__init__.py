"""Deploying the workshop's stacks with the pinned cdk CLI, from notebooks and the CLI:
``commands`` (synth, bootstrap, diff, deploy, destroy, outputs), ``cdk`` (running the CLI)
and ``cli_output`` (its output read for a person). Notebooks call ``deploy.deploy(...)``."""

from .commands import (
    ALL,
    assembly_dir,
    bootstrap,
    deploy,
    destroy,
    diff,
    is_bootstrapped,
    outputs,
    planned_changes,
    stack_names,
    synth,
)

__all__ = [
    "ALL",
    "assembly_dir",
    "bootstrap",
    "deploy",
    "destroy",
    "diff",
    "is_bootstrapped",
    "outputs",
    "planned_changes",
    "stack_names",
    "synth",
]
