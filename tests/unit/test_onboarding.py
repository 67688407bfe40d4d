"""The onboarding request on aws: the app's four URLs, HTTPS only (the review's M1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bwp_workshop import names
from bwp_workshop.errors import ConfigurationError
from bwp_workshop.outputs import write_outputs
from bwp_workshop.settings import Settings
from bwp_workshop.steps.registration import approve_onboarding, onboarding_request


def _aws(tmp_path: Path, base_url: str) -> Settings:
    settings = Settings(target="aws", project_dir=tmp_path, state_dir=tmp_path / ".bwp")  # type: ignore[call-arg]
    write_outputs(settings, {names.INFRA_STACK: {names.OUT_APP_BASE_URL: base_url}})
    return settings


def test_an_http_base_url_is_refused_on_aws(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not HTTPS") as refused:
        onboarding_request(_aws(tmp_path, "http://bwp-oauth-123.us-east-1.elb.amazonaws.com"))
    assert "Deploy InfraStack again" in (refused.value.hint or "")


def test_an_https_base_url_gives_the_four_urls(tmp_path: Path) -> None:
    request = onboarding_request(_aws(tmp_path, "https://d111111abcdef8.cloudfront.net"))
    assert request["install URL (OAuth redirect URI)"] == "https://d111111abcdef8.cloudfront.net/install"
    assert request["uninstall URL"] == "https://d111111abcdef8.cloudfront.net/uninstall"


def test_on_aws_the_approval_step_says_what_buy_with_prime_sends_and_where_it_goes(tmp_path: Path) -> None:
    """Notebook 02 calls the same step on both targets: on aws it makes no call and says whether
    the client id and secret Buy with Prime issues are in .env yet, the secret masked."""
    waiting = approve_onboarding(_aws(tmp_path, "https://d111111abcdef8.cloudfront.net"))
    assert waiting["approved by"].startswith("Buy with Prime")
    assert waiting["client id"].startswith("not yet: put BWP_CLIENT_ID")
    approved = _aws(tmp_path, "https://d111111abcdef8.cloudfront.net").model_copy(
        update={"client_id": "amzn1.application-oa2-client.abc", "client_secret": SecretStr("s3cret-value")}
    )
    shown = approve_onboarding(approved)
    assert shown["client id"] == "amzn1.application-oa2-client.abc"
    assert "s3cret-value" not in str(shown) and shown["client secret"].startswith("********")
