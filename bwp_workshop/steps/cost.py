"""What the workshop's stacks cost on aws, before deploying (00), what is left billable
afterwards (99), an optional AWS Budgets alarm, and the event pipeline's cost per million
events (bench/results.md, docs/operations.md).

The prices are one table, :data:`PRICES`: AWS's published on-demand prices for us-east-1, each
with the page it comes from, recorded on :data:`PRICES_RECORDED_ON` from AWS's published list
prices, not read from those pages that day (this machine reaches no AWS page): check the pages
before relying on a figure. A region without an entry is said to have
none: prices differ by region, and a guess is not a price.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from .. import aws, names
from ..settings import Settings

#: When the prices below were recorded (from the published list prices; not checked against the
#: pages on that day).
PRICES_RECORDED_ON = "2026-12-07"
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    page: str


_PRICING = "https://aws.amazon.com/{}/pricing/"
#: Published on-demand prices by region (USD).
PRICES: dict[str, dict[str, Price]] = {
    "us-east-1": {
        "nat_gateway_hour": Price(0.045, "per NAT gateway-hour", _PRICING.format("vpc")),
        "nat_gateway_gb": Price(0.045, "per GB processed by a NAT gateway", _PRICING.format("vpc")),
        "public_ipv4_hour": Price(0.005, "per public IPv4 address-hour", _PRICING.format("vpc")),
        "alb_hour": Price(0.0225, "per load balancer-hour", _PRICING.format("elasticloadbalancing")),
        "alb_lcu_hour": Price(0.008, "per LCU-hour", _PRICING.format("elasticloadbalancing")),
        "fargate_vcpu_hour": Price(0.04048, "per vCPU-hour (Linux, x86)", _PRICING.format("fargate")),
        "fargate_gb_hour": Price(0.004445, "per GB-hour (Linux, x86)", _PRICING.format("fargate")),
        "lambda_gb_second": Price(0.0000166667, "per GB-second (x86)", _PRICING.format("lambda")),
        "lambda_request": Price(0.20, "per million requests", _PRICING.format("lambda")),
        "sqs_request": Price(0.40, "per million requests (standard queue, 64 KB chunks)", _PRICING.format("sqs")),
        "dynamodb_write": Price(0.625, "per million write request units (on demand)", _PRICING.format("dynamodb")),
        "dynamodb_read": Price(0.125, "per million read request units (on demand)", _PRICING.format("dynamodb")),
        "partner_event": Price(1.00, "per million partner events", _PRICING.format("eventbridge")),
        "alarm_month": Price(0.10, "per standard-resolution alarm-month", _PRICING.format("cloudwatch")),
        "composite_alarm_month": Price(0.50, "per composite alarm-month", _PRICING.format("cloudwatch")),
        "dashboard_month": Price(3.00, "per dashboard-month (3 free per account)", _PRICING.format("cloudwatch")),
        "secret_month": Price(0.40, "per secret-month", _PRICING.format("secrets-manager")),
        "cloudfront_10k_https": Price(0.01, "per 10,000 HTTPS requests", _PRICING.format("cloudfront")),
    }
}

#: What the stacks run by the hour (stacks/infra_stack.py, stacks/ecs_stack.py, stacks/alarms.py).
NAT_GATEWAYS = 1
PUBLIC_IPV4 = 3  # the NAT gateway's address and the load balancer's, one per zone
FARGATE_TASKS, TASK_VCPU, TASK_GB = 2, 1.0, 2.0
ALARMS, COMPOSITE_ALARMS, DASHBOARDS, SECRETS = 10, 1, 1, 1


def prices(region: str) -> dict[str, Price] | None:
    return PRICES.get(region)


def stack_costs(settings: Settings) -> list[dict[str, Any]]:
    """What the three stacks cost per hour and per day in the settings' region while deployed,
    idle: the hourly items, and the rest (per use) at zero with what they cost per use."""
    table = prices(settings.region)
    if table is None:
        return [
            {
                "item": f"no prices for {settings.region} in the workshop's table",
                "usd_per_hour": None,
                "usd_per_day": None,
                "price": f"the table has {', '.join(PRICES)}; see the pricing pages for {settings.region}",
            }
        ]
    fargate_hour = TASK_VCPU * table["fargate_vcpu_hour"].usd + TASK_GB * table["fargate_gb_hour"].usd
    monthly = (
        ALARMS * table["alarm_month"].usd
        + COMPOSITE_ALARMS * table["composite_alarm_month"].usd
        + DASHBOARDS * table["dashboard_month"].usd
        + SECRETS * table["secret_month"].usd
    )
    hourly = [
        ("NAT gateway (InfraStack)", NAT_GATEWAYS * table["nat_gateway_hour"].usd, "nat_gateway_hour"),
        ("public IPv4 addresses (NAT, load balancer)", PUBLIC_IPV4 * table["public_ipv4_hour"].usd, "public_ipv4_hour"),
        ("Application Load Balancer (InfraStack)", table["alb_hour"].usd, "alb_hour"),
        (
            f"Fargate: {FARGATE_TASKS} tasks x 1 vCPU, 2 GB (EcsStack)",
            FARGATE_TASKS * fargate_hour,
            "fargate_vcpu_hour",
        ),
        ("alarms, dashboard, secret (by the month)", monthly / HOURS_PER_MONTH, "alarm_month"),
    ]
    rows = [
        {
            "item": item,
            "usd_per_hour": round(usd, 4),
            "usd_per_day": round(usd * 24, 2),
            "price": f"${table[key].usd:g} {table[key].unit}",
        }
        for item, usd, key in hourly
    ]
    for item, key in (
        ("load balancer capacity units (idle: near zero)", "alb_lcu_hour"),
        ("per event: partner events (and Lambda, SQS, DynamoDB: docs/operations.md)", "partner_event"),
        ("NAT gateway data", "nat_gateway_gb"),
    ):
        rows.append(
            {"item": item, "usd_per_hour": 0.0, "usd_per_day": 0.0, "price": f"${table[key].usd:g} {table[key].unit}"}
        )
    total = sum(usd for _item, usd, _key in hourly)
    rows.append(
        {
            "item": "total while deployed",
            "usd_per_hour": round(total, 4),
            "usd_per_day": round(total * 24, 2),
            "price": f"list prices recorded {PRICES_RECORDED_ON}, unchecked: see their pages",
        }
    )
    return rows


@dataclass(frozen=True)
class PipelineFigures:
    """What one event costs the pipeline, from the benchmark's measurements."""

    handler_ms_per_event: float
    memory_gb: float = 0.5
    batch_size: int = 10
    sqs_requests_per_event: float = 1.2  # the rule's send, and the event source's receive and delete by batch
    dynamodb_writes_per_event: float = 1.0
    dynamodb_reads_per_event: float = 0.1
    api_calls_per_event: float = 0.237


def cost_per_million(figures: PipelineFigures, region: str = "us-east-1") -> dict[str, float]:
    """USD per million events, by item (the BwP API calls are a count: they cost no money,
    but they spend the partner's rate limit)."""
    table = PRICES[region]
    million = 1e6
    lambda_gb_seconds = million * figures.handler_ms_per_event / 1000 * figures.memory_gb
    return {
        "lambda_duration": round(lambda_gb_seconds * table["lambda_gb_second"].usd, 2),
        # Per-request prices are per million requests.
        "lambda_requests": round(table["lambda_request"].usd / figures.batch_size, 2),
        "sqs": round(figures.sqs_requests_per_event * table["sqs_request"].usd, 2),
        "dynamodb": round(
            figures.dynamodb_writes_per_event * table["dynamodb_write"].usd
            + figures.dynamodb_reads_per_event * table["dynamodb_read"].usd,
            2,
        ),
        "eventbridge_partner_events": round(table["partner_event"].usd, 2),
        "bwp_api_calls": round(million * figures.api_calls_per_event),
    }


def budget_alarm(monthly_usd: float, email: str, settings: Settings) -> dict[str, Any]:
    """An AWS Budgets cost budget of ``monthly_usd`` for the account, e-mailing ``email`` when
    the actual spend passes 80% and 100% of it (AWS Budgets: two budgets free per account)."""
    if monthly_usd <= 0 or "@" not in email:
        raise ValueError("a budget needs a positive monthly amount and an e-mail address")
    account = aws.client("sts", settings).get_caller_identity()["Account"]
    name = f"{names.PROJECT_TAG_VALUE}-monthly"
    budgets = aws.client("budgets", settings)
    with contextlib.suppress(budgets.exceptions.NotFoundException):
        budgets.delete_budget(AccountId=account, BudgetName=name)  # the new threshold replaces the old
    budgets.create_budget(
        AccountId=account,
        Budget={
            "BudgetName": name,
            "BudgetLimit": {"Amount": f"{monthly_usd:.2f}", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
        NotificationsWithSubscribers=[
            {
                "Notification": {
                    "NotificationType": "ACTUAL",
                    "ComparisonOperator": "GREATER_THAN",
                    "Threshold": percent,
                    "ThresholdType": "PERCENTAGE",
                },
                "Subscribers": [{"SubscriptionType": "EMAIL", "Address": email}],
            }
            for percent in (80.0, 100.0)
        ],
    )
    return {"budget": name, "monthly_usd": monthly_usd, "alerts_at_percent": [80, 100], "email": email}


def billable_leftovers(settings: Settings) -> list[dict[str, str]]:
    """Every resource still tagged as the workshop's (the tag the CDK app puts on all it makes),
    by the Resource Groups Tagging API: what may still bill."""
    tagging = aws.client("resourcegroupstaggingapi", settings)
    found = []
    for page in tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": names.PROJECT_TAG, "Values": [names.PROJECT_TAG_VALUE]}]
    ):
        for resource in page.get("ResourceTagMappingList", []):
            arn = resource["ResourceARN"]
            found.append({"service": arn.split(":")[2], "resource": arn.split(":", 5)[-1]})
    return found
