"""One in-process synth of the workshop's app per test session (one jsii process), shared by
the template and cdk-nag tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bwp_workshop import names
from bwp_workshop.settings import Settings
from bwp_workshop.testing.checkout import CHECKOUT
from bwp_workshop.testing.environment import machine_settings

BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/aws.partner/buywithprime/supadupa-test"
#: A distinctive client secret: it must appear in no template.
CLIENT_SECRET = "cs-9f8e7d6c5b4a-never-in-a-template"
CLIENT_ID = "client-id-in-settings-only"
#: Built Lambda folders are cached in the checkout's state folder, so test sessions reuse them.
BUILD_DIR = CHECKOUT / ".bwp" / "build"


def stack_settings(tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "project_dir": CHECKOUT,
        "state_dir": tmp / ".bwp",
        "build_dir": BUILD_DIR,
        "event_bus_arn": BUS_ARN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "lambda_timeout": 40,
        "max_receive_count": 4,
        "log_retention_days": 14,
        **overrides,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in machine_settings():
            patch.delenv(name)
        return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Synthesized:
    settings: Settings
    outdir: Path
    templates: dict[str, object]  # stack name -> aws_cdk.assertions.Template
    raw: dict[str, dict]  # stack name -> template JSON

    def report(self) -> dict:
        return json.loads((self.outdir / "validation-report.json").read_text())


def synthesize(settings: Settings, outdir: Path) -> Synthesized:
    from aws_cdk import assertions

    from bwp_workshop.stacks.app import build_app

    app = build_app(settings, outdir=outdir)
    assembly = app.synth()
    stacks = {stack.stack_name: stack for stack in assembly.stacks}
    raw = {name: stack.template for name, stack in stacks.items()}
    templates = {name: assertions.Template.from_json(template) for name, template in raw.items()}
    return Synthesized(settings, outdir, templates, raw)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The three stacks, synthesized once (cdk-nag checks on) for the local target."""
    tmp = tmp_path_factory.mktemp("stacks")
    yield synthesize(stack_settings(tmp), tmp / "cdk.out")


@pytest.fixture(scope="session")
def aws_synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The three stacks synthesized for the aws target (the same jsii process)."""
    tmp = tmp_path_factory.mktemp("stacks-aws")
    return synthesize(stack_settings(tmp, target="aws", client_id="", client_secret=""), tmp / "cdk.out")


@pytest.fixture(scope="session")
def with_certificate(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stacks with an HTTPS certificate and a domain name configured."""
    tmp = tmp_path_factory.mktemp("stacks-https")
    settings = stack_settings(
        tmp,
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
        app_domain_name="Install.SupaDupa.example",
    )
    return synthesize(settings, tmp / "cdk.out")


def resources(synthesized: Synthesized, stack: str, kind: str) -> dict[str, dict]:
    """The resources of ``kind`` in ``stack``'s template, by logical id."""
    return {k: v for k, v in synthesized.raw[stack]["Resources"].items() if v["Type"] == kind}


def only(synthesized: Synthesized, stack: str, kind: str, prefix: str = "") -> dict:
    """The one resource of ``kind`` (whose logical id starts with ``prefix``) in ``stack``."""
    found = {k: v for k, v in resources(synthesized, stack, kind).items() if k.startswith(prefix)}
    assert len(found) == 1, f"{stack} has {len(found)} {kind} {prefix}"
    return next(iter(found.values()))


def task_container(synthesized: Synthesized) -> dict:
    definition = only(synthesized, names.ECS_STACK, "AWS::ECS::TaskDefinition")["Properties"]
    (container,) = definition["ContainerDefinitions"]
    return container


def policy_actions(synthesized: Synthesized, stack: str, role_fragment: str) -> list[tuple[set[str], str]]:
    """(actions, resource JSON) of each statement of the policies attached to a role."""
    found = []
    for policy in resources(synthesized, stack, "AWS::IAM::Policy").values():
        if role_fragment not in json.dumps(policy["Properties"]["Roles"]):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert statement["Effect"] == "Allow"
            found.append((set(actions), json.dumps(statement["Resource"])))
    return found
