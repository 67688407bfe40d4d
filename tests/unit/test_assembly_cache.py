"""The cloud assembly cache (bwp_workshop.deploy.assembly): each kind of input that can change
a template (the app's sources, the settings that feed the stacks, the Lambda asset, the image's
sources, the CDK versions, cdk.json, the target) makes it miss; what shapes no template hits;
the cache can be bypassed. The build here writes a marker assembly and counts its calls (the
real synth is in tests/stacks/test_assembly_cache.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from bwp_workshop.deploy import assembly
from bwp_workshop.settings import Settings, get_settings
from bwp_workshop.stacks import lambda_asset
from bwp_workshop.testing.checkout import CHECKOUT

BUS_ARN = "arn:aws:events:us-east-1:000000000000:event-bus/aws.partner/buywithprime/supadupa-test"
#: Another verification key (model_copy does not validate: any text stands for one here).
OTHER_KEY = "-----BEGIN PUBLIC KEY-----\nanother key\n-----END PUBLIC KEY-----\n"

#: A changed value for every setting that feeds the stacks (every setting not in
#: NOT_IN_TEMPLATES must be here: a test holds the two lists together).
CHANGED = {
    "target": "aws",
    "region": "eu-west-1",
    "event_bus_arn": BUS_ARN.replace("supadupa-test", "other"),
    "event_source_name": "other-source",
    "authorize_url": "https://elsewhere.example/authorize",
    "token_url": "https://elsewhere.example/token",
    "graphql_url": "https://elsewhere.example/graphql",
    "api_version": "2025-01-01",
    "public_key": OTHER_KEY,
    "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
    "token_table_key": "customer",
    "token_key_users": "arn:aws:iam::123456789012:role/notebooks",
    "app_domain_name": "install.example.com",
    "alarm_email": "ops@example.com",
    "image_tag": "v2",
    "lambda_timeout": 31,
    "max_receive_count": 11,
    "event_batch_size": 9,
    "event_batch_window": 2,
    "event_max_concurrency": 6,
    "log_retention_days": 14,
    "log_level": "DEBUG",
    "local_host": "127.0.0.2",
    "local_sandbox_port": 4999,
}
#: Settings that shape no template, each with a changed value: the cache hits.
UNRELATED = {
    "client_id": "another-client",
    "client_secret": SecretStr("another-secret"),
    "installation_id": "inst-2",
    "local_moto_port": 4999,
    "local_app_port": 4998,
    "local_event_runner_port": 4997,
    "local_ready_timeout": 5.0,
    "local_event_retry_after": 0.5,
    "local_alarm_minute": 10.0,
    "event_destination": "webhook",
    "state_dir": None,  # replaced in the test: the same state folder, spelled otherwise
}


class Builds:
    """A build that writes a small assembly and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text(json.dumps({"build": len(self.calls)}))
        self.calls.append(out)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the checkout's inputs (the package too, so a test may edit its sources), a
    cdk CLI's package.json, and the cache reading the copy's package."""
    root = tmp_path / "checkout"
    root.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")
    for name in ("cdk.json", "pyproject.toml", "package.json", ".dockerignore"):
        shutil.copy2(CHECKOUT / name, root / name)
    for folder in ("bwp_workshop", "oauth_app", "lambdas"):
        shutil.copytree(CHECKOUT / folder, root / folder, ignore=ignore)
    cli = root / "node_modules" / "aws-cdk" / "package.json"
    cli.parent.mkdir(parents=True)
    cli.write_text(json.dumps({"name": "aws-cdk", "version": "2.1148.1"}))
    monkeypatch.setattr(assembly, "package_dir", lambda: root / "bwp_workshop")
    monkeypatch.setattr(lambda_asset, "package_dir", lambda: root / "bwp_workshop")
    monkeypatch.setattr(lambda_asset, "python312", lambda: None)  # no process: the unit tier starts none
    monkeypatch.delenv("CDK_CONTEXT_JSON", raising=False)
    return root


@pytest.fixture
def settings(project: Path, tmp_path: Path) -> Settings:
    return Settings(project_dir=project, state_dir=tmp_path / "state", event_bus_arn=BUS_ARN)


def _edit(path: Path, text: str = "\n# changed\n") -> None:
    path.write_text(path.read_text() + text)


def test_an_unchanged_input_hits(settings: Settings) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    again = assembly.assembly(settings, build)
    same_values = Settings(**{name: getattr(settings, name) for name in type(settings).model_fields})
    third = assembly.assembly(same_values, build)

    assert first == again == third
    assert len(build.calls) == 1
    assert json.loads((first / "manifest.json").read_text()) == {"build": 0}
    assert assembly.cached(settings) == first
    assert first.parent == settings.bwp_dir / "cdk.out"


def test_every_setting_that_feeds_the_stacks_is_in_the_key() -> None:
    fields = set(Settings.model_fields)
    assert set(CHANGED) == fields - assembly.NOT_IN_TEMPLATES
    assert set(UNRELATED) | {"project_dir", "build_dir", "assembly_cache"} == set(assembly.NOT_IN_TEMPLATES)


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_a_changed_setting_misses(settings: Settings, name: str) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    changed = settings.model_copy(update={name: CHANGED[name]})

    second = assembly.assembly(changed, build)

    assert second != first
    assert len(build.calls) == 2
    assert assembly.assembly(settings, build) == first  # the first is still cached
    assert len(build.calls) == 2


@pytest.mark.parametrize("name", sorted(UNRELATED))
def test_a_setting_that_shapes_no_template_hits(settings: Settings, name: str) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    value = UNRELATED[name]
    if name == "state_dir":
        value = settings.bwp_dir / ".." / settings.bwp_dir.name
    assert assembly.assembly(settings.model_copy(update={name: value}), build) == first
    assert len(build.calls) == 1


@pytest.mark.parametrize(
    "source",
    [
        "stacks/infra_stack.py",
        "stacks/ecs_stack.py",
        "stacks/event_stack.py",
        "stacks/app.py",
        "stacks/nag.py",
        "targets/local.py",
        "environments.py",
        "names.py",
        "settings.py",
        "aws.py",
        "core/verification.py",
    ],
)
def test_a_changed_source_of_the_app_misses(settings: Settings, project: Path, source: str) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    _edit(project / "bwp_workshop" / source)
    assert assembly.assembly(settings, build) != first
    assert len(build.calls) == 2


@pytest.mark.parametrize(
    "source", ["steps/analytics.py", "steps/image.py", "notebook/cells.py", "local/runtime.py", "cli/stacks.py"]
)
def test_a_changed_module_the_app_does_not_import_hits(settings: Settings, project: Path, source: str) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    _edit(project / "bwp_workshop" / source)
    assert assembly.assembly(settings, build) == first
    assert len(build.calls) == 1


def test_the_app_sources_are_what_stacks_app_imports(project: Path) -> None:
    package = project / "bwp_workshop"
    found = {path.relative_to(package).as_posix() for path in assembly.app_sources(package)}
    assert {
        "__init__.py",
        "stacks/__init__.py",
        "stacks/app.py",
        "stacks/ecs_stack.py",
        "stacks/event_stack.py",
        "stacks/infra_stack.py",
        "stacks/image_tag.py",
        "stacks/lambda_asset.py",
        "stacks/nag.py",
        "targets/__init__.py",
        "targets/local.py",
        "targets/aws.py",
        "environments.py",
        "names.py",
        "settings.py",
        "errors.py",
        "aws.py",  # imported inside a function
        "core/__init__.py",
        "core/verification.py",
    } <= found
    assert not {name for name in found if name.startswith(("steps/", "notebook/", "local/", "cli/", "sandbox/"))}
    # The targets reach those from methods the app does not call; the walk does not follow them.
    assert not {name for name in found if name.startswith("deploy/")}


@pytest.mark.parametrize(
    "source",
    ["lambdas/event_handler/handler.py", "lambdas/event_handler/requirements.lock", "bwp_workshop/core/events.py"],
)
def test_a_changed_lambda_asset_misses(settings: Settings, project: Path, source: str) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    _edit(project / source)
    assert assembly.assembly(settings, build) != first
    assert len(build.calls) == 2


def test_the_lambda_asset_counts_only_when_event_stack_is_in_the_app(settings: Settings, project: Path) -> None:
    build = Builds()
    without_bus = settings.model_copy(update={"event_bus_arn": ""})
    first = assembly.assembly(without_bus, build)
    _edit(project / "lambdas" / "event_handler" / "handler.py")
    assert assembly.assembly(without_bus, build) == first
    assert len(build.calls) == 1


def test_a_changed_image_source_misses_unless_the_tag_is_fixed(settings: Settings, project: Path) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    fixed = settings.model_copy(update={"image_tag": "v1"})
    pinned = assembly.assembly(fixed, build)
    _edit(project / "oauth_app" / "app.py")

    assert assembly.assembly(settings, build) not in {first, pinned}
    assert assembly.assembly(fixed, build) == pinned
    assert len(build.calls) == 3


@pytest.mark.parametrize("distribution", ["aws-cdk-lib", "cdk-nag", "constructs", "jsii"])
def test_another_library_version_misses(settings: Settings, monkeypatch: pytest.MonkeyPatch, distribution: str) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    real = assembly.metadata.version
    monkeypatch.setattr(assembly.metadata, "version", lambda name: "99.0.0" if name == distribution else real(name))
    assert assembly.assembly(settings, build) != first
    assert len(build.calls) == 2


def test_another_cdk_cli_version_misses(settings: Settings, project: Path) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    (project / "node_modules" / "aws-cdk" / "package.json").write_text(json.dumps({"version": "2.1149.0"}))
    assert assembly.assembly(settings, build) != first
    assert len(build.calls) == 2


def test_changed_cdk_context_misses(settings: Settings, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = Builds()
    first = assembly.assembly(settings, build)
    cdk_json = json.loads((project / "cdk.json").read_text())
    cdk_json["context"]["@aws-cdk/core:newStyleStackSynthesis"] = True
    (project / "cdk.json").write_text(json.dumps(cdk_json))
    second = assembly.assembly(settings, build)
    monkeypatch.setenv("CDK_CONTEXT_JSON", json.dumps({"marker": "one"}))
    third = assembly.assembly(settings, build)

    assert len({first, second, third}) == 3
    assert len(build.calls) == 3


def test_the_cache_can_be_bypassed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    build = Builds()
    cached = assembly.assembly(settings, build)
    bypassed = assembly.assembly(settings, build, cache=False)
    again = assembly.assembly(settings, build, cache=False)

    assert bypassed == again == settings.bwp_dir / "cdk.out" / "uncached"
    assert len(build.calls) == 3
    assert json.loads((again / "manifest.json").read_text()) == {"build": 2}

    monkeypatch.setenv("BWP_ASSEMBLY_CACHE", "false")
    monkeypatch.setenv("BWP_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("BWP_PROJECT_DIR", str(settings.project_dir))
    monkeypatch.setenv("EVENT_BUS_ARN", BUS_ARN)
    from_environment = get_settings()
    assert from_environment.assembly_cache is False
    assert assembly.assembly(from_environment, build) == bypassed
    assert len(build.calls) == 4
    assert assembly.cached(settings) == cached  # the cached one is left alone
    assert assembly.assembly(settings, build, cache=True) == cached
    assert len(build.calls) == 4


def test_a_failed_build_caches_nothing(settings: Settings) -> None:
    def broken(out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text("{}")
        raise RuntimeError("synth failed")

    with pytest.raises(RuntimeError, match="synth failed"):
        assembly.assembly(settings, broken)
    assert assembly.cached(settings) is None
    assert not [p for p in (settings.bwp_dir / "cdk.out").iterdir()]
    build = Builds()
    assembly.assembly(settings, build)
    assert len(build.calls) == 1


def test_the_least_recently_used_assemblies_are_pruned(settings: Settings) -> None:
    build = Builds()
    old_layout = settings.bwp_dir / "cdk.out"
    old_layout.mkdir(parents=True)
    (old_layout / "manifest.json").write_text("{}")  # the single-folder layout of before
    (old_layout / "asset.0123").mkdir()
    kept = [assembly.assembly(settings.model_copy(update={"lambda_timeout": t}), build) for t in range(1, 7)]

    left = sorted(p.name for p in old_layout.iterdir())
    assert left == sorted(p.name for p in kept[-assembly.KEEP :])
    assert assembly.cached(settings.model_copy(update={"lambda_timeout": 6})) == kept[-1]


def test_the_stamp_holds_the_inputs_without_secrets(settings: Settings) -> None:
    secret = "cs-a-secret-never-written"
    with_secret = settings.model_copy(update={"client_secret": SecretStr(secret)})
    folder = assembly.assembly(with_secret, Builds())
    stamp = (folder / ".bwp-assembly.json").read_text()
    assert secret not in stamp
    inputs = json.loads(stamp)["inputs"]
    assert inputs["settings"]["lambda_timeout"] == settings.lambda_timeout
    assert inputs["lambda_asset"] == lambda_asset.asset_hash(settings)
    assert set(inputs["versions"]) >= {"aws-cdk-lib", "cdk-nag", "aws-cdk (CLI)"}
