"""Progress while a cell waits (bwp_workshop.notebook.progress): a status line that says what a
step does, moves its clock while nothing happens, and ends in a finished state; the cdk CLI's
lines (its own words and its resource events) feed it."""

from __future__ import annotations

import threading

import pytest

from bwp_workshop.deploy.cli_output import Progress
from bwp_workshop.notebook.progress import Status, status_line


def final_line(text: str) -> str:
    """What a terminal or JupyterLab shows last: the text after the last carriage return."""
    return text.rstrip("\n").rpartition("\r")[2].strip()


def test_the_status_line_says_what_the_step_does_and_ends_finished(capsys: pytest.CaptureFixture[str]) -> None:
    ticked = threading.Event()
    with Status("Deploying EventStack", tick=0.01) as say:
        say("synthesizing the templates")
        # The clock moves on while nothing new happens (a synth, the CLI starting up).
        while say.ticks < 3:
            ticked.wait(0.01)
        say("cdk deploy:   EventStack: creating CloudFormation changeset...")
    out = capsys.readouterr().out
    assert "Deploying EventStack · synthesizing the templates · 00:00" in out
    assert "Deploying EventStack · cdk deploy: EventStack: creating CloudFormation changeset... · " in out
    assert out.count("\r") > 4  # redrawn in place
    assert final_line(out).startswith("Deploying EventStack · done · 00:")
    assert out.endswith("\n")  # the finished line stays


def test_a_failed_step_leaves_its_line_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), Status("Bootstrapping aws://123456789012/us-east-1", tick=60) as say:
        say("cdk bootstrap")
        raise RuntimeError("the CLI failed")
    assert final_line(capsys.readouterr().out).startswith("Bootstrapping aws://123456789012/us-east-1 · stopped")


def test_a_step_within_a_step_says_so_on_the_outer_line(capsys: pytest.CaptureFixture[str]) -> None:
    with status_line("Deploying InfraStack") as outer, status_line("Bootstrapping", outer) as inner:
        assert inner is outer
        inner("cdk bootstrap: creating the toolkit stack")
    assert "Bootstrapping ·" not in capsys.readouterr().out
    with status_line("quiet", enabled=False) as quiet:
        quiet("nothing shown")
    assert capsys.readouterr().out == ""


def test_the_cli_lines_feed_the_status_line(capsys: pytest.CaptureFixture[str]) -> None:
    printed: list[str] = []
    with Status("Deploying InfraStack, EcsStack", tick=60) as say:
        progress = Progress(True, write=printed.append, status=say)
        progress("InfraStack: deploying... [1/2]")
        assert "InfraStack: deploying... [1/2]" in capsys.readouterr().out
        progress("InfraStack |  3/40 | 7:04:10 AM | CREATE_COMPLETE | AWS::EC2::VPC | Vpc (Vpc8378EB38)")
        progress("EcsStack | 1/20 | 7:04:11 AM | CREATE_IN_PROGRESS | AWS::ECS::Cluster | Cluster (Cluster1)")
        out = capsys.readouterr().out
        assert "InfraStack 3/40, EcsStack 1/20 resources · CREATE_IN_PROGRESS Cluster" in out
        progress("✅  InfraStack")
    out = capsys.readouterr().out
    assert "✅  InfraStack" in out and printed == []  # above the status line, not through a bare print
    assert final_line(out).startswith("Deploying InfraStack, EcsStack · done")
