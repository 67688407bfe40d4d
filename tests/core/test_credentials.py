"""The client credentials from Secrets Manager: cached, read again once the cache is older than
``CACHE_SECONDS`` or when asked, so a rotated secret is picked up without a redeploy."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from bwp_workshop.core import credentials
from bwp_workshop.names import CLIENT_SECRET_NAME


def test_a_rotated_secret_is_read_after_the_cache_time_or_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(credentials.time, "monotonic", lambda: now[0])
    credentials.clear_cache()
    with mock_aws():
        secrets = boto3.client("secretsmanager", "us-east-1")
        secrets.create_secret(
            Name=CLIENT_SECRET_NAME, SecretString=json.dumps({"client_id": "c", "client_secret": "old"})
        )
        assert credentials.client_credentials(secrets, CLIENT_SECRET_NAME) == ("c", "old")
        secrets.put_secret_value(
            SecretId=CLIENT_SECRET_NAME, SecretString=json.dumps({"client_id": "c", "client_secret": "new"})
        )
        now[0] += credentials.CACHE_SECONDS - 1
        assert credentials.client_credentials(secrets, CLIENT_SECRET_NAME) == ("c", "old")  # cached
        assert credentials.client_credentials(secrets, CLIENT_SECRET_NAME, refresh=True) == ("c", "new")
        secrets.put_secret_value(
            SecretId=CLIENT_SECRET_NAME, SecretString=json.dumps({"client_id": "c", "client_secret": "newer"})
        )
        now[0] += credentials.CACHE_SECONDS
        assert credentials.client_credentials(secrets, CLIENT_SECRET_NAME) == ("c", "newer")  # aged out
    credentials.clear_cache()
