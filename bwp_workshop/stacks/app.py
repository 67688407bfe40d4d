"""The CDK app entry point named in cdk.json (``python3 -m bwp_workshop.stacks.app``): the
three stacks, configured from :class:`~bwp_workshop.settings.Settings`."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_logs as logs

from .. import environments, names
from ..settings import LOG_RETENTION_DAYS, Settings, get_settings
from ..targets import choose_target
from . import nag
from .ecs_stack import EcsStack
from .event_stack import EventStack
from .image_build import stage_image_source
from .image_tag import image_tag
from .infra_stack import InfraStack
from .lambda_asset import asset_hash, build_lambda_asset


def log_retention(days: int) -> logs.RetentionDays:
    """The CDK enum member for a CloudWatch Logs retention in days."""
    members = [member for member in logs.RetentionDays if member.name != "INFINITE"]
    return dict(zip(LOG_RETENTION_DAYS, members, strict=True))[days]


def project_context(settings: Settings) -> dict[str, object]:
    """The ``context`` of the project's cdk.json, so an in-process synth matches the CLI's."""
    path = settings.project_dir / "cdk.json"
    if not path.is_file():
        path = Path(__file__).resolve().parents[2] / "cdk.json"
    return dict(json.loads(path.read_text()).get("context", {})) if path.is_file() else {}


def build_app(
    settings: Settings,
    *,
    outdir: Path | None = None,
    checks: bool = True,
    validate_templates: bool = False,
) -> cdk.App:
    """The workshop's CDK app for the configured target: InfraStack, EcsStack and, when
    ``EVENT_BUS_ARN`` is set, EventStack (it imports that bus). ``checks`` adds cdk-nag's
    AWS Solutions checks, which fail the synth on an unacknowledged finding.
    ``validate_templates`` runs the CDK's built-in CloudFormation rule set as well; it is off
    by default because it adds about 5 s to every synth on a 2-core machine (the stack tests
    run it once)."""
    target = choose_target(settings)
    zones = target.availability_zones()
    context = project_context(settings)
    if zones:
        # The VPC checks its zones against the account's; where the target fixes them, answer
        # that lookup here rather than have the CLI ask the account and write cdk.context.json.
        context[f"availability-zones:account={target.account_id()}:region={settings.region}"] = zones
    app = cdk.App(
        outdir=str(outdir) if outdir else None,
        context=context,
        builtin_cloud_formation_validation=validate_templates,
    )
    cdk.Tags.of(app).add(names.PROJECT_TAG, names.PROJECT_TAG_VALUE)
    cdk.Tags.of(app).add("bwp-target", settings.target)
    if checks:
        nag.add_checks(app)

    retention = log_retention(settings.log_retention_days)

    def stack_options(name: str) -> dict[str, object]:
        return {"env": target.stack_environment(), "synthesizer": target.stack_synthesizer(), "stack_name": name}

    source_dir, source_tag = stage_image_source(settings)
    image_source = (str(source_dir), source_tag)
    infra = InfraStack(
        app,
        names.INFRA_STACK,
        availability_zones=zones,
        log_retention=retention,
        certificate_arn=settings.certificate_arn,
        app_domain_name=settings.app_domain_name,
        tls_front=target.tls_front(),
        image_source=image_source,
        token_key_users=(
            [user for user in settings.token_key_users.split(",") if user]
            if settings.token_table_key == "customer"
            else None
        ),
        alarm_email=settings.alarm_email,
        description="Buy with Prime workshop: network, load balancer, image repository, token table",
        **stack_options(names.INFRA_STACK),
    )
    ecs = EcsStack(
        app,
        names.ECS_STACK,
        vpc=infra.vpc,
        service_security_group=infra.service_security_group,
        target_group=infra.target_group,
        repository=infra.repository,
        token_table=infra.token_table,
        business_product_table=infra.business_product_table,
        app_base_url=infra.app_base_url,
        app_environment=functools.partial(environments.app_environment, settings, public_key=target.public_key()),
        image_tag=image_tag(settings),
        log_retention=retention,
        description="Buy with Prime workshop: the OAuth app on ECS Fargate",
        **stack_options(names.ECS_STACK),
    )
    if settings.event_bus_arn:
        EventStack(
            app,
            names.EVENT_STACK,
            event_bus_arn=settings.event_bus_arn,
            event_source=environments.event_source(settings),
            token_table=infra.token_table,
            business_product_table=infra.business_product_table,
            asset_dir=build_lambda_asset(settings),
            asset_hash=asset_hash(settings),
            lambda_environment=functools.partial(environments.lambda_environment, settings),
            lambda_timeout=settings.lambda_timeout,
            max_receive_count=settings.max_receive_count,
            batch_size=settings.event_batch_size,
            batch_window=settings.event_batch_window,
            max_concurrency=settings.event_max_concurrency,
            log_retention=retention,
            alarm_topic=infra.alarm_topic,
            load_balancer=infra.load_balancer,
            webhook_sender=ecs.task_role,
            description="Buy with Prime workshop: partner events to a queue and the recording Lambda",
            **stack_options(names.EVENT_STACK),
        )
    return app


if __name__ == "__main__":
    build_app(get_settings()).synth()
