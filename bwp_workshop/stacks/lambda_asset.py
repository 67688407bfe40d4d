"""The event Lambda's deployment folder, built without Docker and cached by its inputs.

The folder holds what the Lambda runtime (Python 3.12 on x86_64) imports: the handler code
from ``lambdas/event_handler/`` (every module there: the entry point ``handler.py`` and the
modules it imports), the light shared part of :mod:`bwp_workshop` (the package's
``__init__``, ``errors``, ``names`` and ``core/``), and the wheels of the handler's
``requirements.lock`` (every package pinned with its hashes, resolved from its
``requirements.txt`` by ``make lock``) for that platform, installed with ``pip --target
--platform manylinux_2_28_x86_64 --only-binary=:all: --require-hashes --no-deps``. Nothing
here imports the CDK, so the event tests can build the folder and run the handler from it
with ``python3.12 -I``.

The folder carries bytecode compiled by Python 3.12 (``__pycache__/*.cpython-312.pyc``,
unchecked-hash pycs: the folder never changes once built), so a cold start on Lambda's
read-only file system does not compile every module it imports. Without a Python 3.12 on this
machine the folder has no bytecode (it still works, its cold start is slower).

Builds are cached under ``BWP_BUILD_DIR`` (default ``<state dir>/build/``): the dependencies by a hash of the
requirements and pip options, the whole folder by a hash of every input file, so a repeated
synth neither runs pip nor copies anything.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import filelock

from ..errors import WorkshopError
from ..settings import Settings

#: The handler folder, relative to the project.
HANDLER_DIR = Path("lambdas") / "event_handler"
#: Files and folders of ``bwp_workshop`` the deployables may import (light: no CDK, Jupyter,
#: pandas): the one list of them. The Lambda's folder bundles them; the OAuth app image copies
#: them beside ``oauth_app/``, and tests/oauth_app/test_image.py holds ``oauth_app/Dockerfile``'s
#: COPY lines and ``.dockerignore`` equal to this list.
SHARED_PACKAGE_PARTS = ("__init__.py", "errors.py", "names.py", "core")
#: The Lambda runtime the wheels are chosen for: Python 3.12 runs on Amazon Linux 2023 (glibc 2.34),
#: so wheels built for glibc 2.28 (DuckDB's) load there as well as manylinux2014 ones.
PIP_PLATFORM_OPTIONS = (
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--only-binary=:all:",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
)
#: Only what the lock names, each file checked against the lock's hashes.
PIP_LOCK_OPTIONS = ("--require-hashes", "--no-deps")
#: The handler folder's requirement files (inputs of the build, not part of the folder).
REQUIREMENTS = frozenset({"requirements.txt", "requirements.lock"})
#: Bump when the layout of the built folder changes, so old cache entries are not reused.
LAYOUT_VERSION = "2"
#: How many built folders (and dependency sets) to keep in the cache.
KEEP_BUILDS = 3

_SKIP_NAMES = {"__pycache__", ".pytest_cache", "tests", ".DS_Store"}
_STAMP = ".bwp-asset-hash"


class LambdaAssetError(WorkshopError):
    """The Lambda's deployment folder could not be built."""


def package_dir() -> Path:
    """The installed ``bwp_workshop`` package folder (the checkout's, in an editable install)."""
    return Path(__file__).resolve().parent.parent


def _files(root: Path, *, bytecode: bool = False) -> Iterator[Path]:
    """Every file below ``root`` (or ``root`` itself), sorted, without tests and (unless
    ``bytecode``) without bytecode caches."""
    if root.is_file():
        yield root
        return
    skip = _SKIP_NAMES - {"__pycache__"} if bytecode else _SKIP_NAMES
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for name in sorted(names):
            if name in skip or (not bytecode and name.endswith((".pyc", ".pyo"))):
                continue
            yield Path(folder) / name


@functools.lru_cache(maxsize=1)
def python312() -> str | None:
    """A Python 3.12 interpreter (the Lambda runtime's version): this one, ``python3.12`` on
    the PATH or one pyenv installed; the interpreter itself, not a version manager's shim.
    pyenv's interpreters are asked before the PATH's: a shim takes about a second to answer."""
    candidates = [sys.executable] if sys.version_info[:2] == (3, 12) else []
    candidates += sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.12*" / "bin" / "python3.12")))
    candidates += [shutil.which("python3.12") or ""]
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12)); print(sys.executable)"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        except OSError:
            continue
        lines = probe.stdout.split()
        if probe.returncode == 0 and lines[:1] == ["True"]:
            return lines[1]
    return None


def _compile(paths: list[Path]) -> None:
    """Bytecode for ``paths`` (files or folders) written by Python 3.12, if there is one."""
    python = python312()
    if python is None or not paths:
        return
    command = [python, "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    result = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise LambdaAssetError(
            f"Python 3.12 could not compile the event Lambda's folder:\n{tail}",
            hint="A module of the handler or its dependencies does not compile on Python 3.12; fix or pin it.",
        )


def _sources(settings: Settings) -> list[tuple[Path, Path]]:
    """(source file, path inside the asset) for the handler code and the shared package."""
    handler_dir = settings.project_dir / HANDLER_DIR
    if not (handler_dir / "handler.py").is_file():
        raise LambdaAssetError(
            f"The event handler is missing: {handler_dir / 'handler.py'} does not exist.",
            hint="Run from the workshop checkout (or set BWP_PROJECT_DIR to it).",
        )
    pairs = [(path, path.relative_to(handler_dir)) for path in _files(handler_dir) if path.name not in REQUIREMENTS]
    package = package_dir()
    for part in SHARED_PACKAGE_PARTS:
        source = package / part
        if source.exists():
            pairs += [(path, Path("bwp_workshop") / path.relative_to(package)) for path in _files(source)]
    return pairs


def _requirements(settings: Settings) -> Path:
    """The lock: every package the folder holds, pinned with its hashes (``make lock``)."""
    path = settings.project_dir / HANDLER_DIR / "requirements.lock"
    if not path.is_file():
        raise LambdaAssetError(
            f"{path} does not exist.", hint="The event handler lists its runtime dependencies there; restore it."
        )
    return path


def _digest(parts: list[bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(len(part).to_bytes(8, "big"))
        sha.update(part)
    return sha.hexdigest()


def dependencies_hash(settings: Settings) -> str:
    """Hash of what decides the installed dependencies: the requirements and pip's options."""
    return _digest(
        [
            LAYOUT_VERSION.encode(),
            _requirements(settings).read_bytes(),
            *(o.encode() for o in PIP_PLATFORM_OPTIONS + PIP_LOCK_OPTIONS),
            b"bytecode-3.12" if python312() else b"no-bytecode",
        ]
    )


def asset_hash(settings: Settings) -> str:
    """Hash of every input of the deployment folder (code, shared package, dependencies)."""
    sources = _sources(settings)
    parts = [dependencies_hash(settings).encode()]
    for source, target in sources:
        parts += [target.as_posix().encode(), source.read_bytes()]
    return _digest(parts)


def _prune(folder: Path, keep: set[str]) -> None:
    """Remove the oldest cache entries in ``folder`` beyond ``KEEP_BUILDS`` (never those in ``keep``)."""
    entries = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[KEEP_BUILDS:]:
        if stale.name not in keep:
            shutil.rmtree(stale, ignore_errors=True)


def _install_dependencies(settings: Settings, cache: Path) -> Path:
    """The handler's dependencies for the Lambda platform, installed once per requirements hash."""
    key = dependencies_hash(settings)[:20]
    target = cache / key
    if (target / _STAMP).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--target",
        str(staging),
        *PIP_PLATFORM_OPTIONS,
        *PIP_LOCK_OPTIONS,
        "-r",
        str(_requirements(settings)),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LambdaAssetError(
            f"pip could not install the event handler's dependencies for Python 3.12 on x86_64:\n{tail}",
            hint=f"Check {_requirements(settings)}: every package must exist as a manylinux x86_64 or "
            "pure-Python wheel, and the package index must be reachable.",
        )
    shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: not importable, not needed
    try:
        _compile([staging])
    except LambdaAssetError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / _STAMP).write_text(key)
    try:
        staging.rename(target)
    except OSError:  # another build finished first
        shutil.rmtree(staging, ignore_errors=True)
    _prune(cache, keep={key})
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def build_lambda_asset(settings: Settings, *, out_dir: Path | None = None) -> Path:
    """Build (or reuse) the event Lambda's deployment folder and return it.

    ``build_lambda_asset(settings)`` builds under ``<build dir>/lambda-asset/<hash>/``;
    ``out_dir=folder`` builds into exactly ``folder``
    (replacing what is there unless it already holds this build). The dependency cache is
    always the settings' build dir.
    """
    digest = asset_hash(settings)
    build_root = settings.build_cache_dir
    target = Path(out_dir) if out_dir is not None else build_root / "lambda-asset" / digest[:20]
    stamp = target / _STAMP
    if stamp.is_file() and stamp.read_text() == digest:
        return target
    build_root.mkdir(parents=True, exist_ok=True)
    # One build at a time per build folder: test workers, two test runs or two kernels sharing
    # it would otherwise replace a folder another one is reading.
    with filelock.FileLock(str(build_root / ".lambda-asset.lock"), timeout=900):
        if stamp.is_file() and stamp.read_text() == digest:
            return target
        return _build(settings, digest, target, out_dir)


def _build(settings: Settings, digest: str, target: Path, out_dir: Path | None) -> Path:
    build_root = settings.build_cache_dir
    dependencies = _install_dependencies(settings, build_root / "lambda-deps")

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    for source in _files(dependencies, bytecode=True):
        if source.name != _STAMP:
            _link_or_copy(source, staging / source.relative_to(dependencies))
    for source, relative in _sources(settings):
        destination = staging / relative
        destination.unlink(missing_ok=True)  # never write through a hard link into the cache
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    _compile([staging / relative for _source, relative in _sources(settings) if relative.suffix == ".py"])
    (staging / _STAMP).write_text(digest)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    if out_dir is None:
        _prune(target.parent, keep={target.name})
    return target
