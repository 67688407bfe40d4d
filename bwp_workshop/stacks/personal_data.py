"""The CloudWatch Logs data-protection policy on the log groups that can see customers' names
and e-mail addresses (the event Lambda's, which logs what it cannot process, and the OAuth
app's): CloudWatch masks them in what it shows, as BwP's cdk-constructs peer does for its log
groups (a peer's practice: the Buy with Prime docs are silent on logs)."""

from __future__ import annotations

from aws_cdk import aws_logs as logs


def personal_data_policy() -> logs.DataProtectionPolicy:
    """Masks customers' names and e-mail addresses in a log group."""
    return logs.DataProtectionPolicy(
        name="bwp-personal-data",
        description="Masks Buy with Prime customers' names and e-mail addresses",
        identifiers=[logs.DataIdentifier.NAME, logs.DataIdentifier.EMAILADDRESS],
    )
