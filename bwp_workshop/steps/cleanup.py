"""The workshop's clean-up step (notebook 99), beside ``deploy.destroy``: what the workshop
made outside CloudFormation, and a look for anything of it still in the account."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .. import aws, names
from ..deploy import prerequisites
from ..envfile import unset_env_values
from ..outputs import load_outputs
from ..settings import Settings
from . import subscriptions, tenants


def empty_analytics_store(settings: Settings) -> dict[str, int]:
    """Empty EventStack's analytics buckets (the Parquet events and Athena's results), every
    object version and delete marker: CloudFormation deletes only empty buckets. Run before
    destroying EventStack; object versions deleted per bucket."""
    from .analytics_lake import empty_bucket

    outputs = load_outputs(settings).get(names.EVENT_STACK, {})
    s3 = aws.client("s3", settings)
    return {
        str(outputs[key]): empty_bucket(s3, str(outputs[key]))
        for key in (names.OUT_ANALYTICS_BUCKET, names.OUT_ANALYTICS_RESULTS_BUCKET)
        if outputs.get(key)
    }


def drop_analytics_catalog(settings: Settings) -> list[str]:
    """Drop the analytics Glue table and database and the Athena workgroup if they are still
    there (destroying EventStack drops them on aws; on local, what the local AWS kept of them);
    what was dropped."""
    glue, athena = aws.client("glue", settings), aws.client("athena", settings)
    dropped = []
    attempts = [
        (f"table {names.GLUE_DATABASE}.{names.GLUE_TABLE}",
         lambda: glue.delete_table(DatabaseName=names.GLUE_DATABASE, Name=names.GLUE_TABLE)),
        (f"database {names.GLUE_DATABASE}", lambda: glue.delete_database(Name=names.GLUE_DATABASE)),
    ]  # fmt: skip
    if _has_workgroup(athena):
        attempts.append(
            (
                f"workgroup {names.ATHENA_WORKGROUP}",
                lambda: athena.delete_work_group(WorkGroup=names.ATHENA_WORKGROUP, RecursiveDeleteOption=True),
            )
        )
    for what, drop in attempts:
        try:
            drop()
        except ClientError as exc:  # not there: nothing to drop
            if aws.error_code(exc) != "EntityNotFoundException":
                raise
            continue
        dropped.append(what)
    return dropped


def _has_workgroup(athena: Any) -> bool:
    """Whether the workshop's Athena workgroup exists (a target without Athena has none)."""
    try:
        athena.get_work_group(WorkGroup=names.ATHENA_WORKGROUP)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if aws.error_code(exc) == "InvalidRequestException" or status == 404:  # not there; no Athena
            return False
        raise
    return True


def clean_up_outside_cloudformation(settings: Settings) -> dict[str, Any]:
    """What the workshop made outside CloudFormation: event subscriptions, the partner event bus,
    the client credentials secret, the event destinations parameter, the stacks' log groups. Run
    after destroying the stacks."""
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
    done["analytics catalog dropped"] = drop_analytics_catalog(settings) or "nothing left"
    unset_env_values(["EVENT_BUS_ARN"], settings)
    return done


def leftovers(settings: Settings) -> dict[str, list[str]]:
    """Anything of the workshop still in the account: stacks, tables, queues, functions, the
    secret, the partner bus, the event destinations parameter. Empty lists everywhere means clean."""
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
    s3_buckets = [
        b["Name"] for b in aws.client("s3", settings).list_buckets().get("Buckets", []) if _analytics_bucket(b["Name"])
    ]
    glue_databases = [
        d["Name"]
        for d in aws.client("glue", settings).get_databases().get("DatabaseList", [])
        if d["Name"] == names.GLUE_DATABASE
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
        "analytics buckets": s3_buckets,
        "analytics databases": glue_databases,
    }


def _analytics_bucket(name: str) -> bool:
    """A bucket of EventStack's analytics store (CloudFormation names it after the stack and
    the construct: ``eventstack-analytics...``)."""
    return name.lower().startswith(f"{names.EVENT_STACK.lower()}-analytics")
