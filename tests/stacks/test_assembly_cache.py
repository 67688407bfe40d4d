"""The assembly cache with the real CDK app: every setting the app reads while it is built is
part of the cache's key, every module it imports is among the hashed sources, and ``synth``
reuses an assembly until a setting changes, then synthesizes one with the new template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bwp_workshop.deploy import assembly, synth
from bwp_workshop.settings import Settings
from bwp_workshop.testing.checkout import CHECKOUT
from bwp_workshop.testing.environment import clean_environ
from tests.stacks.conftest import stack_settings

#: Settings the app reads that are not in the key because their content is: the checkout
#: (cdk.json, the image's and the Lambda's sources are hashed) and where builds are kept.
LOCATIONS = {"project_dir", "state_dir", "build_dir"}


def test_every_setting_the_app_reads_is_in_the_key(tmp_path: Path) -> None:
    from bwp_workshop.stacks.app import build_app

    read: set[str] = set()
    fields = set(Settings.model_fields)

    class Traced(Settings):
        def __getattribute__(self, name: str) -> Any:
            if name in fields:
                read.add(name)
            return super().__getattribute__(name)

    settings = stack_settings(tmp_path, certificate_arn="", app_domain_name="")
    traced = Traced.model_construct(_fields_set=settings.model_fields_set, **dict(settings))
    read.clear()
    build_app(traced, outdir=tmp_path / "cdk.out")  # built, not synthesized: the settings are read here

    keyed = set(assembly.stack_settings(settings))
    assert read - keyed <= LOCATIONS, f"read by the app but not in the key: {sorted(read - keyed - LOCATIONS)}"
    assert {"event_bus_arn", "lambda_timeout", "token_url", "public_key", "region", "target"} <= read


def test_every_module_the_app_imports_is_hashed() -> None:
    code = (
        "import sys\n"
        "import bwp_workshop.stacks.app\n"
        "import bwp_workshop.aws\n"  # imported inside build_app
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('bwp_workshop'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=clean_environ(), timeout=300
    )
    package = CHECKOUT / "bwp_workshop"
    hashed = {path.relative_to(package) for path in assembly.app_sources(package)}
    for module in result.stdout.split():
        parts = module.split(".")[1:]
        candidates = {Path(*parts, "__init__.py") if parts else Path("__init__.py")}
        if parts:
            candidates.add(Path(*parts).with_suffix(".py"))
        assert candidates & hashed, f"{module} is imported by the app but its source is not in the key"


def test_synth_reuses_the_assembly_until_a_setting_changes(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path)
    first = synth(settings)
    stamp = first / ".bwp-assembly.json"
    written = stamp.stat().st_mtime_ns

    again = synth(stack_settings(tmp_path))
    assert again == first
    assert stamp.stat().st_mtime_ns == written  # not synthesized again

    longer = synth(stack_settings(tmp_path, lambda_timeout=settings.lambda_timeout + 5))
    assert longer != first

    def timeout(folder: Path) -> int:
        template = json.loads((folder / "EventStack.template.json").read_text())
        (function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
        return int(function["Properties"]["Timeout"])

    assert timeout(first) == settings.lambda_timeout
    assert timeout(longer) == settings.lambda_timeout + 5
    assert synth(settings) == first
