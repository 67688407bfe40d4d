import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from bwp_workshop.errors import ConfigurationError
from bwp_workshop.settings import BWP_PUBLIC_KEY_PEM, Settings, find_project_dir, get_settings, is_placeholder
from bwp_workshop.targets import choose_target

BUS_ARN = "arn:aws:events:us-east-1:123456789012:event-bus/aws.partner/buywithprime/supadupa"


def test_defaults_are_the_local_target_and_the_sandbox_endpoints(isolated_environment: Path) -> None:
    settings = get_settings()
    assert settings.target == "local"
    assert settings.region == "us-east-1"
    assert settings.authorize_url == "http://127.0.0.1:4567/marketplace/authorize"
    assert settings.token_url == "http://127.0.0.1:4567/token"
    assert settings.graphql_url == "http://127.0.0.1:4567/graphql"
    assert settings.public_key == ""  # until the sandbox has written its key
    assert settings.project_dir == isolated_environment
    assert settings.bwp_dir == isolated_environment / ".bwp"
    assert settings.local_aws_endpoint == "http://localhost:4566"


def test_aws_target_defaults_to_the_public_bwp_endpoints(isolated_environment: Path) -> None:
    settings = get_settings(target="aws")
    assert settings.authorize_url == "https://console.buywithprime.amazon.com/marketplace/authorize"
    assert settings.token_url == "https://api.buywithprime.amazon.com/token"
    assert settings.graphql_url == "https://api.buywithprime.amazon.com/graphql"
    assert settings.public_key == BWP_PUBLIC_KEY_PEM


def test_local_target_uses_the_sandbox_key_once_written(isolated_environment: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = get_settings(local_sandbox_port=4999)
    assert choose_target(settings).public_key() == ""  # until the sandbox has written its key
    settings.sandbox_public_key_file.parent.mkdir(parents=True)
    settings.sandbox_public_key_file.write_text(pem)
    assert choose_target(settings).public_key() == pem  # read where it is used, not when read
    assert get_settings(local_sandbox_port=4999).public_key == ""  # reading the settings reads no key file
    assert settings.token_url == "http://127.0.0.1:4999/token"
    assert get_settings(token_url="https://elsewhere.test/token").token_url == "https://elsewhere.test/token"


def test_published_public_key_is_a_p256_key() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(BWP_PUBLIC_KEY_PEM.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"


def test_dotenv_is_read_and_environment_wins(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated_environment / ".env").write_text(
        "BWP_CLIENT_ID=from-dotenv\nBWP_TOKEN_URL=https://token.example.test/token\n"
        f"EVENT_BUS_ARN={BUS_ARN}\nBWP_LOCAL_MOTO_PORT=4999\n"
    )
    monkeypatch.setenv("BWP_TOKEN_URL", "https://env.example.test/token")
    settings = get_settings()
    assert settings.client_id == "from-dotenv"
    assert settings.token_url == "https://env.example.test/token"
    assert settings.event_bus_arn == BUS_ARN
    assert settings.local_moto_port == 4999


def test_region_falls_back_to_aws_region(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    assert get_settings().region == "ca-central-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert get_settings().region == "eu-west-1"
    (isolated_environment / ".env").write_text("BWP_REGION=ap-southeast-2\n")
    assert get_settings().region == "ap-southeast-2"  # the workshop's own setting wins, even from .env


def test_a_relative_state_dir_is_inside_the_project(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BWP_STATE_DIR", "state/here")
    assert get_settings().bwp_dir == isolated_environment / "state" / "here"
    moved = get_settings().model_copy(update={"state_dir": Path("elsewhere")})
    assert moved.bwp_dir == isolated_environment / "elsewhere"


def test_validation_errors_never_echo_the_client_secret() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Settings(target="aws", client_secret=SecretStr("changeme"), local_moto_port=0)
    assert "changeme" not in str(caught.value)


@pytest.mark.parametrize(
    ("pem", "reason"),
    [("not a key", "is not a PEM public key"), ("RSA", "must be an EC P-256 key")],
)
def test_public_key_must_be_a_p256_pem(monkeypatch: pytest.MonkeyPatch, pem: str, reason: str) -> None:
    if pem == "RSA":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        pem = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
    monkeypatch.setenv("BWP_PUBLIC_KEY", pem)
    with pytest.raises(ConfigurationError, match=f"BWP_PUBLIC_KEY: .*{reason}"):
        get_settings()


def test_settings_are_read_afresh_so_a_written_dotenv_is_seen(isolated_environment: Path) -> None:
    assert get_settings().client_id == ""
    (isolated_environment / ".env").write_text("BWP_CLIENT_ID=now-set\n")
    assert get_settings().client_id == "now-set"


def test_project_dir_is_found_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BWP_PROJECT_DIR")
    (tmp_path / "cdk.json").write_text("{}")
    (tmp_path / "pyproject.toml").write_text("")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    assert find_project_dir(notebooks) == tmp_path


@pytest.mark.parametrize("variable", ["BWP_CLIENT_ID", "BWP_CLIENT_SECRET"])
@pytest.mark.parametrize("value", ["changeme", "<your-client-secret>", "xxxxxxxx", "REPLACE_ME", "your-client-id"])
def test_placeholders_are_refused_on_aws_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("BWP_TARGET", "aws")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    message = str(caught.value)
    assert f"{variable} holds a placeholder value on the aws target" in message
    assert f"Set {variable}" in message
    assert ".env" in message


def test_placeholders_are_fine_on_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BWP_CLIENT_SECRET", "changeme")
    assert get_settings().client_secret.get_secret_value() == "changeme"


def test_real_looking_credentials_are_accepted_on_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BWP_TARGET", "aws")
    monkeypatch.setenv("BWP_CLIENT_ID", "amzn1.application-oa2-client.4f0c9e")
    monkeypatch.setenv("BWP_CLIENT_SECRET", "Zq8tW3kL0pV7rT2m")
    settings = get_settings()
    assert settings.require_client_credentials() == ("amzn1.application-oa2-client.4f0c9e", "Zq8tW3kL0pV7rT2m")


@pytest.mark.parametrize(
    ("target", "advice"), [("aws", "approved your app onboarding request"), ("local", "sandbox issues them")]
)
def test_missing_credentials_are_reported_when_needed_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, target: str, advice: str
) -> None:
    monkeypatch.setenv("BWP_TARGET", target)
    monkeypatch.setenv("BWP_CLIENT_ID", "abc123client")
    settings = get_settings()  # empty is allowed until the step that needs them
    with pytest.raises(ConfigurationError) as caught:
        settings.require_client_credentials()
    assert "BWP_CLIENT_SECRET not set" in str(caught.value)
    assert "BWP_CLIENT_ID" not in str(caught.value).split("What to do")[0]
    assert advice in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BWP_TARGET", "staging", "BWP_TARGET"),
        ("BWP_REGION", "mars-1", "BWP_REGION: 'mars-1' is not an AWS region"),
        ("EVENT_BUS_ARN", "arn:aws:events:us-east-1:123456789012:event-bus/default", "EVENT_BUS_ARN: "),
        ("BWP_LOCAL_MOTO_PORT", "70000", "BWP_LOCAL_MOTO_PORT"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    assert expected in str(caught.value)
    assert "What to do:" in str(caught.value)


def test_secret_never_shows_in_repr_or_masked_view() -> None:
    settings = Settings(client_secret=SecretStr("s3cr3t-value-123"))
    assert "s3cr3t-value-123" not in repr(settings)
    assert "s3cr3t-value-123" not in str(settings.masked())
    assert settings.masked()["client_secret"] == "********"
    assert Settings().masked()["client_secret"] == ""


@pytest.mark.parametrize("value", ["changeme", "<client-id>", "${CLIENT_ID}", "...", "todo"])
def test_is_placeholder(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["amzn1.application-oa2-client.abc", "7f3c2a9e", "sandbox-client-1b2c"])
def test_is_not_placeholder(value: str) -> None:
    assert not is_placeholder(value)


def test_a_one_line_public_key_gets_its_line_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BWP_PUBLIC_KEY", BWP_PUBLIC_KEY_PEM.strip().replace("\n", "\\n"))
    assert get_settings().public_key == BWP_PUBLIC_KEY_PEM


def _example_variables() -> set[str]:
    from bwp_workshop.testing.checkout import CHECKOUT

    text = (CHECKOUT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_env_example_documents_every_setting() -> None:
    documented = _example_variables()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = set(alias.choices) if alias is not None else {f"BWP_{name.upper()}"}  # type: ignore[union-attr]
        assert names & documented, f"{sorted(names)} missing from .env.example"


@pytest.mark.parametrize("target", ["local", "aws"])
def test_env_example_as_is_is_a_valid_configuration(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    from bwp_workshop.testing.checkout import CHECKOUT

    (isolated_environment / ".env").write_text((CHECKOUT / ".env.example").read_text())
    monkeypatch.setenv("BWP_TARGET", target)
    settings = get_settings()
    assert settings.target == target
    assert settings.client_id == "" and settings.event_bus_arn == ""


def test_stack_outputs_come_from_the_recorded_file(isolated_environment: Path) -> None:
    from bwp_workshop.outputs import has_stack, load_outputs, stack_output

    settings = get_settings()
    assert load_outputs(settings) == {}
    with pytest.raises(ConfigurationError, match="Deploy InfraStack first"):
        stack_output(settings, "InfraStack", "TokenTableName")
    settings.bwp_dir.mkdir()
    (settings.bwp_dir / "outputs.json").write_text('{"InfraStack": {"TokenTableName": "t-1"}}')
    assert stack_output(settings, "InfraStack", "TokenTableName") == "t-1"
    assert has_stack(settings, "InfraStack") and not has_stack(settings, "EventStack")
    (settings.bwp_dir / "outputs.json").write_text("{")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_outputs(settings)
