"""The target is chosen once from the settings and answers what differs between local and aws."""

from __future__ import annotations

import os

import pytest

from bwp_workshop.settings import Settings
from bwp_workshop.targets import choose_target
from bwp_workshop.targets.aws import AwsTarget
from bwp_workshop.targets.local import LOCAL_ACCOUNT_ID, LocalTarget


def test_the_settings_target_chooses_the_implementation_and_it_holds_those_settings() -> None:
    local = Settings(target="local", local_moto_port=4999)
    aws = Settings(target="aws", region="eu-west-1")
    assert isinstance(choose_target(local), LocalTarget) and choose_target(local).settings is local
    assert isinstance(choose_target(aws), AwsTarget) and choose_target(aws).settings is aws
    assert choose_target(local).name == "local" and choose_target(aws).name == "aws"


def test_local_points_everything_at_moto_and_aws_at_nothing_but_the_region() -> None:
    local = choose_target(Settings(target="local", local_moto_port=4999))
    aws = choose_target(Settings(target="aws", region="eu-west-1"))
    assert local.endpoint_url == "http://localhost:4999" and aws.endpoint_url is None
    assert local.account_id() == LOCAL_ACCOUNT_ID
    caller = {"AWS_PROFILE": "work", "AWS_SESSION_TOKEN": "tok", "HOME": "/h"}
    tool = local.tool_environment(caller)
    assert "AWS_PROFILE" not in tool and "AWS_SESSION_TOKEN" not in tool and tool["HOME"] == "/h"
    assert tool["AWS_ENDPOINT_URL"] == "http://localhost:4999" and tool["AWS_CONFIG_FILE"] == os.devnull
    assert aws.tool_environment(caller) == caller


def test_what_differs_is_answered_by_the_target() -> None:
    local = choose_target(Settings(target="local"))
    aws = choose_target(Settings(target="aws", certificate_arn=""))
    assert (local.requires_https, aws.requires_https) == (False, True)
    assert (local.default_event_route, aws.default_event_route) == ("sandbox", "eventbridge")
    assert (local.redrive_method, aws.redrive_method) == ("copy", "move-task")
    assert (local.analytics_engine, aws.analytics_engine) == ("duckdb", "athena")
    assert (local.tls_front(), aws.tls_front()) == (False, True)
    assert local.availability_zones() == ["us-east-1a", "us-east-1b"] and aws.availability_zones() is None
    assert aws.sandbox() is None and aws.up() == [] and aws.down() == [] and aws.status() == []
    assert aws.local_service_at("127.0.0.1", 4566) is None
    assert local.local_service_at("127.0.0.1", 4566) == "moto"
    assert local.local_service_at("example.com", 4566) is None
    assert local.install_console_url().startswith("http://127.0.0.1:4567/")
    assert aws.install_console_url() == "https://console.buywithprime.amazon.com/"


@pytest.mark.parametrize("target", ["local", "aws"])
def test_the_client_credentials_hint_is_the_targets(target: str) -> None:
    from bwp_workshop.errors import ConfigurationError

    settings = Settings(target=target)
    with pytest.raises(ConfigurationError) as raised:
        settings.require_client_credentials()
    assert raised.value.hint == choose_target(settings).client_credentials_hint()


def test_only_the_local_target_simulates_merchants() -> None:
    from bwp_workshop.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="sandbox exists only on the local target"):
        choose_target(Settings(target="aws")).send_merchant_activity(1, None, 0, 0, 0.0)
