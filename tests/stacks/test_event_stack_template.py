"""EventStack's synthesized template, property by property, including what moto does not
keep (batch failure reporting, the retry window)."""

from __future__ import annotations

import json

from bwp_workshop import names

from .conftest import BUS_ARN, Synthesized, only, policy_actions, resources

# --- EventStack -----------------------------------------------------------------------------


def test_data_table_schema(synthesized: Synthesized) -> None:
    table = only(synthesized, names.EVENT_STACK, "AWS::DynamoDB::Table")["Properties"]
    # Keyed by installation and event id: one tenant's event id cannot suppress another's.
    assert table["KeySchema"] == [
        {"AttributeName": "installation_id", "KeyType": "HASH"},
        {"AttributeName": "event_id", "KeyType": "RANGE"},
    ]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "installation_id", "AttributeType": "S"},
        {"AttributeName": "event_id", "AttributeType": "S"},
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def _queues(synthesized: Synthesized) -> tuple[dict, dict, str]:
    queues = resources(synthesized, names.EVENT_STACK, "AWS::SQS::Queue")
    dlq_id = next(key for key in queues if key.startswith("DeadLetterQueue"))
    queue_id = next(key for key in queues if key != dlq_id)
    return queues[queue_id]["Properties"], queues[dlq_id]["Properties"], dlq_id


def test_the_aws_retry_window_rides_out_a_fifteen_minute_outage_with_the_default_settings(
    synthesized: Synthesized,
) -> None:
    from bwp_workshop.settings import Settings
    from bwp_workshop.stacks.event_stack import MIN_RETRY_WINDOW_SECONDS, retry_window_seconds

    # The template's own numbers: a failed record is hidden for the visibility timeout, and
    # the receive after the maxReceiveCount-th moves it to the DLQ.
    queue, _, _ = _queues(synthesized)
    settings = synthesized.settings
    from_template = queue["VisibilityTimeout"] * (queue["RedrivePolicy"]["maxReceiveCount"] - 1)
    assert from_template == retry_window_seconds(settings.lambda_timeout, settings.max_receive_count)
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    window = retry_window_seconds(defaults["lambda_timeout"], defaults["max_receive_count"])
    assert window >= MIN_RETRY_WINDOW_SECONDS
    assert window == 27 * 60  # 6 x 30 s visibility, 10 receives


def test_queue_redrives_to_the_dlq_and_outlasts_the_lambda(synthesized: Synthesized) -> None:
    queue, dlq, dlq_id = _queues(synthesized)
    assert queue["VisibilityTimeout"] == 6 * synthesized.settings.lambda_timeout == 240
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 4}
    assert queue["SqsManagedSseEnabled"] is True
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_queues_refuse_requests_without_tls(synthesized: Synthesized) -> None:
    policies = resources(synthesized, names.EVENT_STACK, "AWS::SQS::QueuePolicy").values()
    assert len(policies) == 2
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def _deny_senders(synthesized: Synthesized, queue_prefix: str) -> dict:
    """The statement of the queue's policy that denies senders, for the queue whose logical id
    starts with ``queue_prefix``."""
    for policy in resources(synthesized, names.EVENT_STACK, "AWS::SQS::QueuePolicy").values():
        (queue,) = policy["Properties"]["Queues"]
        if queue["Ref"].startswith(queue_prefix):
            (statement,) = [
                s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "OnlyTheRuleSends"
            ]
            return dict(statement)
    raise AssertionError(f"no policy for {queue_prefix}")


def _logical_id(value: dict | list) -> str:
    """The logical id a reference (or a list of one reference) names."""
    if isinstance(value, list):
        (value,) = value
    return str(value.get("Ref") or value["Fn::GetAtt"][0])


def _logical_ids(value: dict | list) -> list[str]:
    return [_logical_id(item) for item in (value if isinstance(value, list) else [value])]


def _rule_ids(synthesized: Synthesized) -> list[str]:
    """The partner rule's logical id, then the test rule's, then the webhook rule's."""
    rules = resources(synthesized, names.EVENT_STACK, "AWS::Events::Rule")
    prefixes = ("BuyWithPrimeEvents", "SendersTestEvents", "WebhookWebhookEvents")
    return [next(k for k in rules if k.startswith(prefix)) for prefix in prefixes]


def test_only_the_rules_and_the_operator_role_send_to_the_event_queue(synthesized: Synthesized) -> None:
    """Any other principal is denied, whatever its identity policy allows: a message that did
    not come through a rule cannot reach the handler (a caller's own SendMessage has no
    aws:SourceArn, which makes ArnNotEquals true)."""
    deny = _deny_senders(synthesized, "Queue")
    assert (deny["Sid"], deny["Effect"], deny["Principal"], deny["Action"]) == (
        "OnlyTheRuleSends",
        "Deny",
        {"AWS": "*"},
        "sqs:SendMessage",
    )
    assert list(deny["Condition"]) == ["ArnNotEquals"]  # both keys in one operator: denied unless one matches
    condition = deny["Condition"]["ArnNotEquals"]
    assert _logical_ids(condition["aws:SourceArn"]) == _rule_ids(synthesized)
    assert _logical_id(condition["aws:PrincipalArn"]).startswith("SendersOperatorRole")
    assert _logical_id(deny["Resource"]).startswith("Queue")
    # The rules' own Allows stay: EventBridge sends for them.
    allows = [
        s
        for p in resources(synthesized, names.EVENT_STACK, "AWS::SQS::QueuePolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert {json.dumps(s["Principal"]) for s in allows} == {'{"Service": "events.amazonaws.com"}'}
    assert sorted(_logical_id(s["Condition"]["ArnEquals"]["aws:SourceArn"]) for s in allows) == sorted(
        2 * _rule_ids(synthesized)
    )


def test_only_the_rules_and_the_handler_send_to_the_dead_letter_queue(synthesized: Synthesized) -> None:
    """The rules (events they could not deliver) and the handler (a record that can never
    succeed); the queue's redrive after maxReceiveCount is SQS's own move, not a SendMessage."""
    deny = _deny_senders(synthesized, "DeadLetterQueue")
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", {"AWS": "*"}, "sqs:SendMessage")
    condition = deny["Condition"]["ArnNotEquals"]
    assert _logical_ids(condition["aws:SourceArn"]) == _rule_ids(synthesized)
    assert _logical_id(condition["aws:PrincipalArn"]).startswith("HandlerRole")
    assert _logical_id(deny["Resource"]).startswith("DeadLetterQueue")


def test_test_events_reach_the_queue_only_through_the_test_bus_from_the_operator_role(
    synthesized: Synthesized,
) -> None:
    rule = only(synthesized, names.EVENT_STACK, "AWS::Events::Rule", "SendersTestEvents")["Properties"]
    assert rule["EventPattern"] == {"source": [names.TEST_EVENT_SOURCE]}
    assert _logical_id(rule["EventBusName"]).startswith("SendersTestEventBus")
    (target,) = rule["Targets"]
    assert _logical_id(target["Arn"]).startswith("Queue")
    (policy,) = bus_policies(synthesized, "SendersTestEventBus")
    statement = policy["Properties"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Deny",
        {"AWS": "*"},
        "events:PutEvents",
    )
    condition = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert _logical_id(condition).startswith("SendersOperatorRole")
    outputs = synthesized.raw[names.EVENT_STACK]["Outputs"]
    assert _logical_id(outputs[names.OUT_TEST_EVENT_BUS]["Value"]).startswith("SendersTestEventBus")


def test_the_operator_role_sends_test_events_and_moves_dead_letters_back_and_nothing_else(
    synthesized: Synthesized,
) -> None:
    by_target: dict[str, set[str]] = {}
    for actions, resource in policy_actions(synthesized, names.EVENT_STACK, "SendersOperatorRole"):
        key = next((k for k in ("DeadLetterQueue", "TestEventBus", "Queue") if k in resource), resource)
        by_target.setdefault(key, set()).update(actions)
    assert by_target["Queue"] == {"sqs:SendMessage", "sqs:GetQueueAttributes"}
    assert by_target["TestEventBus"] == {"events:PutEvents"}
    assert "sqs:StartMessageMoveTask" in by_target["DeadLetterQueue"]
    assert "sqs:SendMessage" not in by_target["DeadLetterQueue"]
    assert set(by_target) == {"Queue", "TestEventBus", "DeadLetterQueue"}
    role = only(synthesized, names.EVENT_STACK, "AWS::IAM::Role", "SendersOperatorRole")["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert "root" in json.dumps(trust["Principal"])  # the account's principals that are allowed to assume it
    outputs = synthesized.raw[names.EVENT_STACK]["Outputs"]
    assert _logical_id(outputs[names.OUT_OPERATOR_ROLE_ARN]["Value"]).startswith("SendersOperatorRole")


def bus_policies(synthesized: Synthesized, bus_prefix: str) -> list[dict]:
    """The EventBusPolicy resources of the bus whose logical id starts with ``bus_prefix``."""
    policies = resources(synthesized, names.EVENT_STACK, "AWS::Events::EventBusPolicy").values()
    return [p for p in policies if json.dumps(p["Properties"]["EventBusName"]).find(f'"{bus_prefix}') >= 0]


def test_webhook_events_reach_the_queue_only_through_the_webhook_bus_from_the_app(synthesized: Synthesized) -> None:
    """The app's webhook puts what Buy with Prime delivered on the stack's webhook bus (a fixed
    name EcsStack grants PutEvents on), which takes it from the app's task role alone; its rule
    matches the webhook source exactly and sends to the event queue (webhook_bus.py)."""
    bus = only(synthesized, names.EVENT_STACK, "AWS::Events::EventBus", "WebhookBus")["Properties"]
    assert bus["Name"] == names.WEBHOOK_EVENT_BUS
    rule = only(synthesized, names.EVENT_STACK, "AWS::Events::Rule", "WebhookWebhookEvents")["Properties"]
    assert rule["EventPattern"] == {"source": [names.WEBHOOK_EVENT_SOURCE]}
    assert _logical_id(rule["EventBusName"]).startswith("WebhookBus")
    (target,) = rule["Targets"]
    assert _logical_id(target["Arn"]).startswith("Queue")
    assert _logical_id(target["DeadLetterConfig"]["Arn"]).startswith("DeadLetterQueue")
    (policy,) = bus_policies(synthesized, "WebhookBus")
    statement = policy["Properties"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Deny",
        {"AWS": "*"},
        "events:PutEvents",
    )
    sender = json.dumps(statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    assert "ImportValue" in sender and "TaskRole" in sender  # EcsStack's task role, exported
    outputs = synthesized.raw[names.EVENT_STACK]["Outputs"]
    assert _logical_id(outputs[names.OUT_WEBHOOK_EVENT_BUS]["Value"]).startswith("WebhookBus")


def test_lambda_runs_python_312_from_the_built_asset(synthesized: Synthesized) -> None:
    function = only(synthesized, names.EVENT_STACK, "AWS::Lambda::Function")["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "handler.handler"
    assert function["Architectures"] == ["x86_64"]
    assert function["Timeout"] == 40
    assert "S3Key" in function["Code"]
    environment = function["Environment"]["Variables"]
    assert set(environment) == {
        names.ENV_ANALYTICS_BUCKET,
        names.ENV_DATA_TABLE,
        names.ENV_TOKEN_TABLE,
        names.ENV_BUSINESS_PRODUCT_TABLE,
        names.ENV_DEAD_LETTER_QUEUE_URL,
        names.ENV_EVENT_SOURCE,
        names.ENV_TEST_EVENT_SOURCE,
        names.ENV_WEBHOOK_EVENT_SOURCE,
        names.ENV_CLIENT_SECRET_NAME,
        names.ENV_TOKEN_URL,
        names.ENV_GRAPHQL_URL,
        names.ENV_API_VERSION,
        names.ENV_POWERTOOLS_SERVICE,
        names.ENV_LOG_LEVEL,
    }
    assert environment[names.ENV_CLIENT_SECRET_NAME] == names.CLIENT_SECRET_NAME
    assert environment[names.ENV_POWERTOOLS_SERVICE] == names.EVENT_HANDLER_SERVICE
    assert environment[names.ENV_LOG_LEVEL] == "INFO"
    assert environment[names.ENV_EVENT_SOURCE] == "aws.partner/buywithprime/supadupa-test"  # the bus's, exactly
    assert "DeadLetterQueue" in json.dumps(environment[names.ENV_DEAD_LETTER_QUEUE_URL])
    assert "BusinessProductTable" in json.dumps(environment[names.ENV_BUSINESS_PRODUCT_TABLE])
    assert "LoggingConfig" in function


def test_sqs_event_source_reports_batch_item_failures(synthesized: Synthesized) -> None:
    mapping = only(synthesized, names.EVENT_STACK, "AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert (
        mapping["ScalingConfig"]
        == {"MaximumConcurrency": synthesized.settings.event_max_concurrency}
        == {"MaximumConcurrency": 5}
    )
    assert "Queue" in json.dumps(mapping["EventSourceArn"])


def test_rule_matches_buy_with_prime_events_only_into_the_queue(synthesized: Synthesized) -> None:
    rule = only(synthesized, names.EVENT_STACK, "AWS::Events::Rule", "BuyWithPrimeEvents")["Properties"]
    assert rule["EventBusName"] == "aws.partner/buywithprime/supadupa-test"
    # The subscribed source exactly: no prefix, so aws.partner/buywithprime-evil/x never matches.
    assert rule["EventPattern"] == {"source": ["aws.partner/buywithprime/supadupa-test"]}
    (target,) = rule["Targets"]
    _, _, dlq_id = _queues(synthesized)
    assert target["Arn"]["Fn::GetAtt"][0].startswith("Queue")
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert synthesized.raw[names.EVENT_STACK]["Outputs"][names.OUT_EVENT_BUS_ARN]["Value"] == BUS_ARN


def test_alarm_fires_when_the_dlq_holds_a_message(synthesized: Synthesized) -> None:
    alarm = only(synthesized, names.EVENT_STACK, "AWS::CloudWatch::Alarm", "AlarmsDeadLetterQueue")["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    _, _, dlq_id = _queues(synthesized)
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]


def test_lambda_role_writes_data_reads_and_writes_tokens_reads_the_secret(synthesized: Synthesized) -> None:
    statements = policy_actions(synthesized, names.EVENT_STACK, "HandlerRole")
    by_target: dict[str, set[str]] = {}
    targets = (
        "DataTable",
        "TokenTable",
        "BusinessProductTable",
        names.CLIENT_SECRET_NAME,
        "DeadLetterQueue",
        "Queue",
        "HandlerLogs",
        "AnalyticsBucket",
    )
    for actions, resource in statements:
        key = next((k for k in targets if k in resource), resource)
        by_target.setdefault(key, set()).update(actions)
    assert set(by_target) == set(targets)
    # Resolving a tenant reads one item by its key, nothing else; a poison record is sent to the DLQ.
    assert by_target["BusinessProductTable"] == {"dynamodb:GetItem"}
    assert by_target["DeadLetterQueue"] == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    # Exactly what the handler calls (the review's L2).
    assert by_target["DataTable"] == {"dynamodb:PutItem"}
    assert by_target["AnalyticsBucket"] == {"s3:PutObject"}
    assert by_target["TokenTable"] == {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert by_target[names.CLIENT_SECRET_NAME] == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= by_target["Queue"]
    assert by_target["HandlerLogs"] <= {"logs:CreateLogStream", "logs:PutLogEvents"}
    role = next(
        r for k, r in resources(synthesized, names.EVENT_STACK, "AWS::IAM::Role").items() if k.startswith("HandlerRole")
    )
    assert "ManagedPolicyArns" not in role["Properties"]
