"""The image's base pinned by digest (security review L1), the buildspec keeping that pin, and
the one way to move it (``make base-image``): the Dockerfile rewritten, the registry's answer
read as Docker Hub gives it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bwp_workshop.stacks import base_image
from bwp_workshop.stacks.base_image import BaseImageError, pinned_base, registry_digest, repin
from bwp_workshop.testing.checkout import CHECKOUT

DOCKERFILE = base_image.dockerfile_path(CHECKOUT)
NEW = "sha256:" + "ab" * 32


def test_the_dockerfile_pins_its_base_by_digest_and_builds_every_stage_from_it() -> None:
    text = DOCKERFILE.read_text()
    base = pinned_base(text)
    assert base.repository == "python" and base.tag.startswith("3.12-slim")
    assert len(base.digest) == len("sha256:") + 64
    froms = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert froms and all(line.split()[2] == "${PYTHON_IMAGE}" for line in froms)  # no stage names a tag itself


def test_a_tag_alone_is_not_a_pin() -> None:
    with pytest.raises(BaseImageError, match="does not pin"):
        pinned_base("ARG PYTHON_IMAGE=python:3.12-slim-bookworm\nFROM ${PYTHON_IMAGE}\n")


def test_repin_moves_the_digest_and_nothing_else() -> None:
    text = DOCKERFILE.read_text()
    moved = repin(text, NEW)
    assert pinned_base(moved).digest == NEW
    assert pinned_base(moved).tag == pinned_base(text).tag
    assert moved.replace(NEW, pinned_base(text).digest) == text
    with pytest.raises(BaseImageError, match="not a sha256 digest"):
        repin(text, "latest")


def _registry(content_type: str, digest: str = NEW) -> httpx.Client:
    """Docker Hub's token and registry endpoints as they answer an anonymous pull."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.docker.io":
            assert request.url.params["scope"] == "repository:library/python:pull"
            return httpx.Response(200, json={"token": "anonymous-pull"})
        assert request.method == "HEAD"
        assert request.url.path == "/v2/library/python/manifests/3.12-slim-bookworm"
        assert request.headers["authorization"] == "Bearer anonymous-pull"
        assert "application/vnd.oci.image.index.v1+json" in request.headers["accept"]
        return httpx.Response(200, headers={"content-type": content_type, "docker-content-digest": digest})

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_the_registry_digest_is_the_multi_architecture_index() -> None:
    with _registry("application/vnd.oci.image.index.v1+json") as http:
        assert registry_digest("python", "3.12-slim-bookworm", http) == NEW
    # one platform's manifest is not a pin for every platform
    with (
        _registry("application/vnd.oci.image.manifest.v1+json") as http,
        pytest.raises(BaseImageError, match="not a multi-architecture index"),
    ):
        registry_digest("python", "3.12-slim-bookworm", http)


def test_check_says_whether_the_pin_is_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path
    (project / "oauth_app").mkdir()
    (project / "oauth_app" / "Dockerfile").write_text(DOCKERFILE.read_text())
    current = pinned_base(DOCKERFILE.read_text()).digest
    monkeypatch.setattr(base_image, "current_digest", lambda base: current)
    assert base_image.main(["--project-dir", str(project), "--check"]) == 0
    monkeypatch.setattr(base_image, "current_digest", lambda base: NEW)
    assert base_image.main(["--project-dir", str(project), "--check"]) == 1
    assert "run make base-image" in capsys.readouterr().out
    assert base_image.main(["--project-dir", str(project)]) == 0
    assert pinned_base((project / "oauth_app" / "Dockerfile").read_text()).digest == NEW
