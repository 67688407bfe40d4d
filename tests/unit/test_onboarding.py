"""The onboarding request on aws: the app's four URLs, HTTPS only (the review's M1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bwp_workshop import names
from bwp_workshop.errors import ConfigurationError
from bwp_workshop.outputs import write_outputs
from bwp_workshop.settings import Settings
from bwp_workshop.steps.registration import onboarding_request


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
