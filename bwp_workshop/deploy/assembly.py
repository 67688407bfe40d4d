"""The cloud assembly cache: the CDK app is synthesized once per change of what shapes its
templates, and ``diff``, ``deploy`` and ``destroy`` hand the cached assembly to the CLI.

An assembly is kept under ``<state dir>/cdk.out/<key>/``, where the key is a hash of every
input that can change a template (:func:`assembly_inputs`):

- the source of every ``bwp_workshop`` module the CDK app imports, found by reading the
  imports from ``stacks/app.py`` on (so ``environments.py``, ``names.py``, ``settings.py``,
  ``core/verification.py`` and the stacks themselves), and the project's ``cdk.json``;
- the settings that feed the stacks: every setting except those in :data:`NOT_IN_TEMPLATES`
  (so a setting added later is part of the key until it is listed there);
- the OAuth app image's tag (a hash of the image's sources unless ``BWP_IMAGE_TAG`` is set) and,
  when EventStack is part of the app, the Lambda asset's hash;
- the versions of aws-cdk-lib, constructs, jsii, cdk-nag and the installed cdk CLI, and the
  ``CDK_*`` variables of the environment;
- the target and region (settings like any other).

A hit returns the folder without importing the CDK. ``BWP_ASSEMBLY_CACHE=false`` (or
``--no-cache`` on the CLI, ``cache=False`` in Python) synthesizes afresh into
``<state dir>/cdk.out/uncached/`` and neither reads nor writes the cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ..settings import Settings
from ..targets import choose_target

#: Bump when what an assembly folder holds changes, so old entries are not reused.
FORMAT = "1"
#: How many assemblies to keep (the workshop makes two: without and with EventStack).
KEEP = 4
#: Settings that shape no template: where state and builds live (their content is hashed
#: where it matters), the client credentials (deploy writes them to Secrets Manager; the
#: templates name the secret only), the installation used in API examples, the local
#: processes' other ports and waits, and this cache's switch.
NOT_IN_TEMPLATES = frozenset(
    {
        "project_dir",
        "state_dir",
        "build_dir",
        "client_id",
        "client_secret",
        "installation_id",
        "local_moto_port",
        "local_app_port",
        "local_event_runner_port",
        "local_ready_timeout",
        "local_event_retry_after",
        "local_alarm_minute",
        "assembly_cache",
        "event_destination",  # the stacks carry both destinations' parts whichever is chosen
    }
)
#: Python distributions whose version can change what the app synthesizes.
DISTRIBUTIONS = ("aws-cdk-lib", "constructs", "jsii", "cdk-nag")
#: The module the cdk CLI runs (cdk.json) and ``synth`` builds in process.
APP_MODULE = Path("stacks") / "app.py"
#: Packages whose modules never shape a template: the run-time side of the targets (the steps,
#: the local runtime, the sandbox, the notebooks, the CLI and the deploy commands). A target
#: reaches them only from methods the CDK app does not call, so the walk does not follow them.
RUNTIME_PACKAGES = frozenset({"cli", "deploy", "local", "notebook", "sandbox", "steps", "testing"})
#: Where the cached assemblies are, under the state folder.
CACHE_FOLDER = "cdk.out"
UNCACHED = "uncached"
_STAMP = ".bwp-assembly.json"


def package_dir() -> Path:
    """The ``bwp_workshop`` package folder whose sources the app is built from."""
    return Path(__file__).resolve().parent.parent


def app_sources(package: Path | None = None) -> list[Path]:
    """Every module of the package the CDK app imports, directly or not (imports inside
    functions too), and the packages' ``__init__`` files on the way; sorted."""
    package = package or package_dir()
    seen: set[Path] = set()
    todo = [package / APP_MODULE]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        todo += _package_inits(package, path)
        todo += _imported(package, path)
    return sorted(seen)


def _package_inits(package: Path, path: Path) -> list[Path]:
    """The ``__init__.py`` of each package from ``package`` down to ``path``'s folder."""
    inits = []
    folder = path.parent
    while folder == package or package in folder.parents:
        inits.append(folder / "__init__.py")
        folder = folder.parent
    return inits


def _imported(package: Path, path: Path) -> list[Path]:
    """The package's modules that ``path`` imports (absolute ``bwp_workshop.`` or relative)."""
    here = path.parent.relative_to(package).parts
    found = []
    for parts in _imported_names(package.name, here, path.read_bytes()):
        found += _module_files(package, list(parts))
    return found


@functools.lru_cache(maxsize=1024)
def _imported_names(package: str, here: tuple[str, ...], source: bytes) -> tuple[tuple[str, ...], ...]:
    """What ``source`` (a module in the folder ``here`` of the package) imports from the
    package, as module names within it (each may be a module, a package or a name in one):
    parsed once per process and content."""
    names: list[tuple[str, ...]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - node.level + 1]) if node.level > 1 else list(here)
                if node.level - 1 > len(here):
                    continue
                module = base + (node.module.split(".") if node.module else [])
            else:
                module = (node.module or "").split(".")
            # ``from x import y``: y may be a module of package x, or a name in x.
            modules = [module] + [[*module, alias.name] for alias in node.names]
        else:
            continue
        relative = isinstance(node, ast.ImportFrom) and node.level > 0
        for parts in modules:
            if not relative:
                if not parts or parts[0] != package:
                    continue
                parts = parts[1:]
            names.append(tuple(parts))
    return tuple(names)


def _module_files(package: Path, parts: list[str]) -> list[Path]:
    if parts and parts[0] in RUNTIME_PACKAGES:
        return []
    target = package.joinpath(*parts) if parts else package
    return [candidate for candidate in (target.with_suffix(".py"), target / "__init__.py") if candidate.is_file()]


def _digest_files(paths: list[Path], root: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        for part in (path.relative_to(root).as_posix().encode(), path.read_bytes()):
            sha.update(len(part).to_bytes(8, "big"))
            sha.update(part)
    return sha.hexdigest()


def _short_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def stack_settings(settings: Settings) -> dict[str, Any]:
    """The settings that feed the stacks, as JSON values (a secret or a key as its hash)."""
    values: dict[str, Any] = {}
    for name in sorted(type(settings).model_fields):
        if name in NOT_IN_TEMPLATES:
            continue
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = _short_hash(value.get_secret_value())
        elif name == "public_key":  # the key the stacks are given: on local, the sandbox's file
            value = _short_hash(choose_target(settings).public_key())
        elif isinstance(value, Path):
            value = str(value)
        values[name] = value
    return values


def versions(settings: Settings) -> dict[str, str]:
    """aws-cdk-lib, constructs, jsii and cdk-nag as installed, and the installed cdk CLI."""
    found = {}
    for name in DISTRIBUTIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    cli = settings.project_dir / "node_modules" / "aws-cdk" / "package.json"
    try:
        found["aws-cdk (CLI)"] = str(json.loads(cli.read_text())["version"])
    except (OSError, ValueError, KeyError):
        found["aws-cdk (CLI)"] = "missing"
    found["python"] = ".".join(map(str, sys.version_info[:2]))
    return found


def assembly_inputs(settings: Settings) -> dict[str, Any]:
    """Everything an assembly's templates depend on (no secret in clear): the key's inputs."""
    from ..stacks.image_tag import image_tag
    from ..stacks.lambda_asset import asset_hash

    package = package_dir()
    cdk_json = settings.project_dir / "cdk.json"
    return {
        "format": FORMAT,
        "app_sources": _digest_files(app_sources(package), package),
        "cdk.json": _digest_files([cdk_json], cdk_json.parent) if cdk_json.is_file() else "missing",
        "settings": stack_settings(settings),
        "image_tag": image_tag(settings),
        "lambda_asset": asset_hash(settings) if settings.event_bus_arn else None,
        "versions": versions(settings),
        "environment": {name: value for name, value in sorted(os.environ.items()) if name.startswith("CDK_")},
    }


def assembly_key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def cache_root(settings: Settings) -> Path:
    """The folder holding the cached assemblies: ``<state dir>/cdk.out``."""
    return settings.bwp_dir / CACHE_FOLDER


def cached(settings: Settings) -> Path | None:
    """The cached assembly for ``settings`` as they are now, or None."""
    inputs = assembly_inputs(settings)
    key = assembly_key(inputs)
    folder = cache_root(settings) / key[:24]
    return folder if _stamp_key(folder) == key else None


def _stamp_key(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / _STAMP).read_text())["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def assembly(settings: Settings, build: Callable[[Path], None], *, cache: bool | None = None) -> Path:
    """The cloud assembly for ``settings``: the cached one when its key matches, else one
    ``build(folder)`` writes (kept only once complete). ``cache`` (default: the setting
    ``BWP_ASSEMBLY_CACHE``) False builds into ``uncached/`` and leaves the cache alone."""
    root = cache_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    if not (settings.assembly_cache if cache is None else cache):
        out = root / UNCACHED
        shutil.rmtree(out, ignore_errors=True)
        build(out)
        return out
    inputs = assembly_inputs(settings)
    key = assembly_key(inputs)
    out = root / key[:24]
    if _stamp_key(out) == key:
        os.utime(out)  # recently used: pruned last
        return out
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=root))
    try:
        build(staging)
        (staging / _STAMP).write_text(json.dumps({"key": key, "inputs": inputs}, indent=2, sort_keys=True))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(root, keep=out.name)
    return out


def _prune(root: Path, keep: str) -> None:
    """Remove the least recently used assemblies beyond :data:`KEEP`, and whatever else is
    in the folder (an assembly of the old single-folder layout, an interrupted build)."""
    entries = sorted(root.iterdir(), key=lambda path: path.stat().st_mtime, reverse=True)
    kept = 0
    for entry in entries:
        if entry.name == keep or (entry.is_dir() and _stamp_key(entry) and kept < KEEP - 1):
            kept += entry.name != keep
            continue
        if entry.name == UNCACHED:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def prune_assets(out: Path) -> None:
    """Remove staged assets no stack of the assembly refers to (a Lambda asset is ~50 MB)."""
    used: set[str] = set()
    for manifest in out.glob("*.assets.json"):
        text = manifest.read_text()
        used.update(re.findall(r'"path":\s*"(asset\.[^"]+)"', text))
    for staged in out.glob("asset.*"):
        if staged.name not in used:
            if staged.is_dir():
                shutil.rmtree(staged, ignore_errors=True)
            else:
                staged.unlink(missing_ok=True)
