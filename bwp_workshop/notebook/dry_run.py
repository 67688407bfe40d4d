"""The aws target rehearsed without an AWS call: ``bwp-workshop run --target aws --dry-run``.

It synthesizes the three stacks for the aws target (EventStack with a placeholder partner bus
when ``EVENT_BUS_ARN`` is not set yet), runs the template checks (cfn-lint, checkov; cdk-nag
runs with the synth), and prints what the workshop would deploy (per stack: its resources, what
each role is granted, its outputs) and what each notebook would call. The local tool checks of
the preflight run; the credentials check does not (it is an AWS call). An attendee can run it
before the workshop day to check the machine: Python, Node, the pinned cdk CLI, the package
index for the Lambda's wheels, checkov, and Docker or not.

No AWS client is made: a test runs the dry run with botocore's request sending forbidden.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import names
from .. import notebook_catalog as catalog
from ..settings import Settings
from ..stacks.template_checks import CheckResult, check_templates
from ..steps.preflight import Check, check_cdk_versions, check_docker, check_image_build, check_node, check_python

#: What the plan says of a notebook whose effects are not described below.
NO_EFFECTS = "(not described: see the notebook)"
#: The partner bus EventStack is synthesized with when EVENT_BUS_ARN is not set yet.
PLACEHOLDER_BUS = "arn:aws:events:{region}:000000000000:event-bus/aws.partner/buywithprime/dry-run"


@dataclass(frozen=True)
class Step:
    """One notebook's aws path: the package calls its cells make and what they call in turn."""

    notebook: str
    calls: tuple[str, ...]  # the package functions the notebook's cells call (bwp_workshop.notebook_catalog)
    effects: tuple[str, ...]


@dataclass
class StackPlan:
    name: str
    resources: Counter[str]
    grants: dict[str, list[str]]  # role logical id -> IAM actions
    outputs: list[str]
    assets: int


@dataclass
class DryRun:
    settings: Settings
    assembly: Path
    placeholder_bus: bool
    checks: CheckResult
    preflight: list[Check]
    stacks: list[StackPlan] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.checks.ok and not [c for c in self.preflight if c.blocking and not c.ok]

    def report(self) -> str:
        s = self.settings
        out = [f"Dry run of the aws target (region {s.region}); no AWS call is made.", ""]
        out.append("Preflight (local tools):")
        for check in self.preflight:
            state = "ok" if check.ok else ("NO" if check.blocking else "no (optional)")
            hint = "" if check.ok else f"  -> {check.hint}"
            out.append(f"  {check.name:<24} {state:<14} {check.detail}{hint}")
        out += ["", f"Synthesized for aws into {self.assembly}"]
        if self.placeholder_bus:
            out.append(f"  (EVENT_BUS_ARN not set yet: EventStack uses {PLACEHOLDER_BUS.format(region=s.region)})")
        out += ["", "Template checks (cfn-lint, checkov; cdk-nag passed with the synth):"]
        out += ["  " + line for line in self.checks.table().splitlines()]
        out += ["", "What would be deployed:"]
        for stack in self.stacks:
            total = sum(stack.resources.values())
            outputs = ", ".join(stack.outputs)
            out.append(f"  {stack.name}: {total} resources, {stack.assets} asset(s), outputs {outputs}")
            for kind, count in sorted(stack.resources.items()):
                out.append(f"    {count:>3} {kind}")
            for role, actions in sorted(stack.grants.items()):
                out.append(f"    role {role}: {', '.join(actions)}")
        out += ["", "What each notebook would call:"]
        for step in self.steps:
            out.append(f"  {step.notebook}: {', '.join(step.calls)}")
            out += [f"      {effect}" for effect in step.effects]
        out += ["", "Dry run " + ("passed." if self.ok else "FAILED: see above.")]
        return "\n".join(out)


def _policy_grants(template: dict[str, Any]) -> dict[str, list[str]]:
    """IAM actions per role logical id, from the template's policies."""
    grants: dict[str, set[str]] = {}
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::IAM::Policy":
            continue
        properties = resource["Properties"]
        actions: set[str] = set()
        for statement in properties["PolicyDocument"]["Statement"]:
            action = statement.get("Action", [])
            actions.update([action] if isinstance(action, str) else action)
        for role in properties.get("Roles", []):
            role_id = role.get("Ref", json.dumps(role)) if isinstance(role, dict) else str(role)
            grants.setdefault(role_id, set()).update(actions)
    return {role: sorted(actions) for role, actions in grants.items()}


def plan_stack(name: str, assembly: Path) -> StackPlan:
    template = json.loads((assembly / f"{name}.template.json").read_text())
    resources = Counter(r["Type"] for r in template.get("Resources", {}).values())
    manifest = assembly / f"{name}.assets.json"
    assets = 0
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        assets = len(data.get("files", {})) + len(data.get("dockerImages", {}))
    outputs = sorted(key for key in template.get("Outputs", {}) if not key.startswith("ExportsOutput"))
    return StackPlan(name, resources, _policy_grants(template), outputs, assets)


def notebook_steps(settings: Settings, *, docker: bool) -> list[Step]:
    """What each notebook's cells call (read from the notebook) and what that does on the aws
    target."""
    effects = notebook_effects(settings, docker=docker)
    return [
        Step(notebook.name, notebook.calls, effects.get(notebook.name, (NO_EFFECTS,)))
        for notebook in catalog.notebooks(settings.project_dir)
    ]


def notebook_effects(settings: Settings, *, docker: bool) -> dict[str, tuple[str, ...]]:
    """What each notebook's calls do on the aws target, by notebook, from the package's own names."""
    from ..stacks.image_tag import image_tag

    stacks = list(names.STACKS)
    deploy = "cdk deploy {} --require-approval never (CloudFormation change set, then execute)"
    image = (
        f"docker build --platform linux/amd64 -f oauth_app/Dockerfile, tag {image_tag(settings)}; "
        "ecr:DescribeImages (skip if the tag is there), ecr:GetAuthorizationToken, docker push"
        if docker
        else f"no Docker engine here: ecr:DescribeImages (skip if {image_tag(settings)} is there), "
        f"codebuild:BatchGetProjects {names.IMAGE_BUILD_PROJECT} (its uploaded sources must be the current ones), "
        f"codebuild:StartBuild with {names.BUILD_ENV_IMAGE_TAG}={image_tag(settings)}, codebuild:BatchGetBuilds "
        "until it completes (docker build and push in the project; its log in "
        f"{names.IMAGE_BUILD_LOG_GROUP})"
    )
    return {
        "00-prerequisites": (
            "sts:GetCallerIdentity (the credentials check)",
            f"cdk bootstrap aws://<account>/{settings.region} (stack CDKToolkit: assets bucket and repository)",
        ),
        "01-infra-stack": (
            f"cdk diff {stacks[0]}",
            deploy.format(stacks[0]),
            "cloudformation:DescribeStacks (outputs)",
        ),
        "02-app-onboarding": (
            "no AWS call: the launch, install, settings and uninstall URLs from InfraStack's "
            f"{names.OUT_APP_BASE_URL}, for the onboarding request to Buy with Prime",
        ),
        "03-oauth-handler": (
            image,
            f"secretsmanager:DescribeSecret, CreateSecret or PutSecretValue {names.CLIENT_SECRET_NAME}",
            deploy.format(stacks[1]),
            "ecs:DescribeServices until the tasks run; GET <AppBaseUrl>/health",
        ),
        "04-merchant-install": (
            "the merchant installs from the Buy with Prime console (by hand)",
            f"dynamodb:Query/PutItem on the token table; POST {settings.token_url} (refresh)",
        ),
        "05-event-subscriptions": (
            f"Buy with Prime GraphQL eventSubscriptions, eventSubscription, createEventSubscription at "
            f"{settings.graphql_url}",
            "dynamodb:PutItem on the business product table (each subscription's targetId)",
            f"ssm:PutParameter {names.EVENT_DESTINATION_PARAMETER} (the destination the app subscribes each "
            "merchant it installs to); dynamodb:Scan of the token table, then the same subscriptions for every "
            "installation it lists",
            "events:DescribeEventSource, CreateEventBus aws.partner/buywithprime/<name>; EVENT_BUS_ARN into .env",
            deploy.format(stacks[2]),
            "with BWP_EVENT_DESTINATION=webhook: Buy with Prime GraphQL createAuthProfile (updateAuthProfile "
            "when it exists) and createEventSubscription (webhook <AppBaseUrl>/webhooks/events); "
            f"ssm:PutParameter {names.EVENT_DESTINATION_PARAMETER} with the webhook (no secret)",
        ),
        "06-test-events": (
            "sts:AssumeRole EventStack's operator role; events:PutEvents test events onto EventStack's test "
            "bus (its test rule delivers them to the queue; never straight onto the queue); "
            "dynamodb:Query of the installation's business product; dynamodb:BatchGetItem of the sent events' "
            "keys until they are stored; sqs:GetQueueAttributes",
            f"Buy with Prime GraphQL order, updateOrder and updateOrderPackageInformation (sandbox) on the "
            f"order_id parameter's order at {settings.graphql_url}; dynamodb:Scan the data table until its "
            "events are stored",
            "sqs:ReceiveMessage on the dead-letter queue; logs:FilterLogEvents in the handler's log group (why "
            "a record failed); sqs:DeleteMessage of the test's dead-lettered event",
            "cloudwatch:DescribeAlarms of the dead-letter queue alarm and the composite, until each state is "
            "reached (on local, the event runner evaluates them)",
        ),
        "07-api-and-analytics": (
            f"Buy with Prime GraphQL queries at {settings.graphql_url} (the store as each installation)",
            "dynamodb:Scan the data table and the token table",
            f"athena:StartQueryExecution, GetQueryExecution, GetQueryResults in workgroup {names.ATHENA_WORKGROUP} "
            f"(each metric of the analytics SQL); s3:ListBucket on the analytics bucket (its partitions)",
        ),
        "99-clean-up": (
            "Buy with Prime GraphQL deleteEventSubscription (and deleteAuthProfile after a webhook 05) as "
            "every installation the token table lists; "
            f"ssm:DeleteParameter {names.EVENT_DESTINATION_PARAMETER}",
            "s3:ListBucketVersions, DeleteObject (every version) on the analytics buckets",
            f"cdk destroy {' '.join(reversed(stacks))}",
            f"events:DeleteEventBus; secretsmanager:DeleteSecret {names.CLIENT_SECRET_NAME} (no recovery "
            "window); logs:DeleteLogGroup of the workshop's groups; glue:DeleteTable, DeleteDatabase and "
            "athena:DeleteWorkGroup of what is left of the analytics catalog; what is left, by the project tag",
        ),
    }


def dry_run(settings: Settings) -> DryRun:
    """Synthesize for aws, check the templates and plan the notebooks; calls no AWS API."""
    if settings.target != "aws":
        from ..errors import ConfigurationError

        raise ConfigurationError(
            "The dry run rehearses the aws target, and these settings are for local.",
            hint="Run `bwp-workshop run --target aws --dry-run` (or pass settings with target aws).",
        )
    placeholder = not settings.event_bus_arn
    if placeholder:
        settings = settings.model_copy(update={"event_bus_arn": PLACEHOLDER_BUS.format(region=settings.region)})
    from ..deploy.commands import _validation_error
    from ..stacks.app import build_app

    assembly = settings.bwp_dir / "dry-run" / "cdk.out"
    assembly.mkdir(parents=True, exist_ok=True)
    try:
        build_app(settings, outdir=assembly).synth()
    except RuntimeError as error:
        if "alidation" not in str(error):
            raise
        raise _validation_error(assembly) from None
    checks = check_templates({"aws": assembly}, region=settings.region, project_dir=settings.project_dir)
    docker_check = check_docker()
    preflight = [
        check_python(),
        check_node(),
        check_cdk_versions(settings),
        docker_check,
        check_image_build(settings, docker_check),
    ]
    docker = docker_check.ok
    return DryRun(
        settings=settings,
        assembly=assembly,
        placeholder_bus=placeholder,
        checks=checks,
        preflight=preflight,
        stacks=[plan_stack(name, assembly) for name in names.STACKS],
        steps=notebook_steps(settings, docker=docker),
    )
