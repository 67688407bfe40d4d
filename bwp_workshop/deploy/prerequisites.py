"""What the stacks expect to exist before they deploy, made through the AWS APIs:

* the app's client credentials in Secrets Manager (``names.CLIENT_SECRET_NAME``), written from
  the settings so that the value never enters a CloudFormation template;
* the partner event bus associated with Buy with Prime's partner event source
  ``aws.partner/buywithprime/<name>``. On aws, Buy with Prime creates the source when you
  subscribe to events; on the local target the sandbox does, and if it has not, this module
  creates the source as Buy with Prime would.

Every function is idempotent and never logs or returns a secret value.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from .. import aws, names
from ..errors import SetupError
from ..settings import Settings
from ..targets import choose_target


def _secret_value(settings: Settings) -> str:
    client_id, client_secret = settings.require_client_credentials()
    return json.dumps({names.CLIENT_SECRET_ID_KEY: client_id, names.CLIENT_SECRET_SECRET_KEY: client_secret})


def client_credentials_stored(settings: Settings) -> bool:
    """Whether the client credentials secret exists (and is not scheduled for deletion)."""
    try:
        described = aws.client("secretsmanager", settings).describe_secret(SecretId=names.CLIENT_SECRET_NAME)
    except ClientError as error:
        if aws.error_code(error) == "ResourceNotFoundException":
            return False
        raise aws.failed("Reading the client credentials secret", error, hint="Check your AWS credentials.") from None
    return "DeletedDate" not in described


def store_client_credentials(settings: Settings) -> str:
    """Create or update the secret ``names.CLIENT_SECRET_NAME`` with ``{"client_id", "client_secret"}``
    from ``BWP_CLIENT_ID``/``BWP_CLIENT_SECRET``; returns the secret's ARN. An unchanged value
    writes no new version."""
    value = _secret_value(settings)
    client = aws.client("secretsmanager", settings)
    hint = "Check your AWS credentials and that they may use Secrets Manager in this region."
    try:
        try:
            described = client.describe_secret(SecretId=names.CLIENT_SECRET_NAME)
        except ClientError as error:
            if aws.error_code(error) != "ResourceNotFoundException":
                raise
            created = client.create_secret(
                Name=names.CLIENT_SECRET_NAME,
                SecretString=value,
                Description="Buy with Prime app client credentials (client_id, client_secret)",
            )
            return str(created["ARN"])
        if "DeletedDate" in described:
            client.restore_secret(SecretId=names.CLIENT_SECRET_NAME)
        elif client.get_secret_value(SecretId=names.CLIENT_SECRET_NAME).get("SecretString") == value:
            return str(described["ARN"])
        client.put_secret_value(SecretId=names.CLIENT_SECRET_NAME, SecretString=value)
        return str(described["ARN"])
    except ClientError as error:
        raise aws.failed("Storing the client credentials", error, hint) from None


def delete_client_credentials(settings: Settings) -> bool:
    """Delete the client credentials secret at once (no recovery window); False when there was none."""
    if not client_credentials_stored(settings):  # a forced delete of a missing secret succeeds
        return False
    try:
        aws.client("secretsmanager", settings).delete_secret(
            SecretId=names.CLIENT_SECRET_NAME, ForceDeleteWithoutRecovery=True
        )
    except ClientError as error:
        if aws.error_code(error) == "ResourceNotFoundException":
            return False
        raise aws.failed("Deleting the client credentials", error, hint="Check your AWS credentials.") from None
    return True


_SOURCE_NAME = re.compile(rf"^{re.escape(names.PARTNER_SOURCE_PREFIX)}/[A-Za-z0-9._/-]+$")


def partner_source_name(source_name: str) -> str:
    """``aws.partner/buywithprime/<name>`` from that or from ``<name>`` alone."""
    name = source_name.strip()
    if not name.startswith("aws.partner/"):
        name = names.partner_source_name(name)
    if not _SOURCE_NAME.match(name):
        raise SetupError(
            f"{source_name!r} is not a Buy with Prime partner event source name.",
            hint=f"Use {names.partner_source_name('<name>')} with letters, digits, '.', '_', '-' or '/' in <name>.",
        )
    return name


def source_name_of_bus(event_bus_arn: str) -> str:
    """The partner event source (= bus) name in a partner event bus ARN."""
    return partner_source_name(names.bus_name(event_bus_arn))


def _event_source_state(events: Any, source: str) -> str | None:
    try:
        return str(events.describe_event_source(Name=source).get("State", ""))
    except ClientError as error:
        if aws.error_code(error) == "ResourceNotFoundException":
            return None
        raise


def ensure_partner_event_bus(settings: Settings, source_name: str) -> str:
    """Associate the partner event source with an event bus of the same name and return the
    bus ARN (the value of ``EVENT_BUS_ARN``). Idempotent.

    On aws the source must exist: Buy with Prime creates it when you subscribe to events
    (``createEventSubscription`` with an EventBridge destination). On local, a source the
    sandbox has not created yet is created here, as Buy with Prime would.
    """
    source = partner_source_name(source_name)
    events = aws.client("events", settings)
    try:
        state = _event_source_state(events, source)
        if state is None or state == "DELETED":
            choose_target(settings).missing_event_source(events, source)
        try:
            return str(events.describe_event_bus(Name=source)["Arn"])
        except ClientError as error:
            if aws.error_code(error) != "ResourceNotFoundException":
                raise
        return str(events.create_event_bus(Name=source, EventSourceName=source)["EventBusArn"])
    except ClientError as error:
        raise aws.failed(
            f"Associating the partner event source {source} with an event bus",
            error,
            hint="Check your AWS credentials and that they may use EventBridge in this region.",
        ) from None


def delete_partner_event_bus(settings: Settings, source_name: str) -> bool:
    """Delete the partner event bus of ``source_name`` (its rules must be gone: destroy the
    EventStack first). False when there was none. The event source itself belongs to Buy with
    Prime: deleting the event subscription removes it."""
    source = partner_source_name(source_name)
    events = aws.client("events", settings)
    try:
        events.describe_event_bus(Name=source)
    except ClientError as error:
        if aws.error_code(error) == "ResourceNotFoundException":
            return False
        raise aws.failed(f"Reading the event bus {source}", error, hint="Check your AWS credentials.") from None
    try:
        events.delete_event_bus(Name=source)
    except ClientError as error:
        raise aws.failed(
            f"Deleting the event bus {source}", error, hint="Destroy the EventStack first (its rule uses the bus)."
        ) from None
    return True
