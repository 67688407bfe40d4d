"""The workshop's clean-up step (notebook 99), beside ``deploy.destroy``: what the workshop
made outside CloudFormation, and a look for anything of it still in the account."""

from __future__ import annotations

from typing import Any

from .. import aws, names
from ..deploy import prerequisites
from ..envfile import unset_env_values
from ..settings import Settings, get_settings
from . import subscriptions, tenants


def clean_up_outside_cloudformation(settings: Settings | None = None) -> dict[str, Any]:
    """What the workshop made outside CloudFormation: event subscriptions, the partner event bus,
    the client credentials secret, the event destinations parameter, the stacks' log groups. Run
    after destroying the stacks."""
    settings = settings or get_settings()
    done: dict[str, Any] = {}
    done["partner event bus deleted"] = prerequisites.delete_partner_event_bus(
        settings, subscriptions.source_name(settings)
    )
    done["client credentials secret deleted"] = prerequisites.delete_client_credentials(settings)
    done["event destinations parameter deleted"] = tenants.forget_registration(settings)
    logs = aws.client("logs", settings)
    deleted = 0
    for prefix in ("/aws/lambda/EventStack", "/ecs/bwp", "EcsStack", "EventStack", "InfraStack"):
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            for group in page.get("logGroups", []):
                logs.delete_log_group(logGroupName=group["logGroupName"])
                deleted += 1
    done["log groups deleted"] = deleted
    unset_env_values(["EVENT_BUS_ARN"], settings)
    return done


def leftovers(settings: Settings | None = None) -> dict[str, list[str]]:
    """Anything of the workshop still in the account: stacks, tables, queues, functions, the
    secret, the partner bus, the event destinations parameter. Empty lists everywhere means clean."""
    settings = settings or get_settings()
    cloudformation = aws.client("cloudformation", settings)
    stacks = [
        s["StackName"]
        for page in cloudformation.get_paginator("list_stacks").paginate()
        for s in page["StackSummaries"]
        if s["StackName"] in names.STACKS and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    tables = [
        t
        for t in aws.client("dynamodb", settings).list_tables()["TableNames"]
        if any(t.startswith(stack) for stack in names.STACKS)
    ]
    queues = [q for q in aws.client("sqs", settings).list_queues().get("QueueUrls", []) if "EventStack" in q]
    functions = [
        f["FunctionName"]
        for f in aws.client("lambda", settings).list_functions()["Functions"]
        if f["FunctionName"].startswith("EventStack")
    ]
    secrets = [
        s["Name"]
        for s in aws.client("secretsmanager", settings).list_secrets()["SecretList"]
        if s["Name"] == names.CLIENT_SECRET_NAME
    ]
    buses = [
        b["Name"]
        for b in aws.client("events", settings).list_event_buses(NamePrefix=names.PARTNER_SOURCE_PREFIX)["EventBuses"]
    ]
    parameters = [names.EVENT_DESTINATION_PARAMETER] if tenants.registered(settings) is not None else []
    repositories = []
    try:
        repositories = [
            r["repositoryName"]
            for r in aws.client("ecr", settings).describe_repositories()["repositories"]
            if r["repositoryName"] == names.REPOSITORY_NAME
        ]
    except Exception:  # a registry the target does not offer is not a leftover
        repositories = []
    return {
        "stacks": stacks,
        "tables": tables,
        "queues": queues,
        "functions": functions,
        "secrets": secrets,
        "partner buses": buses,
        "parameters": parameters,
        "repositories": repositories,
    }
