"""The OAuth app image's base, pinned by digest, and the one way to move it.

``oauth_app/Dockerfile`` names its base as ``ARG PYTHON_IMAGE=<repository>:<tag>@sha256:<digest>``:
the tag says what it is, the digest (the multi-architecture index's, the same on Docker Hub and
on ECR Public's mirror of the Docker library, where the image build project pulls it) fixes the
bytes. A moved digest changes the image's source tag, so the next deploy builds a new image.

``make base-image`` (``python -m bwp_workshop.stacks.base_image``) reads the tag's current
index digest, with ``docker buildx imagetools inspect`` when Docker runs here, else from the
registry's API (Docker Hub's, anonymous), and writes it into the Dockerfile; ``--check`` only
says whether the pin is current. Nothing here imports the CDK.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

#: The Dockerfile's build argument that names the base image.
ARG = "PYTHON_IMAGE"
_PINNED = re.compile(
    rf"^ARG {ARG}=(?P<repository>[a-z0-9._/-]+):(?P<tag>[A-Za-z0-9._-]+)@(?P<digest>sha256:[0-9a-f]{{64}})$",
    re.MULTILINE,
)
#: Media types of a multi-architecture index (OCI, and Docker's manifest list).
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
REGISTRY = "https://registry-1.docker.io"
TOKEN_URL = "https://auth.docker.io/token"


class BaseImageError(Exception):
    """The Dockerfile's base is not pinned, or the registry did not say the tag's digest."""


@dataclass(frozen=True)
class BaseImage:
    repository: str
    tag: str
    digest: str

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}@{self.digest}"


def dockerfile_path(project_dir: Path) -> Path:
    return project_dir / "oauth_app" / "Dockerfile"


def pinned_base(dockerfile: str) -> BaseImage:
    """The base image the Dockerfile pins; BaseImageError when it names a tag alone."""
    found = _PINNED.search(dockerfile)
    if found is None:
        raise BaseImageError(f"oauth_app/Dockerfile does not pin ARG {ARG}=<repository>:<tag>@sha256:<digest>")
    return BaseImage(**found.groupdict())


def repin(dockerfile: str, digest: str) -> str:
    """``dockerfile`` with its base pinned at ``digest`` (same repository and tag)."""
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise BaseImageError(f"not a sha256 digest: {digest!r}")
    base = pinned_base(dockerfile)
    moved = BaseImage(base.repository, base.tag, digest)
    return _PINNED.sub(lambda _: f"ARG {ARG}={moved.reference}", dockerfile, count=1)


def _hub_name(repository: str) -> str:
    """Docker Hub's name of ``repository`` (official images live under ``library/``)."""
    name = repository.removeprefix("docker.io/")
    return name if "/" in name else f"library/{name}"


def registry_digest(repository: str, tag: str, http: httpx.Client) -> str:
    """The index digest ``repository:tag`` has now, from Docker Hub's registry API (an anonymous
    pull token, then a HEAD of the manifest asking for an index)."""
    name = _hub_name(repository)
    token = http.get(TOKEN_URL, params={"service": "registry.docker.io", "scope": f"repository:{name}:pull"})
    token.raise_for_status()
    answer = http.head(
        f"{REGISTRY}/v2/{name}/manifests/{tag}",
        headers={"Authorization": f"Bearer {token.json()['token']}", "Accept": ", ".join(INDEX_TYPES)},
    )
    answer.raise_for_status()
    media_type = answer.headers.get("content-type", "").split(";")[0]
    digest = answer.headers.get("docker-content-digest", "")
    if media_type not in INDEX_TYPES or not digest.startswith("sha256:"):
        raise BaseImageError(f"{repository}:{tag} is not a multi-architecture index ({media_type or 'no type'})")
    return digest


def imagetools_digest(repository: str, tag: str) -> str:
    """The index digest of ``repository:tag`` as ``docker buildx imagetools inspect`` reads it."""
    run = subprocess.run(
        ["docker", "buildx", "imagetools", "inspect", f"{repository}:{tag}", "--format", "{{json .Manifest}}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if run.returncode != 0:
        raise BaseImageError(f"docker buildx imagetools inspect failed: {run.stderr.strip()[:300]}")
    manifest = json.loads(run.stdout)
    if manifest.get("mediaType") not in INDEX_TYPES:
        raise BaseImageError(f"{repository}:{tag} is not a multi-architecture index ({manifest.get('mediaType')})")
    return str(manifest["digest"])


def current_digest(base: BaseImage) -> str:
    if shutil.which("docker"):
        try:
            return imagetools_digest(base.repository, base.tag)
        except BaseImageError:
            pass  # no buildx or no engine: the registry's API says the same
    with httpx.Client(timeout=30, follow_redirects=True) as http:
        try:
            return registry_digest(base.repository, base.tag, http)
        except httpx.HTTPError as exc:
            raise BaseImageError(f"the registry did not answer ({type(exc).__name__}: {exc})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Move oauth_app/Dockerfile's base image to its tag's current digest.")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--check", action="store_true", help="only say whether the pin is current (exit 1 if not)")
    args = parser.parse_args(argv)
    path = dockerfile_path(args.project_dir)
    text = path.read_text()
    try:
        base = pinned_base(text)
        digest = current_digest(base)
    except BaseImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if digest == base.digest:
        print(f"{base.repository}:{base.tag} is pinned at its current digest {digest}")
        return 0
    if args.check:
        print(f"{base.repository}:{base.tag} moved: pinned {base.digest}, now {digest} (run make base-image)")
        return 1
    path.write_text(repin(text, digest))
    print(
        f"{base.repository}:{base.tag}: {base.digest} -> {digest} "
        "(commit oauth_app/Dockerfile; the next deploy rebuilds the image)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
