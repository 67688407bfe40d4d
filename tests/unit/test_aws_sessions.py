import subprocess
import sys

import pytest

from bwp_workshop import aws
from bwp_workshop.errors import CredentialsError
from bwp_workshop.settings import Settings, get_settings


def test_local_clients_talk_to_moto_with_dummy_credentials() -> None:
    settings = Settings(local_moto_port=4999, region="eu-central-1")
    dynamodb = aws.client("dynamodb", settings)
    assert dynamodb.meta.endpoint_url == "http://localhost:4999"
    assert dynamodb.meta.region_name == "eu-central-1"
    credentials = aws.session(settings).get_credentials()
    assert credentials.access_key == "testing"
    assert aws.account_id(settings) == aws.LOCAL_ACCOUNT_ID


def test_clients_are_cached_per_target_region_and_endpoint() -> None:
    settings = Settings(local_moto_port=4999)
    assert aws.client("sqs", settings) is aws.client("sqs", settings)
    assert aws.client("sqs", settings) is not aws.client("sqs", Settings(local_moto_port=5001))
    assert aws.client("sqs", settings) is not aws.client("sqs", Settings(local_moto_port=4999, region="us-west-2"))


def test_resource_uses_the_target_endpoint() -> None:
    table = aws.resource("dynamodb", Settings(local_moto_port=4999)).Table("tokens")
    assert table.meta.client.meta.endpoint_url == "http://localhost:4999"


def test_aws_target_without_credentials_says_how_to_sign_in() -> None:
    with pytest.raises(CredentialsError) as caught:
        aws.client("sts", Settings(target="aws"))
    message = str(caught.value)
    assert "No AWS credentials found for the aws target" in message
    assert "aws sso login" in message
    assert "BWP_TARGET=local" in message


def test_aws_target_uses_the_normal_credential_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    monkeypatch.setenv("BWP_TARGET", "aws")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    client = aws.client("dynamodb", get_settings())
    assert client.meta.endpoint_url == "https://dynamodb.us-west-2.amazonaws.com"
    assert aws.session(get_settings()).get_credentials().access_key == "AKIAEXAMPLEEXAMPLE00"


USER_SHELL = {"AWS_PROFILE": "work", "AWS_SESSION_TOKEN": "tok", "AWS_ENDPOINT_URL_S3": "http://x", "HOME": "/h"}


def test_subprocess_environment_isolates_local_tools_from_the_users_aws_setup() -> None:
    local = aws.subprocess_environment(Settings(local_moto_port=4999), base=USER_SHELL)
    assert local["AWS_ENDPOINT_URL"] == "http://localhost:4999"
    assert local["AWS_ACCESS_KEY_ID"] == "testing"
    assert local["HOME"] == "/h"
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"} & set(local)


def test_subprocess_environment_keeps_the_users_credential_chain_on_aws() -> None:
    remote = aws.subprocess_environment(Settings(target="aws", region="eu-west-1"), base=USER_SHELL)
    assert remote == {**USER_SHELL, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}


def test_local_clients_ignore_a_profile_from_the_users_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00")
    client = aws.client("sqs", Settings(local_moto_port=4999))
    assert client._request_signer._credentials.access_key == "testing"


def test_importing_the_package_creates_no_client_and_loads_no_heavy_library() -> None:
    probe = (
        "import sys, gc, botocore.client\n"
        "import bwp_workshop, bwp_workshop.aws, bwp_workshop.settings, bwp_workshop.cli\n"
        "import bwp_workshop.local.runtime\n"
        "clients = [o for o in gc.get_objects() if isinstance(o, botocore.client.BaseClient)]\n"
        "heavy = sorted(m for m in ('pandas', 'aws_cdk', 'jupyter_client', 'IPython', 'moto') if m in sys.modules)\n"
        "print(len(clients), heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 []"


def test_preflight_on_aws_without_credentials_says_how_to_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from bwp_workshop.steps.preflight import check_target

    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    aws.clear_cache()
    check = check_target(Settings(target="aws", region="eu-west-1"))
    assert check.name == "AWS credentials" and not check.ok
    assert "AWS_PROFILE does not exist" in check.detail and "aws sso login" in check.hint
    assert check.hint == aws.SIGN_IN_HINT


def test_sessions_share_one_model_loader_whose_folders_do_not_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every session reads the service models through one loader (a client's model is parsed
    once per process), and the folders boto3 adds for each new session are listed once."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    loaders, paths = [], []
    for target in ("local", "aws", "local"):
        aws.clear_cache()
        session = aws.session(Settings(target=target))  # type: ignore[call-arg]
        loader = session._session.get_component("data_loader")
        loaders.append(loader)
        paths.append(list(loader.search_paths))
        session.resource("dynamodb").Table("tokens")  # boto3's resource models are found
    assert loaders[0] is loaders[1] is loaders[2]
    assert paths[0] == paths[1] == paths[2] and len(set(paths[0])) == len(paths[0])
