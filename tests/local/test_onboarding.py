"""The client credentials secret and the partner event bus, through the local AWS; the aws
target's "subscribe first" error through moto in process."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from bwp_workshop import aws, names
from bwp_workshop.deploy import prerequisites
from bwp_workshop.errors import ConfigurationError, SetupError
from bwp_workshop.settings import Settings


def _secret(settings: Settings) -> dict[str, str]:
    value = aws.client("secretsmanager", settings).get_secret_value(SecretId=names.CLIENT_SECRET_NAME)
    return json.loads(value["SecretString"])


def test_client_credentials_are_created_updated_and_deleted(
    local_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    first = local_settings.model_copy(update={"client_id": "id-1", "client_secret": SecretStr("secret-value-1")})
    assert not prerequisites.client_credentials_stored(first)
    arn = prerequisites.store_client_credentials(first)
    assert names.CLIENT_SECRET_NAME in arn
    assert _secret(first) == {"client_id": "id-1", "client_secret": "secret-value-1"}
    secrets = aws.client("secretsmanager", first)
    versions = len(secrets.list_secret_version_ids(SecretId=names.CLIENT_SECRET_NAME)["Versions"])
    assert prerequisites.store_client_credentials(first) == arn  # unchanged: no new version
    assert len(secrets.list_secret_version_ids(SecretId=names.CLIENT_SECRET_NAME)["Versions"]) == versions

    second = first.model_copy(update={"client_secret": SecretStr("secret-value-2")})
    assert prerequisites.store_client_credentials(second) == arn
    assert _secret(second)["client_secret"] == "secret-value-2"
    assert "secret-value" not in caplog.text

    assert prerequisites.delete_client_credentials(second)
    assert not prerequisites.client_credentials_stored(second)
    assert not prerequisites.delete_client_credentials(second)


def test_storing_without_credentials_says_where_they_come_from(local_settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="BWP_CLIENT_ID and BWP_CLIENT_SECRET not set"):
        prerequisites.store_client_credentials(local_settings)


def test_partner_event_bus_is_associated_idempotently(local_settings: Settings) -> None:
    arn = prerequisites.ensure_partner_event_bus(local_settings, "supadupa")
    assert arn == f"arn:aws:events:us-east-1:{aws.LOCAL_ACCOUNT_ID}:event-bus/aws.partner/buywithprime/supadupa"
    assert prerequisites.ensure_partner_event_bus(local_settings, "aws.partner/buywithprime/supadupa") == arn
    events = aws.client("events", local_settings)
    assert events.describe_event_source(Name="aws.partner/buywithprime/supadupa")["State"] == "ACTIVE"
    assert prerequisites.source_name_of_bus(arn) == "aws.partner/buywithprime/supadupa"
    assert prerequisites.delete_partner_event_bus(local_settings, "supadupa")
    assert not prerequisites.delete_partner_event_bus(local_settings, "supadupa")


def test_a_source_the_sandbox_created_is_reused(local_settings: Settings) -> None:
    events = aws.client("events", local_settings)
    events.create_partner_event_source(Name="aws.partner/buywithprime/from-sandbox", Account=aws.LOCAL_ACCOUNT_ID)
    arn = prerequisites.ensure_partner_event_bus(local_settings, "from-sandbox")
    assert events.describe_event_bus(Name="aws.partner/buywithprime/from-sandbox")["Arn"] == arn


@pytest.mark.parametrize("name", ["aws.partner/other/x", "bad name", ""])
def test_a_malformed_source_name_is_refused(local_settings: Settings, name: str) -> None:
    with pytest.raises(SetupError, match="not a Buy with Prime partner event source name"):
        prerequisites.ensure_partner_event_bus(local_settings, name)


def test_on_aws_a_missing_source_says_to_subscribe_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    from bwp_workshop.local import moto_patches
    from bwp_workshop.settings import get_settings

    moto_patches.apply()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        settings = get_settings(target="aws")
        with pytest.raises(SetupError, match="does not exist") as caught:
            prerequisites.ensure_partner_event_bus(settings, "not-subscribed")
        assert "Subscribe first" in caught.value.hint
        assert aws.client("events", settings).list_event_buses()["EventBuses"][0]["Name"] == "default"
