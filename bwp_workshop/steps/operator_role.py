"""Clients that act as EventStack's operator role on aws: the only principal besides the rules
that may put messages on the event queue (moving dead letters back) and events on the test
bus (the workshop's test events). The local AWS does not enforce those policies, so on local
the target's own clients are used."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .. import aws, names
from ..outputs import load_outputs
from ..settings import Settings


def operator_client(service: str, settings: Settings) -> Any:
    """A ``service`` client with the operator role's credentials on aws (assumed now; the caller
    needs ``sts:AssumeRole`` on it), the target's own client on local or when the deployed
    EventStack has no operator role."""
    role_arn = load_outputs(settings).get(names.EVENT_STACK, {}).get(names.OUT_OPERATOR_ROLE_ARN)
    if settings.is_local or not role_arn:
        return aws.client(service, settings)
    try:
        answer = aws.client("sts", settings).assume_role(RoleArn=role_arn, RoleSessionName="bwp-workshop-operator")
    except ClientError as error:
        raise aws.failed(
            f"Assuming EventStack's operator role {role_arn}",
            error,
            hint="Your identity needs sts:AssumeRole on that role (an account administrator has it).",
        ) from None
    credentials = answer["Credentials"]
    return aws.session(settings).client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
