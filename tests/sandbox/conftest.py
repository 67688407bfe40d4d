"""Fixtures for the sandbox tests."""

from __future__ import annotations

import pytest

from bwp_workshop.testing.sandbox import SandboxHandle
from tests.sandbox.flow import new_flow
from tests.sandbox.graphql_api import Api


@pytest.fixture
def api(sandbox_app: SandboxHandle) -> Api:
    return Api(new_flow(sandbox_app))
