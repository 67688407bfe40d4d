"""What 99 lists as left billable (by the stacks' tag) and the budget 00 offers, against the
session's local AWS."""

from __future__ import annotations

from bwp_workshop import aws, names
from bwp_workshop.settings import Settings
from bwp_workshop.steps import cost


def test_resources_tagged_as_the_workshops_are_listed_and_others_not(local_settings: Settings) -> None:
    sqs = aws.client("sqs", local_settings)
    sqs.create_queue(QueueName="left-behind", tags={names.PROJECT_TAG: names.PROJECT_TAG_VALUE})
    sqs.create_queue(QueueName="someone-elses", tags={names.PROJECT_TAG: "other"})
    left = cost.billable_leftovers(local_settings)
    assert [row["service"] for row in left] == ["sqs"] and left[0]["resource"].endswith("left-behind")


def test_a_budget_alarm_at_the_attendees_threshold_replaces_the_last(local_settings: Settings) -> None:
    cost.budget_alarm(20, "me@example.com", local_settings)
    made = cost.budget_alarm(35, "me@example.com", local_settings)
    budgets = aws.client("budgets", local_settings)
    account = aws.client("sts", local_settings).get_caller_identity()["Account"]
    (budget,) = budgets.describe_budgets(AccountId=account)["Budgets"]
    assert budget["BudgetName"] == made["budget"] and float(budget["BudgetLimit"]["Amount"]) == 35.0
    notifications = budgets.describe_notifications_for_budget(AccountId=account, BudgetName=made["budget"])
    assert sorted(n["Threshold"] for n in notifications["Notifications"]) == [80.0, 100.0]
