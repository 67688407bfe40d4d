"""The deployables' environment: one definition (``bwp_workshop.environments``) that the
stacks set on the container and the Lambda, and the local runtime starts the local app and
event runner with."""

from __future__ import annotations

from pathlib import Path

from bwp_workshop import names
from bwp_workshop.environments import app_environment, lambda_environment
from bwp_workshop.settings import BWP_PUBLIC_KEY_PEM, Settings

from .conftest import Synthesized, only, task_container

# --- configuration of the deployables -------------------------------------------------------


def _app_environment(settings: Settings) -> dict[str, str]:
    return app_environment(settings, token_table="t", business_product_table="b", app_base_url="https://app")


def test_public_key_is_passed_only_when_it_is_not_the_published_one(synthesized: Synthesized) -> None:
    settings = synthesized.settings
    assert names.ENV_PUBLIC_KEY not in _app_environment(settings.model_copy(update={"public_key": ""}))
    published = settings.model_copy(update={"public_key": BWP_PUBLIC_KEY_PEM})
    assert names.ENV_PUBLIC_KEY not in _app_environment(published)
    own = "-----BEGIN PUBLIC KEY-----\nsandbox\n-----END PUBLIC KEY-----\n"
    assert _app_environment(settings.model_copy(update={"public_key": own}))[names.ENV_PUBLIC_KEY] == own


def test_lambda_log_level_follows_the_settings(synthesized: Synthesized) -> None:
    debug = synthesized.settings.model_copy(update={"log_level": "DEBUG"})
    environment = lambda_environment(
        debug,
        data_table="d",
        token_table="t",
        business_product_table="b",
        dead_letter_queue_url="q",
        event_source="aws.partner/buywithprime/x",
    )
    assert environment["LOG_LEVEL"] == "DEBUG"


def test_the_handler_accepts_the_source_of_the_partner_bus_it_reads(synthesized: Synthesized) -> None:
    """One owner for the source: the bus's (a partner bus carries only its own source), else
    the configured source name."""
    from bwp_workshop.environments import event_source

    settings = synthesized.settings
    assert event_source(settings) == "aws.partner/buywithprime/supadupa-test"  # the settings' EVENT_BUS_ARN
    other = "arn:aws:events:us-east-1:123456789012:event-bus/aws.partner/buywithprime/other"
    assert event_source(settings, other) == "aws.partner/buywithprime/other"
    unset = settings.model_copy(update={"event_bus_arn": "", "event_source_name": "mine"})
    assert event_source(unset) == "aws.partner/buywithprime/mine"


def test_the_local_runtime_runs_the_deployables_with_the_stacks_environment(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    """The local app and the local event runner get the variables the templates set on the
    container and the Lambda (plus, on local, the client credentials ECS injects from Secrets
    Manager, and what an AWS SDK needs to reach the local AWS)."""
    from bwp_workshop.local import lambda_host
    from bwp_workshop.local.runtime import _APP_BASE_ENVIRONMENT, OAUTH_APP_SERVICE, LocalRuntime
    from bwp_workshop.outputs import write_outputs

    settings = synthesized.settings.model_copy(update={"state_dir": tmp_path / "state"})
    write_outputs(
        settings,
        {
            names.INFRA_STACK: {names.OUT_TOKEN_TABLE: "tokens", names.OUT_BUSINESS_PRODUCT_TABLE: "products"},
            names.EVENT_STACK: {
                names.OUT_DATA_TABLE: "data",
                names.OUT_DLQ_URL: "http://dlq",
                names.OUT_QUEUE_URL: "http://queue",
                names.OUT_QUEUE_ARN: "arn:aws:sqs:us-east-1:123456789012:queue",
                names.OUT_ANALYTICS_BUCKET: "analytics",
            },
        },
    )
    container = {item["Name"] for item in task_container(synthesized)["Environment"]}
    function = only(synthesized, names.EVENT_STACK, "AWS::Lambda::Function")["Properties"]
    (app,) = [spec for spec in LocalRuntime(settings).services() if spec.name == OAUTH_APP_SERVICE]
    local_app = {name for name in app.env if not name.startswith("AWS_")} - set(_APP_BASE_ENVIRONMENT)
    assert local_app - {names.ENV_CLIENT_ID, names.ENV_CLIENT_SECRET, names.ENV_PUBLIC_KEY} == container
    local_lambda = {name for name in lambda_host.lambda_environment(settings) if not name.startswith("AWS_")}
    assert local_lambda == set(function["Environment"]["Variables"])
