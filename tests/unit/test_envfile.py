from pathlib import Path

from bwp_workshop.envfile import set_env_values, unset_env_values
from bwp_workshop.settings import get_settings


def test_values_are_set_replaced_quoted_when_needed_and_unset(isolated_environment: Path) -> None:
    env = isolated_environment / ".env"
    env.write_text("# keep me\nBWP_INSTALLATION_ID=old\n")
    set_env_values({"BWP_INSTALLATION_ID": "inst-2", "BWP_CLIENT_SECRET": "has space#hash"}, get_settings())
    text = env.read_text()
    assert text.startswith("# keep me\nBWP_INSTALLATION_ID=inst-2\n")
    assert env.stat().st_mode & 0o777 == 0o600
    settings = get_settings()
    assert settings.installation_id == "inst-2"
    assert settings.client_secret.get_secret_value() == "has space#hash"
    unset_env_values(["BWP_CLIENT_SECRET", "NOT_THERE"], settings)
    assert "BWP_CLIENT_SECRET" not in env.read_text()
    assert "# keep me" in env.read_text()
