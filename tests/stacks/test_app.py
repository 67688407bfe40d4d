"""The app's composition from the settings."""

from __future__ import annotations

from pathlib import Path

from bwp_workshop import names

from .conftest import stack_settings, synthesize


def test_without_event_bus_arn_the_app_has_no_event_stack(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path, event_bus_arn="")
    synthesized = synthesize(settings, tmp_path / "cdk.out")
    assert set(synthesized.raw) == {names.INFRA_STACK, names.ECS_STACK}


def test_local_target_needs_no_context_lookup(tmp_path: Path) -> None:
    import json

    synthesize(stack_settings(tmp_path, event_bus_arn=""), tmp_path / "cdk.out")
    manifest = json.loads((tmp_path / "cdk.out" / "manifest.json").read_text())
    assert "missing" not in manifest  # the CLI would look the zones up and write cdk.context.json


def test_the_secret_name_works_as_a_partial_arn() -> None:
    import re

    # Secrets Manager reads "-" plus six characters at the end of a partial ARN as the random
    # suffix of a full ARN; the stacks refer to the secret by partial ARN.
    assert not re.search(r"-[A-Za-z0-9]{6}$", names.CLIENT_SECRET_NAME)
