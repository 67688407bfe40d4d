"""The shapes the settings' values are checked against (:class:`~bwp_workshop.settings.Settings`
applies them to its fields); each raises ``ValueError`` saying what is wrong."""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(
    r"^(?:<.*>|\$\{.*\}|x{3,}|\*{3,}|\.{3}|changeme|change[-_ ]me|replace[-_ ]?me|placeholder|"
    r"todo|tbd|dummy|example|secret|password|your[-_ ].*|fill[-_ ]?me[-_ ]?in|none|null)$",
    re.IGNORECASE,
)

#: The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365,
    400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

EVENT_BUS_ARN = re.compile(
    r"^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/aws\.partner/buywithprime/[A-Za-z0-9._/-]+$"
)


def is_placeholder(value: str) -> bool:
    """True for values that are obviously not real credentials (``changeme``, ``<client-id>``...)."""
    return bool(PLACEHOLDER.match(value.strip()))


def region_shape(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", value):
        raise ValueError(f"{value!r} is not an AWS region name such as us-east-1")
    return value


def certificate_arn_shape(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+", value):
        raise ValueError(f"{value!r} is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
    return value


def log_retention_value(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"{value} is not a CloudWatch Logs retention; choose one of {list(LOG_RETENTION_DAYS)}")
    return value


def log_level_name(value: str) -> str:
    level = value.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"{value!r} is not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return level


def public_key_pem(value: str) -> str:
    """The PEM of an EC P-256 public key, with its line breaks ("" for an empty value)."""
    if not value.strip():
        return ""
    from .core.verification import checked_public_key

    return checked_public_key(value)


def event_bus_arn_shape(value: str) -> str:
    value = value.strip()
    if value and not EVENT_BUS_ARN.match(value):
        raise ValueError(
            f"{value!r} is not a Buy with Prime partner event bus ARN; expected "
            "arn:aws:events:<region>:<account>:event-bus/aws.partner/buywithprime/<name>"
        )
    return value
